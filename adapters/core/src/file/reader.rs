//! Reading record files one record at a time, from any record boundary.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::{Charset, FileError, Format, Pad, RecordError, RecordFormat, RecordLayout, Terminator};
use crate::xml::{ShiftJisToUtf8, XmlRecordReader};

/// One record read from a file: its number (1-based, header excluded) and its field values in
/// layout order: trailing spaces removed from space-padded fields, digits of zero-padded fields
/// as they stand (an all-blank one is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub number: u64,
    pub fields: Vec<String>,
}

/// Reads a CSV, fixed-length or XML file from a record boundary. It holds one record at a time.
/// An XML record's fields are the layout's field names looked up below the record element
/// ([`crate::xml::XmlElement::lookup`]); XML resumes by record count, re-parsing what came before.
///
/// A record that does not decode or does not fit the layout is an `Err` item naming the field;
/// reading goes on with the next record whenever the framing allows it (a line terminator to
/// resynchronise on). A file that ends inside a record yields that as the last, failed, item.
#[derive(Debug)]
pub struct RecordReader {
    name: String,
    charset: Charset,
    layout: RecordLayout,
    inner: Inner,
    /// Byte offset just after the last record handed out.
    offset: u64,
    /// Records handed out (good or bad), header excluded.
    records: u64,
    finished: bool,
}

#[derive(Debug)]
enum Inner {
    Csv {
        reader: csv::Reader<File>,
        base: u64,
        record: csv::ByteRecord,
        /// Whether the file's last byte ends a line; if not, its last record is cut off.
        ends_with_terminator: bool,
        len: u64,
    },
    Fixed {
        reader: BufReader<File>,
        width: usize,
        terminator: Terminator,
        line: Vec<u8>,
    },
    Xml {
        reader: Box<XmlRecordReader<XmlInput>>,
    },
}

/// An XML file as UTF-8, transcoded from Shift_JIS as it is read when need be.
#[derive(Debug)]
enum XmlInput {
    Utf8(BufReader<File>),
    ShiftJis(ShiftJisToUtf8<File>),
}

impl Read for XmlInput {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            XmlInput::Utf8(r) => r.read(buf),
            XmlInput::ShiftJis(r) => r.read(buf),
        }
    }
}

impl BufRead for XmlInput {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        match self {
            XmlInput::Utf8(r) => r.fill_buf(),
            XmlInput::ShiftJis(r) => r.fill_buf(),
        }
    }

    fn consume(&mut self, amt: usize) {
        match self {
            XmlInput::Utf8(r) => r.consume(amt),
            XmlInput::ShiftJis(r) => r.consume(amt),
        }
    }
}

const MAX_CSV_RECORD: usize = 1 << 20;

