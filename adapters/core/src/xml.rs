//! Streaming XML records over quick-xml.
//!
//! A record is an element at a configured path (`/Root/Records/Record`). The reader holds one
//! record's subtree at a time — never the document — and every element keeps the line and
//! column where it starts, so an adapter can say where a bad value is.
//!
//! Input may be UTF-8 or Shift_JIS (transcoded as it streams, strictly: a byte that is not
//! Shift_JIS stops the document with its position). After a syntax error nothing more can be
//! trusted, so the reader stops; every record before it has been handed out.

use std::fmt;
use std::io::{self, BufRead, Read};

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use renkei_mappings::Charset;

/// Where something is in the document: 1-based line, and column in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One element of a record: attributes, text (a leaf's exact text; whitespace between child
/// elements is dropped) and children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XmlElement {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<XmlElement>,
    pub position: Position,
}

impl XmlElement {
    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&XmlElement> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child called `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A record element and its number (1-based) in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlRecord {
    pub number: u64,
    pub element: XmlElement,
}

/// A document or record that cannot be read or written, with where and which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{position}: {}{rule}", record.map(|r| format!("record {r}: ")).unwrap_or_default())]
pub struct XmlError {
    pub kind: XmlErrorKind,
    /// The file or system the document came from.
    pub source_name: String,
    pub position: Position,
    pub record: Option<u64>,
    /// The element path within the record (`Record/Shimei`), when one is to blame.
    pub field: Option<String>,
    pub rule: String,
}

/// What kind of fault an [`XmlError`] is, for callers that answer each differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlErrorKind {
    /// Not well-formed XML: bad syntax, mismatched or missing end tags, an undefined entity, a
    /// truncated document.
    Syntax,
    /// Bytes that are not valid in the document's character set (UTF-8 or Shift_JIS).
    Encoding,
    /// A record or the document is larger than the configured limit.
    TooLarge,
    /// The writer cannot write a record (a value the charset cannot carry, a misnamed record),
    /// or the record path is unusable.
    Refused,
    /// Reading or writing the underlying file failed.
    Io,
}

/// Reads the records of one document, streaming.
#[derive(Debug)]
pub struct XmlRecordReader<R: BufRead> {
    reader: quick_xml::Reader<Counting<R>>,
    source_name: String,
    path: Vec<String>,
    /// Names of the open elements above the current point (outside records).
    open: Vec<String>,
    buf: Vec<u8>,
    records: u64,
    max_record_bytes: u64,
    max_document_bytes: u64,
    done: bool,
}

/// Records above this size are refused: a broken or hostile document must not fill memory.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 1 << 20;

/// Documents above this size are refused (counted in UTF-8 bytes, after any transcoding).
pub const DEFAULT_MAX_DOCUMENT_BYTES: u64 = 1 << 30;

impl<R: BufRead> XmlRecordReader<R> {
    /// `record_path` is `/Root/Record`: the element names from the root down to the record.
    pub fn new(input: R, source_name: &str, record_path: &str) -> Result<Self, XmlError> {
        let path: Vec<String> = record_path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        if path.is_empty() {
            return Err(XmlError {
                kind: XmlErrorKind::Refused,
                source_name: source_name.to_owned(),
                position: Position::default(),
                record: None,
                field: None,
                rule: format!("record path {record_path:?} names no element"),
            });
        }
        let mut reader = quick_xml::Reader::from_reader(Counting::new(input));
        reader.config_mut().check_end_names = true;
        Ok(Self {
            reader,
            source_name: source_name.to_owned(),
            path,
            open: Vec::new(),
            buf: Vec::new(),
            records: 0,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
            done: false,
        })
    }

    /// Bytes of (UTF-8) input consumed so far.
    pub fn offset(&self) -> u64 {
        self.reader.get_ref().position().offset
    }

    pub fn with_max_record_bytes(mut self, max: u64) -> Self {
        self.max_record_bytes = max;
        self
    }

    /// Refuse the document once more than `max` bytes of it have been read: a record that
    /// ends past the limit is not handed out.
    pub fn with_max_document_bytes(mut self, max: u64) -> Self {
        self.max_document_bytes = max;
        self
    }

    fn error(&self, kind: XmlErrorKind, position: Position, record: Option<u64>, rule: String) -> XmlError {
        XmlError { kind, source_name: self.source_name.clone(), position, record, field: None, rule }
    }

    fn check_document_size(&self, at: At, record: Option<u64>) -> Result<(), XmlError> {
        if at.offset > self.max_document_bytes {
            let rule = format!("the document is longer than {} bytes", self.max_document_bytes);
            return Err(self.error(XmlErrorKind::TooLarge, at.into(), record, rule));
        }
        Ok(())
    }

    fn next_record(&mut self) -> Result<Option<XmlRecord>, XmlError> {
        loop {
            let at = self.reader.get_ref().position();
            self.check_document_size(at, None)?;
            self.buf.clear();
            let event = self
                .reader
                .read_event_into(&mut self.buf)
                .map_err(|e| syntax(&self.source_name, at, None, e))?;
            let has_content = matches!(event, Event::Start(_));
            match event {
                Event::Start(start) | Event::Empty(start) if is_record(&self.open, &self.path, &start) => {
                    let element =
                        element_head(&start, at).map_err(|e| syntax(&self.source_name, at, None, e))?;
                    self.records += 1;
                    let element = if has_content { self.read_subtree(element, at.offset)? } else { element };
                    return Ok(Some(XmlRecord { number: self.records, element }));
                }
                Event::Start(start) => self.open.push(start.name().as_ref().to_owned()),
                Event::End(_) => {
                    self.open.pop();
                }
                Event::Eof => {
                    if let Some(open) = self.open.last() {
                        let rule = format!("the document ends inside <{open}> (truncated?)");
                        return Err(self.error(XmlErrorKind::Syntax, at.into(), None, rule));
                    }
                    return Ok(None);
                }
                _ => {}
            }
        }
    }

    /// Read the rest of a record whose start tag has just been read.
    fn read_subtree(&mut self, root: XmlElement, start_offset: u64) -> Result<XmlElement, XmlError> {
        let record = Some(self.records);
        let mut stack = vec![root];
        loop {
            let at = self.reader.get_ref().position();
            if at.offset - start_offset > self.max_record_bytes {
                let rule = format!("the record is longer than {} bytes", self.max_record_bytes);
                return Err(self.error(XmlErrorKind::TooLarge, at.into(), record, rule));
            }
            self.check_document_size(at, record)?;
            self.buf.clear();
            let event = self
                .reader
                .read_event_into(&mut self.buf)
                .map_err(|e| syntax(&self.source_name, at, record, e))?;
            let top = stack.last_mut().expect("the record element is on the stack until its end");
            match event {
                Event::Start(start) => {
                    let element =
                        element_head(&start, at).map_err(|e| syntax(&self.source_name, at, record, e))?;
                    stack.push(element);
                }
                Event::Empty(start) => {
                    let element =
                        element_head(&start, at).map_err(|e| syntax(&self.source_name, at, record, e))?;
                    top.children.push(element);
                }
                Event::Text(text) => top.text.push_str(&text.xml10_content()),
                Event::CData(data) => top.text.push_str(&data.xml10_content()),
                Event::GeneralRef(reference) => {
                    let ch = match reference.resolve_char_ref() {
                        Ok(Some(ch)) => Some(ch),
                        Ok(None) => match &*reference {
                            "lt" => Some('<'),
                            "gt" => Some('>'),
                            "amp" => Some('&'),
                            "apos" => Some('\''),
                            "quot" => Some('"'),
                            _ => None,
                        },
                        Err(_) => None,
                    };
                    match ch {
                        Some(ch) => top.text.push(ch),
                        None => {
                            let rule = format!("undefined or invalid reference &{};", &*reference);
                            return Err(self.error(XmlErrorKind::Syntax, at.into(), record, rule));
                        }
                    }
                }
                Event::End(_) => {
                    let mut done = stack.pop().expect("checked above");
                    if !done.children.is_empty() && done.text.trim().is_empty() {
                        done.text.clear();
                    }
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => return Ok(done),
                    }
                }
                Event::Eof => {
                    let rule = format!("the document ends inside <{}> (truncated?)", top.name);
                    return Err(self.error(XmlErrorKind::Syntax, at.into(), record, rule));
                }
                Event::Comment(_) | Event::PI(_) | Event::Decl(_) | Event::DocType(_) => {}
            }
        }
    }
}

impl<R: BufRead> Iterator for XmlRecordReader<R> {
    type Item = Result<XmlRecord, XmlError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_record();
        if !matches!(next, Ok(Some(_))) {
            self.done = true;
        }
        next.transpose()
    }
}

/// Whether an element starting under `open` is a record: its ancestors are the record path's.
fn is_record(open: &[String], path: &[String], start: &BytesStart<'_>) -> bool {
    open.len() + 1 == path.len()
        && open.iter().zip(path).all(|(a, b)| a == b)
        && start.name().as_ref() == path[path.len() - 1]
}

fn element_head(start: &BytesStart<'_>, at: At) -> Result<XmlElement, quick_xml::Error> {
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute?;
        let value = attribute.normalized_value(XmlVersion::Implicit1_0)?;
        attributes.push((attribute.key.as_ref().to_owned(), value.into_owned()));
    }
    Ok(XmlElement {
        name: start.name().as_ref().to_owned(),
        attributes,
        text: String::new(),
        children: Vec::new(),
        position: at.into(),
    })
}

fn syntax(source: &str, at: At, record: Option<u64>, e: quick_xml::Error) -> XmlError {
    let kind = match &e {
        quick_xml::Error::Encoding(_) => XmlErrorKind::Encoding,
        quick_xml::Error::Io(io) if io.kind() == io::ErrorKind::InvalidData => XmlErrorKind::Encoding,
        quick_xml::Error::Io(_) => XmlErrorKind::Io,
        _ => XmlErrorKind::Syntax,
    };
    XmlError {
        kind,
        source_name: source.to_owned(),
        position: at.into(),
        record,
        field: None,
        rule: e.to_string(),
    }
}

/// A position with its byte offset.
#[derive(Debug, Clone, Copy)]
struct At {
    offset: u64,
    line: u64,
    column: u64,
}

impl From<At> for Position {
    fn from(at: At) -> Self {
        Position { line: at.line, column: at.column }
    }
}

/// Counts lines and columns of what the parser has consumed. quick-xml consumes exactly up to
/// the end of each event, so the count before an event is where it starts.
#[derive(Debug)]
struct Counting<R> {
    inner: R,
    at: At,
}

impl<R> Counting<R> {
    fn new(inner: R) -> Self {
        Self { inner, at: At { offset: 0, line: 1, column: 1 } }
    }

    fn position(&self) -> At {
        self.at
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        count(&mut self.at, &buf[..n]);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            let n = amt.min(buf.len());
            count(&mut self.at, &buf[..n]);
        }
        self.inner.consume(amt);
    }
}

fn count(at: &mut At, bytes: &[u8]) {
    at.offset += bytes.len() as u64;
    for &b in bytes {
        if b == b'\n' {
            at.line += 1;
            at.column = 1;
        } else if b & 0xC0 != 0x80 {
            // Not a UTF-8 continuation byte: a new character starts.
            at.column += 1;
        }
    }
}

/// Transcodes a Shift_JIS or Windows-31J byte stream ([`Charset::ShiftJis`], [`Charset::Cp932`])
/// to UTF-8 as it is read, refusing malformed bytes with their offset in the original input.
pub struct ShiftJisToUtf8<R> {
    inner: R,
    charset: Charset,
    input: Vec<u8>,
    input_len: usize,
    output: Vec<u8>,
    output_pos: usize,
    consumed: u64,
    eof: bool,
}

impl<R> fmt::Debug for ShiftJisToUtf8<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShiftJisToUtf8").field("consumed", &self.consumed).finish_non_exhaustive()
    }
}

impl<R: Read> ShiftJisToUtf8<R> {
    pub fn new(inner: R, charset: Charset) -> Self {
        Self {
            inner,
            charset,
            input: vec![0; 64 * 1024],
            input_len: 0,
            output: Vec::with_capacity(64 * 1024 * 3 / 2 + 16),
            output_pos: 0,
            consumed: 0,
            eof: false,
        }
    }
}

/// Where the last whole character of `bytes` ends (a lead byte waits for its trail byte).
fn whole_characters(bytes: &[u8]) -> usize {
    let mut i = 0;
    while i < bytes.len() {
        let single = bytes[i] < 0x80 || (0xA1..=0xDF).contains(&bytes[i]);
        let width = if single { 1 } else { 2 };
        if i + width > bytes.len() {
            break;
        }
        i += width;
    }
    i
}

impl<R: Read> Read for ShiftJisToUtf8<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for ShiftJisToUtf8<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.output_pos == self.output.len() && !(self.eof && self.input_len == 0) {
            if !self.eof && self.input_len < self.input.len() {
                let n = self.inner.read(&mut self.input[self.input_len..])?;
                self.eof = n == 0;
                self.input_len += n;
            }
            // At the end a dangling lead byte is decoded too, and refused.
            let mut read =
                if self.eof { self.input_len } else { whole_characters(&self.input[..self.input_len]) };
            let charset = self.charset;
            let decoded = match charset.decode(&self.input[..read]) {
                Err(at) if at > 0 => {
                    // The text before the bad byte goes out first; the next read stops at it.
                    read = at;
                    charset.decode(&self.input[..at])
                }
                other => other,
            };
            let text = decoded.map_err(|at| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("byte {} is not valid {}", self.consumed + at as u64, charset.name()),
                )
            })?;
            self.output.clear();
            self.output.extend_from_slice(text.as_bytes());
            self.output_pos = 0;
            self.input.copy_within(read..self.input_len, 0);
            self.input_len -= read;
            self.consumed += read as u64;
            if self.eof && read == 0 {
                break;
            }
        }
        Ok(&self.output[self.output_pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.output_pos = (self.output_pos + amt).min(self.output.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<Todoke>
  <Header><Count>2</Count></Header>
  <Records>
    <Record kubun=\"転入\">
      <AtenaNo>0001000000</AtenaNo>
      <Shimei>葛\u{E0100}西　太郎</Shimei>
      <Jusho>霞が関1&#x2212;1 &amp; 2</Jusho>
      <Bikou><![CDATA[<not markup>]]></Bikou>
      <Empty/>
    </Record>
    <!-- a comment between records -->
    <Record kubun=\"転居\"><AtenaNo>0001000001</AtenaNo><Shimei>山田　花子</Shimei></Record>
  </Records>
</Todoke>
";

    fn read(doc: &str) -> Vec<Result<XmlRecord, XmlError>> {
        XmlRecordReader::new(doc.as_bytes(), "todoke.xml", "/Todoke/Records/Record").unwrap().collect()
    }

    #[test]
    fn records_come_with_their_positions() {
        let records: Vec<XmlRecord> = read(DOC).into_iter().map(Result::unwrap).collect();
        assert_eq!(records.len(), 2);
        let first = &records[0].element;
        assert_eq!(first.attribute("kubun"), Some("転入"));
        assert_eq!(first.child_text("Shimei"), Some("葛\u{E0100}西　太郎"));
        assert_eq!(first.child_text("Jusho"), Some("霞が関1\u{2212}1 & 2"));
        assert_eq!(first.child_text("Bikou"), Some("<not markup>"));
        assert_eq!(first.child_text("Empty"), Some(""));
        assert_eq!(first.text, "", "whitespace between children is not text");
        assert_eq!(first.position, Position { line: 5, column: 5 });
        assert_eq!(first.child("Shimei").unwrap().position, Position { line: 7, column: 7 });
        // Columns count characters, not bytes: 転居 are one column each.
        assert_eq!(records[1].number, 2);
        assert_eq!(records[1].element.position, Position { line: 13, column: 5 });
        assert_eq!(records[1].element.child("Shimei").unwrap().position, Position { line: 13, column: 53 });
        // <Count> is outside the record path: not a record.
    }

    #[test]
    fn broken_documents_stop_with_line_and_column_after_the_good_records() {
        let broken = DOC.replace("<Shimei>山田　花子</Shimei>", "<Shimei>山田　花子</Shimai>");
        let items = read(&broken);
        assert!(items[0].is_ok());
        let e = items[1].as_ref().unwrap_err();
        assert_eq!((e.record, e.position.line), (Some(2), 13));
        assert!(e.to_string().starts_with("todoke.xml:13:"), "{e}");
        assert_eq!(items.len(), 2, "nothing after a syntax error");

        let undefined = DOC.replace("&amp;", "&nbsp;");
        let e = read(&undefined).remove(0).unwrap_err();
        assert_eq!(e.to_string(), "todoke.xml:8:28: record 1: undefined or invalid reference &nbsp;");

        let truncated = &DOC[..DOC.find("<Shimei>山田").unwrap()];
        let items = read(truncated);
        assert!(items[0].is_ok());
        let e = items[1].as_ref().unwrap_err();
        assert!(e.rule.contains("ends inside <Record> (truncated?)"), "{e}");
    }

    #[test]
    fn shift_jis_input_is_transcoded_strictly() {
        let doc = "<?xml version=\"1.0\" encoding=\"Windows-31J\"?>\n<R><Rec><N>ﾔﾏﾀﾞ 山田</N></Rec><Rec><N>髙橋～</N></Rec></R>\n";
        let mut bytes = Vec::new();
        Charset::Cp932.encode_into(doc, &mut bytes).unwrap();
        let read = |bytes: &[u8], charset| -> Vec<Result<String, XmlError>> {
            XmlRecordReader::new(ShiftJisToUtf8::new(bytes, charset), "sj.xml", "/R/Rec")
                .unwrap()
                .map(|r| r.map(|r| r.element.child_text("N").unwrap().to_owned()))
                .collect()
        };
        let names: Vec<String> = read(&bytes, Charset::Cp932).into_iter().map(Result::unwrap).collect();
        assert_eq!(names, ["ﾔﾏﾀﾞ 山田", "髙橋～"]);

        // Strict Shift_JIS has no 髙 (0xFBFC): the second record stops at its first byte.
        let names = read(&bytes, Charset::ShiftJis);
        assert_eq!(names[0].as_deref().unwrap(), "ﾔﾏﾀﾞ 山田");
        let at = bytes.windows(2).position(|w| w == b"\xfb\xfc").unwrap();
        let e = names.last().unwrap().as_ref().unwrap_err();
        assert!(e.rule.contains(&format!("byte {at} is not valid Shift_JIS")), "{e}");
        // 0x8160 is 〜 U+301C in strict Shift_JIS.
        let mut strict = bytes.clone();
        strict[at..at + 2].copy_from_slice(b"\x8d\x82"); // 高
        assert_eq!(read(&strict, Charset::ShiftJis)[1].as_deref().unwrap(), "高橋〜");

        let mut bad = bytes.clone();
        // 山 is 0x8E 0x52; 0x8E then '<' is not a Shift_JIS character.
        let at = bad.windows(2).position(|w| w == b"\x8e\x52").unwrap() + 1;
        bad[at] = b'<';
        for charset in [Charset::ShiftJis, Charset::Cp932] {
            let e = read(&bad, charset).pop().unwrap().unwrap_err();
            assert!(e.rule.contains(&format!("byte {} is not valid {}", at - 1, charset.name())), "{e}");
        }
    }

    #[test]
    fn large_documents_stream_record_by_record() {
        // A generated document of 200,000 records, never held whole.
        struct Generated {
            next: usize,
            total: usize,
            pending: Vec<u8>,
        }
        impl Read for Generated {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.pending.is_empty() {
                    self.pending = match self.next {
                        0 => b"<Root>".to_vec(),
                        n if n <= self.total => format!("<Rec no=\"{n}\"><V>値{n}</V></Rec>\n").into_bytes(),
                        n if n == self.total + 1 => b"</Root>".to_vec(),
                        _ => return Ok(0),
                    };
                    self.next += 1;
                }
                let n = buf.len().min(self.pending.len());
                buf[..n].copy_from_slice(&self.pending[..n]);
                self.pending.drain(..n);
                Ok(n)
            }
        }
        let input = io::BufReader::new(Generated { next: 0, total: 200_000, pending: Vec::new() });
        let mut count = 0u64;
        for record in XmlRecordReader::new(input, "gen.xml", "/Root/Rec").unwrap() {
            let record = record.unwrap();
            count += 1;
            assert_eq!(record.element.attribute("no").unwrap(), count.to_string());
            assert_eq!(record.element.position.line, count);
        }
        assert_eq!(count, 200_000);
    }

    #[test]
    fn oversized_records_are_refused() {
        let doc = format!("<R><Rec><V>{}</V></Rec></R>", "x".repeat(5000));
        let e = XmlRecordReader::new(doc.as_bytes(), "big.xml", "/R/Rec")
            .unwrap()
            .with_max_record_bytes(1000)
            .next()
            .unwrap()
            .unwrap_err();
        assert!(e.rule.contains("longer than 1000 bytes"), "{e}");
    }
}
