//! Writing record files: one record at a time, straight to disk.

use std::path::Path;

use super::atomic::{AtomicFile, Written};
use super::{Charset, FileError, Format, Pad, RecordError, RecordFormat, RecordLayout};

/// Writes one CSV or fixed-length file into a system's inbox. A record that breaks a rule is
/// refused whole with a [`RecordError`] (nothing of it reaches the file) and the writer stays
/// usable, so the caller can set the record aside and go on. [`RecordFileWriter::finish`]
/// publishes the file and its completion file; dropping the writer instead leaves nothing.
#[derive(Debug)]
pub struct RecordFileWriter {
    file: AtomicFile,
    format: RecordFormat,
    layout: RecordLayout,
    records: u64,
    /// One encoded record, appended to the file only once the whole record is good.
    record: Vec<u8>,
    /// One encoded field.
    field: Vec<u8>,
}

impl RecordFileWriter {
    /// Start `dir/NAME` (as `dir/.NAME.part`). CSV files with `header` get the field names first.
    pub fn create(
        dir: &Path,
        name: &str,
        format: &RecordFormat,
        layout: &RecordLayout,
    ) -> Result<Self, FileError> {
        format.validate().map_err(FileError::Config)?;
        match format.format {
            Format::Csv => {}
            Format::Fixed => {
                layout.fixed_width().map_err(FileError::Config)?;
            }
            Format::Xml => {
                return Err(FileError::Config("XML files are written with xml::XmlRecordWriter".into()));
            }
        }
        if layout.fields.is_empty() {
            return Err(FileError::Config("the layout has no fields".into()));
        }
        let mut writer = Self {
            file: AtomicFile::create(dir, name)?,
            format: format.clone(),
            layout: layout.clone(),
            records: 0,
            record: Vec::with_capacity(1024),
            field: Vec::with_capacity(256),
        };
        if format.format == Format::Csv && format.header {
            let names: Vec<String> = layout.fields.iter().map(|f| f.name.clone()).collect();
            writer.encode_csv(&names).map_err(|(_, rule)| FileError::Config(format!("header: {rule}")))?;
            writer.file.append(&writer.record)?;
        }
        Ok(writer)
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Append one record: `values` in layout order.
    pub fn write_record<S: AsRef<str>>(&mut self, values: &[S]) -> Result<(), WriteError> {
        let number = self.records + 1;
        if values.len() != self.layout.fields.len() {
            return Err(WriteError::Record(self.error(
                number,
                None,
                format!("{} values for a layout of {} fields", values.len(), self.layout.fields.len()),
            )));
        }
        let encoded = match self.format.format {
            Format::Fixed => self.encode_fixed(values),
            _ => self.encode_csv(values),
        };
        encoded.map_err(|(field, rule)| {
            WriteError::Record(self.error(number, field.map(|i| self.layout.fields[i].name.clone()), rule))
        })?;
        self.file.append(&self.record).map_err(WriteError::File)?;
        self.records = number;
        Ok(())
    }

    /// Publish the file, then its completion file with the record and byte counts.
    pub fn finish(self) -> Result<Written, FileError> {
        self.file.publish(self.records)
    }

    fn error(&self, record: u64, field: Option<String>, rule: String) -> RecordError {
        RecordError { file: self.file.name().to_owned(), record, field, rule }
    }

    fn encode_fixed<S: AsRef<str>>(&mut self, values: &[S]) -> Result<(), (Option<usize>, String)> {
        let charset = self.format.charset;
        self.record.clear();
        for (i, (spec, value)) in self.layout.fields.iter().zip(values).enumerate() {
            let value = value.as_ref();
            let width = spec.width.unwrap_or(0);
            if let Some(c) = value.chars().find(|c| c.is_control()) {
                return Err((
                    Some(i),
                    format!("control character U+{:04X} in a fixed-length field", u32::from(c)),
                ));
            }
            if spec.pad == Pad::Zero && !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err((Some(i), "a zero-padded field takes ASCII digits only".into()));
            }
            self.field.clear();
            charset.encode_into(value, &mut self.field).map_err(|u| (Some(i), u.describe(charset)))?;
            let len = self.field.len();
            if len > width {
                return Err((Some(i), format!("{len} bytes in {}, the field holds {width}", charset.name())));
            }
            let gap = width - len;
            match spec.pad {
                Pad::Zero => {
                    // An empty number is blank, not zero.
                    let fill = if len == 0 { b' ' } else { b'0' };
                    self.record.resize(self.record.len() + gap, fill);
                    self.record.extend_from_slice(&self.field);
                }
                Pad::Space => {
                    self.record.extend_from_slice(&self.field);
                    self.record.resize(self.record.len() + gap, b' ');
                }
                Pad::Ideographic => {
                    self.record.extend_from_slice(&self.field);
                    let space = ideographic_space(charset);
                    for _ in 0..gap / space.len() {
                        self.record.extend_from_slice(space);
                    }
                    self.record.resize(self.record.len() + gap % space.len(), b' ');
                }
            }
        }
        self.record.extend_from_slice(self.format.terminator.bytes());
        Ok(())
    }

    fn encode_csv<S: AsRef<str>>(&mut self, values: &[S]) -> Result<(), (Option<usize>, String)> {
        let charset = self.format.charset;
        self.record.clear();
        for (i, value) in values.iter().enumerate() {
            let value = value.as_ref();
            if i > 0 {
                self.record.push(b',');
            }
            // Quoting decisions are made on the text: in Shift_JIS no trail byte is `,`, `"`,
            // CR or LF, so the encoded bytes need the same quoting.
            let quote =
                value.contains([',', '"', '\r', '\n']) || value.starts_with(' ') || value.ends_with(' ');
            if quote {
                self.record.push(b'"');
            }
            let mut rest = value;
            while !rest.is_empty() {
                let (chunk, tail) = match rest.find('"') {
                    Some(q) if quote => (&rest[..=q], &rest[q + 1..]),
                    _ => (rest, ""),
                };
                charset.encode_into(chunk, &mut self.record).map_err(|u| {
                    let before = value.len() - rest.len();
                    let position = value[..before].chars().count() + u.position;
                    (Some(i), renkei_mappings::NoCode { position, ..u }.describe(charset))
                })?;
                if chunk.ends_with('"') && quote {
                    self.record.push(b'"');
                }
                rest = tail;
            }
            if quote {
                self.record.push(b'"');
            }
        }
        self.record.extend_from_slice(self.format.terminator.bytes());
        Ok(())
    }
}

fn ideographic_space(charset: Charset) -> &'static [u8] {
    match charset {
        Charset::Utf8 => "\u{3000}".as_bytes(),
        Charset::ShiftJis | Charset::Cp932 => b"\x81\x40",
        Charset::JisX0208 => b"\x21\x21",
    }
}

/// Why [`RecordFileWriter::write_record`] did not write: the record is bad (the writer goes on),
/// or the file is (give up on it).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Record(RecordError),
    #[error(transparent)]
    File(FileError),
}