impl RecordReader {
    /// Open `path` (called `name` in errors) and position it at `offset`, a record boundary a
    /// previous reader reported, after `records` records.
    pub fn open(
        path: &Path,
        name: &str,
        format: &RecordFormat,
        layout: &RecordLayout,
        offset: u64,
        records: u64,
    ) -> Result<Self, FileError> {
        format.validate().map_err(FileError::Config)?;
        let mut file = File::open(path).map_err(FileError::io(path, "open"))?;
        let len = file.metadata().map_err(FileError::io(path, "stat"))?.len();
        if offset > len && format.format != Format::Xml {
            return Err(FileError::Refused {
                file: name.to_owned(),
                reason: format!("resume offset {offset} is past the end ({len} bytes): the file changed"),
            });
        }
        let inner = match format.format {
            Format::Fixed => {
                let width = layout.fixed_width().map_err(FileError::Config)?;
                file.seek(SeekFrom::Start(offset)).map_err(FileError::io(path, "seek"))?;
                Inner::Fixed {
                    reader: BufReader::with_capacity(256 * 1024, file),
                    width,
                    terminator: format.terminator,
                    line: Vec::with_capacity(width + 2),
                }
            }
            Format::Csv => {
                let ends_with_terminator = if len == 0 {
                    true
                } else {
                    let mut last = [0u8];
                    file.seek(SeekFrom::Start(len - 1)).map_err(FileError::io(path, "seek"))?;
                    file.read_exact(&mut last).map_err(FileError::io(path, "read"))?;
                    last[0] == b'\n' || last[0] == b'\r'
                };
                file.seek(SeekFrom::Start(offset)).map_err(FileError::io(path, "seek"))?;
                let reader = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .buffer_capacity(256 * 1024)
                    .from_reader(file);
                Inner::Csv { reader, base: offset, record: csv::ByteRecord::new(), ends_with_terminator, len }
            }
            Format::Xml => {
                let input = match format.charset {
                    Charset::Utf8 => XmlInput::Utf8(BufReader::with_capacity(256 * 1024, file)),
                    // validate() refused JIS X 0208 above.
                    charset => XmlInput::ShiftJis(ShiftJisToUtf8::new(file, charset)),
                };
                let record_path = format.record_path.as_deref().unwrap_or_default();
                let mut reader = XmlRecordReader::new(input, name, record_path)
                    .map_err(|e| FileError::Config(e.to_string()))?;
                // XML is resumed by record count: the parser needs the enclosing elements, and a
                // Shift_JIS file's offsets differ from those of its UTF-8 stream.
                for _ in 0..records {
                    match reader.next() {
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            return Err(FileError::Refused { file: name.to_owned(), reason: e.to_string() });
                        }
                        None => {
                            return Err(FileError::Refused {
                                file: name.to_owned(),
                                reason: format!(
                                    "resuming after record {records}, but the file has fewer: it changed"
                                ),
                            });
                        }
                    }
                }
                Inner::Xml { reader: Box::new(reader) }
            }
        };
        let mut reader = Self {
            name: name.to_owned(),
            charset: format.charset,
            layout: layout.clone(),
            inner,
            offset,
            records,
            finished: false,
        };
        if format.format == Format::Csv && format.header && offset == 0 {
            reader.check_header()?;
        }
        Ok(reader)
    }

    /// The byte offset after the last record handed out: where a new reader resumes.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Records handed out so far, good or bad, counting those before the resume point.
    pub fn records(&self) -> u64 {
        self.records
    }

    fn check_header(&mut self) -> Result<(), FileError> {
        let refused = |reason: String| FileError::Refused { file: self.name.clone(), reason };
        let Inner::Csv { reader, base, record, .. } = &mut self.inner else { return Ok(()) };
        let got = reader.read_byte_record(record).map_err(|e| refused(format!("header: {e}")))?;
        if !got {
            return Ok(());
        }
        let names: Vec<&str> = self.layout.fields.iter().map(|f| f.name.as_str()).collect();
        for (i, expected) in names.iter().enumerate() {
            let found = record.get(i).map(|b| self.charset.decode(b));
            match found {
                Some(Ok(text)) if text.trim() == *expected => {}
                Some(Ok(text)) => {
                    return Err(refused(format!(
                        "header column {} is {text:?}, the layout says {expected:?}",
                        i + 1
                    )));
                }
                Some(Err(_)) => {
                    return Err(refused(format!("header column {} is not {}", i + 1, self.charset.name())));
                }
                None => {
                    return Err(refused(format!(
                        "header has {} columns, the layout {}",
                        record.len(),
                        names.len()
                    )));
                }
            }
        }
        self.offset = *base + reader.position().byte();
        Ok(())
    }

    fn error(&self, field: Option<usize>, rule: String) -> RecordError {
        RecordError {
            file: self.name.clone(),
            record: self.records,
            field: field.map(|i| self.layout.fields[i].name.clone()),
            rule,
        }
    }

    fn next_csv(&mut self) -> Result<Option<Result<Record, RecordError>>, FileError> {
        let Inner::Csv { reader, base, record, ends_with_terminator, len } = &mut self.inner else {
            return Ok(None);
        };
        let got = reader.read_byte_record(record).map_err(|e| FileError::Refused {
            file: self.name.clone(),
            reason: format!("record {}: {e}", self.records + 1),
        })?;
        if !got {
            return Ok(None);
        }
        self.offset = *base + reader.position().byte();
        self.records += 1;
        if record.as_slice().len() > MAX_CSV_RECORD {
            return Ok(Some(Err(self.error(None, format!("longer than {MAX_CSV_RECORD} bytes")))));
        }
        if self.offset >= *len && !*ends_with_terminator {
            self.finished = true;
            return Ok(Some(Err(self.error(None, "truncated: the file ends inside this record".into()))));
        }
        let expected = self.layout.fields.len();
        let found = record.len();
        if found != expected {
            return Ok(Some(Err(self.error(None, format!("{found} fields, the layout has {expected}")))));
        }
        let mut fields = Vec::with_capacity(expected);
        let record = record.clone();
        for (i, bytes) in record.iter().enumerate() {
            match self.charset.decode(bytes) {
                Ok(text) => fields.push(text.into_owned()),
                Err(at) => return Ok(Some(Err(self.error(Some(i), self.charset.describe_malformed(at))))),
            }
        }
        Ok(Some(Ok(Record { number: self.records, fields })))
    }

    fn next_fixed(&mut self) -> Result<Option<Result<Record, RecordError>>, FileError> {
        let Inner::Fixed { reader, width, terminator, line } = &mut self.inner else { return Ok(None) };
        let (width, terminator) = (*width, *terminator);
        line.clear();
        let expected = width + terminator.bytes().len();
        let read = if terminator == Terminator::None {
            reader.by_ref().take(expected as u64).read_to_end(line)
        } else {
            // Lines bound records, so a record of the wrong length costs only itself.
            reader.by_ref().take(expected as u64 + 1).read_until(b'\n', line)
        }
        .map_err(|e| FileError::Io {
            path: self.name.clone().into(),
            operation: "read",
            source: e,
        })?;
        if read == 0 {
            return Ok(None);
        }
        self.records += 1;
        let mut consumed = read as u64;
        let got = line.len();
        let complete_line = terminator == Terminator::None || line.ends_with(b"\n");
        if !complete_line {
            if got < expected {
                self.offset += consumed;
                self.finished = true;
                return Ok(Some(Err(self.error(
                    None,
                    format!("truncated: {got} of {expected} bytes, the file ends inside this record"),
                ))));
            }
            // Longer than a record: skip to the end of the line to find the next one.
            let mut rest = Vec::new();
            consumed += reader.read_until(b'\n', &mut rest).map_err(|e| FileError::Io {
                path: self.name.clone().into(),
                operation: "read",
                source: e,
            })? as u64;
            self.offset += consumed;
            return Ok(Some(Err(
                self.error(None, format!("longer than the record length of {expected} bytes"))
            )));
        }
        self.offset += consumed;
        if terminator == Terminator::None && got < expected {
            self.finished = true;
            return Ok(Some(Err(self.error(
                None,
                format!("truncated: {got} of {expected} bytes, the file ends inside this record"),
            ))));
        }
        if got != expected || !line.ends_with(terminator.bytes()) {
            return Ok(Some(Err(
                self.error(None, format!("{got} bytes with its terminator, the record length is {expected}"))
            )));
        }
        let line = std::mem::take(line);
        let result = self.split_fixed(&line[..width]);
        if let Inner::Fixed { line: slot, .. } = &mut self.inner {
            *slot = line;
        }
        Ok(Some(result))
    }

    fn split_fixed(&self, bytes: &[u8]) -> Result<Record, RecordError> {
        let mut fields = Vec::with_capacity(self.layout.fields.len());
        let mut start = 0;
        for (i, spec) in self.layout.fields.iter().enumerate() {
            let end = start + spec.width.unwrap_or(0);
            let text = self
                .charset
                .decode(&bytes[start..end])
                .map_err(|at| self.error(Some(i), self.charset.describe_malformed(at)))?;
            let value = match spec.pad {
                Pad::Space => text.trim_end_matches(' '),
                Pad::Ideographic => text.trim_end_matches([' ', '\u{3000}']),
                Pad::Zero => {
                    if text.bytes().all(|b| b == b' ') {
                        ""
                    } else if !text.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(self.error(Some(i), "a zero-padded field holds ASCII digits only".into()));
                    } else {
                        // Leading zeros stay: in codes (宛名番号) they are part of the value.
                        &text
                    }
                }
            };
            fields.push(value.to_owned());
            start = end;
        }
        Ok(Record { number: self.records, fields })
    }
}

impl RecordReader {
    fn next_xml(&mut self) -> Result<Option<Result<Record, RecordError>>, FileError> {
        let Inner::Xml { reader } = &mut self.inner else { return Ok(None) };
        let record = match reader.next() {
            None => return Ok(None),
            Some(Err(e)) => {
                return Err(FileError::Refused { file: self.name.clone(), reason: e.to_string() });
            }
            Some(Ok(record)) => record,
        };
        self.offset = reader.offset();
        self.records = record.number;
        let mut fields = Vec::with_capacity(self.layout.fields.len());
        for (i, spec) in self.layout.fields.iter().enumerate() {
            match record.element.lookup(&spec.name) {
                Some(value) => fields.push(value.to_owned()),
                None => {
                    let at = record.element.position;
                    let rule = format!(
                        "missing in the record that starts at line {}, column {}",
                        at.line, at.column
                    );
                    return Ok(Some(Err(self.error(Some(i), rule))));
                }
            }
        }
        Ok(Some(Ok(Record { number: self.records, fields })))
    }
}

impl Iterator for RecordReader {
    type Item = Result<Result<Record, RecordError>, FileError>;

    /// The next record; the outer `Err` means the file cannot be read on (I/O, broken framing).
    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let next = match self.inner {
            Inner::Csv { .. } => self.next_csv(),
            Inner::Fixed { .. } => self.next_fixed(),
            Inner::Xml { .. } => self.next_xml(),
        };
        match next {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(e) => {
                self.finished = true;
                Some(Err(e))
            }
        }
    }
}
