//! The receiving side of an interface: what a core system reads out of the bytes renkei sends,
//! item by item, decoded with this module's own code.
//!
//! Nothing here uses renkei-mappings. A receiver knows an interface only by its layout
//! ([`layouts`]: item id, key, type, length, the record format and the charset its system
//! decodes with) and reads documents the way the vendor's system would: CSV through the `csv`
//! crate after decoding the charset, fixed-length records by byte offset, JSON by key path.
//! Values are kept in the system's own terms (codes as codes, dates as written), so a suite can
//! expect `K10-004 = "02"` and be checked without renkei's code tables.
//!
//! ```
//! use renkei_conformance::receiver::{decode, layouts};
//!
//! let layout = layouts::layout("nhi", "shikaku-shutoku").unwrap();
//! let file = b"todokede_atena_no,shutoku_atena_no,shutoku_date,shutoku_jiyu,mae_hokensha,mae_soshitsu_date,tel\r\n\
//!              0000000019,0000000019,20260401,01,,,\r\n\
//!              0000000019,0000000027,20260401,01,,,\r\n";
//! let records = decode(layout, file).unwrap();
//! assert_eq!(records.len(), 2);
//! assert_eq!(records[1]["K10-002"], "0000000027");
//! assert_eq!(records[1].get("shutoku_jiyu"), Some("01"));
//! ```

pub mod charset;
pub mod layouts;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use charset::{Undecodable, WireCharset};

/// An interface as its system's specification describes it.
#[derive(Debug)]
pub struct Layout {
    pub system: &'static str,
    pub interface: &'static str,
    pub format: WireFormat,
    pub charset: WireCharset,
    /// For an interface that takes one record per person: the item naming the person.
    pub per_subject: Option<&'static str>,
    pub items: &'static [ItemSpec],
}

/// How records are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    /// One record per CRLF-terminated line, the header line of item keys first.
    Csv { header: bool },
    /// Records of `record_length` bytes, each followed by CRLF.
    Fixed { record_length: usize },
    /// One JSON object; keys with dots are nested objects.
    Json,
}

/// One item of a layout.
#[derive(Debug, Clone, Copy)]
pub struct ItemSpec {
    /// データ項目ID (`K10-002`).
    pub id: &'static str,
    /// The CSV header name or JSON key path.
    pub key: &'static str,
    pub kind: Kind,
    /// Characters (CSV, JSON) or bytes (fixed-length).
    pub length: usize,
    pub required: bool,
}

/// Item types, as the specification checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Digits,
    Alnum,
    Text,
    Kana,
    Date,
    Code,
    /// A JSON array of values, kept joined with `,`.
    List,
}

/// One record as the system read it: item id → value, and the raw bytes of each item where
/// the charset is not UTF-8.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRecord {
    pub items: BTreeMap<String, WireItem>,
}

/// One item's value as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireItem {
    pub key: String,
    pub value: String,
    /// The item's bytes as they were on the wire (Shift_JIS and fixed-length items), for
    /// byte-exact expectations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<Vec<u8>>,
}

impl WireRecord {
    /// The value of the item with this id or key; `None` when the record left it empty.
    pub fn get(&self, id_or_key: &str) -> Option<&str> {
        self.item(id_or_key).map(|i| i.value.as_str())
    }

    pub fn item(&self, id_or_key: &str) -> Option<&WireItem> {
        self.items.get(id_or_key).or_else(|| self.items.values().find(|i| i.key == id_or_key))
    }
}

impl std::ops::Index<&str> for WireRecord {
    type Output = String;

    /// The value of an item that must be there (tests).
    fn index(&self, id_or_key: &str) -> &String {
        &self.item(id_or_key).unwrap_or_else(|| panic!("the record has no item {id_or_key}")).value
    }
}

/// Why a document was refused: the record (1-based; 0 for the document as a whole), the item,
/// and the rule. Never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    pub record: usize,
    pub item: String,
    /// Byte offset in the document, where the failure is one of bytes.
    pub offset: Option<usize>,
    pub rule: String,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.record > 0 {
            write!(f, "record {}: ", self.record)?;
        }
        write!(f, "{}: {}", self.item, self.rule)?;
        if let Some(offset) = self.offset {
            write!(f, " (at byte {offset})")?;
        }
        Ok(())
    }
}

impl std::error::Error for WireError {}

fn refuse(record: usize, item: &str, offset: Option<usize>, rule: impl Into<String>) -> WireError {
    WireError { record, item: item.to_owned(), offset, rule: rule.into() }
}

const CRLF: &[u8] = b"\r\n";

/// Read every record of a document of `layout`, checking each item as the system would: known
/// keys, types, lengths, the required items.
pub fn decode(layout: &Layout, document: &[u8]) -> Result<Vec<WireRecord>, WireError> {
    let records = match layout.format {
        WireFormat::Json => {
            let value: serde_json::Value = serde_json::from_slice(document)
                .map_err(|e| refuse(0, "(document)", None, format!("is not JSON (line {})", e.line())))?;
            vec![json_record(layout, 1, &value)?]
        }
        WireFormat::Csv { header } => csv_records(layout, header, document)?,
        WireFormat::Fixed { record_length } => fixed_records(layout, record_length, document)?,
    };
    for (n, record) in records.iter().enumerate() {
        check(layout, n + 1, record)?;
    }
    Ok(records)
}

/// Read one JSON object (a record among several, as in a change-feed batch).
pub fn decode_json(
    layout: &Layout,
    record: usize,
    value: &serde_json::Value,
) -> Result<WireRecord, WireError> {
    let decoded = json_record(layout, record, value)?;
    check(layout, record, &decoded)?;
    Ok(decoded)
}

fn json_record(layout: &Layout, record: usize, value: &serde_json::Value) -> Result<WireRecord, WireError> {
    let object = value.as_object().ok_or_else(|| refuse(record, "(record)", None, "is not a JSON object"))?;
    let mut out = WireRecord::default();
    let mut unknown = Vec::new();
    walk_keys(object, "", &mut |path| {
        if !layout.items.iter().any(|i| i.key == path) {
            unknown.push(path.to_owned());
        }
    });
    if let Some(key) = unknown.first() {
        return Err(refuse(record, key, None, "is not an item of the interface"));
    }
    for item in layout.items {
        let mut node = Some(value);
        for step in item.key.split('.') {
            node = node.and_then(|n| n.get(step));
        }
        let text = match node {
            None | Some(serde_json::Value::Null) => continue,
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(serde_json::Value::Bool(b)) => b.to_string(),
            Some(serde_json::Value::Array(list)) if item.kind == Kind::List => {
                let mut parts = Vec::new();
                for entry in list {
                    match entry {
                        serde_json::Value::String(s) => parts.push(s.clone()),
                        _ => {
                            return Err(refuse(record, item.id, None, "holds a list entry that is not text"));
                        }
                    }
                }
                parts.join(",")
            }
            Some(_) => return Err(refuse(record, item.id, None, "is not a value of its type")),
        };
        if text.is_empty() {
            continue;
        }
        out.items.insert(item.id.to_owned(), WireItem { key: item.key.to_owned(), value: text, bytes: None });
    }
    Ok(out)
}

fn walk_keys(object: &serde_json::Map<String, serde_json::Value>, prefix: &str, seen: &mut dyn FnMut(&str)) {
    for (key, value) in object {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            serde_json::Value::Object(child) => walk_keys(child, &path, seen),
            _ => seen(&path),
        }
    }
}

fn csv_records(layout: &Layout, header: bool, document: &[u8]) -> Result<Vec<WireRecord>, WireError> {
    // The whole document decodes first, so a bad byte is reported with its offset in it.
    layout.charset.decode(document).map_err(|e| {
        refuse(0, "(document)", Some(e.offset), format!("{} in {}", e.rule, layout.charset.name()))
    })?;
    let Some(body) = document.strip_suffix(CRLF) else {
        return Err(refuse(0, "(document)", Some(document.len()), "does not end with CRLF (truncated?)"));
    };
    // Records and cells are split on the raw bytes, so each item keeps the bytes it had on the
    // wire: CR, LF, `,` and `"` are below 0x40 and never the second byte of a Shift_JIS character.
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.windows(CRLF.len()).position(|w| w == CRLF) {
        lines.push(&rest[..at]);
        rest = &rest[at + CRLF.len()..];
    }
    lines.push(rest);
    if header {
        let expected: Vec<&str> = layout.items.iter().map(|i| i.key).collect();
        let first = lines.remove(0);
        if first.split(|b| *b == b',').map(|k| std::str::from_utf8(k).unwrap_or("")).collect::<Vec<_>>()
            != expected
        {
            return Err(refuse(0, "(header)", Some(0), "is not the layout's header line"));
        }
    }
    let mut records = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let number = n + 1;
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(*line);
        let row = match reader.byte_records().next() {
            Some(Ok(row)) => row,
            Some(Err(e)) => {
                return Err(refuse(number, "(record)", None, format!("is not CSV: {}", csv_kind(&e))));
            }
            None => csv::ByteRecord::new(),
        };
        if row.len() != layout.items.len() {
            return Err(refuse(
                number,
                "(record)",
                None,
                format!("has {} items; the layout has {}", row.len(), layout.items.len()),
            ));
        }
        let mut record = WireRecord::default();
        for (item, cell) in layout.items.iter().zip(row.iter()) {
            if cell.is_empty() {
                continue;
            }
            let value = layout.charset.decode(cell).map_err(|e| {
                refuse(number, item.id, None, format!("{} in {}", e.rule, layout.charset.name()))
            })?;
            let bytes = (layout.charset != WireCharset::Utf8).then(|| cell.to_vec());
            record.items.insert(item.id.to_owned(), WireItem { key: item.key.to_owned(), value, bytes });
        }
        records.push(record);
    }
    Ok(records)
}

fn csv_kind(e: &csv::Error) -> &'static str {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { .. } => "unequal lengths",
        csv::ErrorKind::Utf8 { .. } => "not UTF-8",
        _ => "malformed quoting",
    }
}

fn fixed_records(
    layout: &Layout,
    record_length: usize,
    document: &[u8],
) -> Result<Vec<WireRecord>, WireError> {
    let total: usize = layout.items.iter().map(|i| i.length).sum();
    debug_assert_eq!(total, record_length, "{}: the items add up to the record length", layout.interface);
    let stride = record_length + CRLF.len();
    if document.len() % stride != 0 {
        return Err(refuse(
            0,
            "(document)",
            Some(document.len() - document.len() % stride),
            format!("is not a whole number of {stride}-byte records (truncated?)"),
        ));
    }
    let mut records = Vec::new();
    for (n, chunk) in document.chunks(stride).enumerate() {
        let number = n + 1;
        let base = n * stride;
        if &chunk[record_length..] != CRLF {
            return Err(refuse(number, "(record)", Some(base + record_length), "does not end with CRLF"));
        }
        let mut record = WireRecord::default();
        let mut offset = 0;
        for item in layout.items {
            let bytes = &chunk[offset..offset + item.length];
            let text = layout.charset.decode(bytes).map_err(|e| {
                refuse(
                    number,
                    item.id,
                    Some(base + offset + e.offset),
                    format!("{} in {}", e.rule, layout.charset.name()),
                )
            })?;
            offset += item.length;
            let value = text.trim_end_matches(' ');
            if value.is_empty() {
                continue;
            }
            record.items.insert(
                item.id.to_owned(),
                WireItem { key: item.key.to_owned(), value: value.to_owned(), bytes: Some(bytes.to_vec()) },
            );
        }
        records.push(record);
    }
    Ok(records)
}

/// The specification's checks of one record: required items there, types and lengths kept.
fn check(layout: &Layout, number: usize, record: &WireRecord) -> Result<(), WireError> {
    for item in layout.items {
        let Some(found) = record.items.get(item.id) else {
            if item.required {
                return Err(refuse(number, item.id, None, "is required"));
            }
            continue;
        };
        let value = found.value.as_str();
        let fixed = matches!(layout.format, WireFormat::Fixed { .. });
        let entries: Vec<&str> =
            if item.kind == Kind::List { value.split(',').collect() } else { vec![value] };
        for entry in entries {
            let chars = entry.chars().count();
            if !fixed && chars > item.length {
                return Err(refuse(
                    number,
                    item.id,
                    None,
                    format!("is {chars} characters; the item holds {}", item.length),
                ));
            }
            let ok = match item.kind {
                Kind::Digits => entry.bytes().all(|b| b.is_ascii_digit()),
                Kind::Date => entry.bytes().all(|b| b.is_ascii_digit() || b == b'-') || fixed,
                Kind::Alnum | Kind::Code => entry.is_ascii(),
                Kind::List => item.length == 0 || entry.chars().count() <= item.length,
                Kind::Text | Kind::Kana => true,
            };
            if !ok {
                return Err(refuse(number, item.id, None, format!("is not {:?}", item.kind).to_lowercase()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shutoku() -> &'static Layout {
        layouts::layout("nhi", "shikaku-shutoku").unwrap()
    }

    const HEADER: &str =
        "todokede_atena_no,shutoku_atena_no,shutoku_date,shutoku_jiyu,mae_hokensha,mae_soshitsu_date,tel\r\n";

    #[test]
    fn every_line_is_a_record_and_shift_jis_is_read_as_jis_maps_it() {
        let mut file = HEADER.as_bytes().to_vec();
        file.extend_from_slice(b"0000000019,0000000019,20260401,02,");
        file.extend_from_slice(&[0x8C, 0x92, 0x81, 0x60]); // 健〜
        file.extend_from_slice(b",20260331,045\r\n0000000019,0000000027,20260401,02,,,\r\n");
        let records = decode(shutoku(), &file).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0]["K10-005"], "健\u{301C}");
        assert_eq!(records[0].item("K10-005").unwrap().bytes.as_deref(), Some(&[0x8C, 0x92, 0x81, 0x60][..]));
        assert_eq!(records[1]["K10-002"], "0000000027");
        assert_eq!(records[1].get("K10-005"), None);
    }

    #[test]
    fn bytes_are_the_wire_s_even_where_two_codes_read_the_same() {
        // 髙 is FB FC in Windows-31J and also EE E0 (NEC-selected IBM extension): both read as
        // U+9AD9, and the item's bytes say which one was sent.
        let fukushi = layouts::layout("welfare", "fukushi-iryo").unwrap();
        let header =
            "shinseisha_atena_no,taishosha_atena_no,shinsei_date,josei_kubun,hokensha_bango,kigo,bango\r\n";
        for code in [[0xFB, 0xFC], [0xEE, 0xE0]] {
            let mut file = header.as_bytes().to_vec();
            file.extend_from_slice(b"0000000019,0000000019,20261118,01,12345678,");
            file.extend_from_slice(&code);
            file.extend_from_slice(b",1\r\n");
            let record = &decode(fukushi, &file).unwrap()[0];
            assert_eq!(record["F20-006"], "髙");
            assert_eq!(record.item("F20-006").unwrap().bytes.as_deref(), Some(&code[..]));
        }
    }

    #[test]
    fn refusals_name_record_item_and_offset() {
        let missing = format!("{HEADER}0000000019,,20260401,02,,,\r\n");
        let e = decode(shutoku(), missing.as_bytes()).unwrap_err();
        assert_eq!(e.to_string(), "record 1: K10-002: is required");

        let e = decode(shutoku(), b"todokede_atena_no\r\n").unwrap_err();
        assert_eq!(e.item, "(header)");

        let mut bad = HEADER.as_bytes().to_vec();
        bad.extend_from_slice(b"0000000019,0000000019,20260401,02,\x87\x40,,\r\n");
        let e = decode(shutoku(), &bad).unwrap_err();
        assert_eq!(e.offset, Some(HEADER.len() + 34));
        assert!(e.rule.contains("shift_jis"), "{e}");

        let e = decode(shutoku(), format!("{HEADER}0000000019,0000000019").as_bytes()).unwrap_err();
        assert!(e.rule.contains("truncated"), "{e}");
    }

    #[test]
    fn json_keys_are_paths_and_unknown_keys_are_refused() {
        let teate = layouts::layout("welfare", "jidou-teate").unwrap();
        let body = r#"{"seikyusha_atena_no":"0000000019","jido_atena_no":["0000000027","0000000035"],
            "seikyu_date":"20260401","koza":{"kinyu_kikan_code":"0009","shiten_code":"123","bango":"1234567","meigi_kana":"ｶｻｲ ﾀﾛｳ"}}"#;
        let record = &decode(teate, body.as_bytes()).unwrap()[0];
        assert_eq!(record["F10-002"], "0000000027,0000000035");
        assert_eq!(record["koza.meigi_kana"], "ｶｻｲ ﾀﾛｳ");
        let e = decode(teate, br#"{"seikyusha_atena_no":"0000000019","extra":1}"#).unwrap_err();
        assert_eq!((e.item.as_str(), e.rule.as_str()), ("extra", "is not an item of the interface"));
    }

    #[test]
    fn fixed_records_are_cut_by_offset() {
        let member = layouts::layout("nhi", "member").unwrap();
        let mut record = vec![b' '; 357];
        record[1..11].copy_from_slice(b"0000000019");
        record[11..21].copy_from_slice(b"0000000019");
        record[21..25].copy_from_slice(&[0x8A, 0x8B, 0x90, 0xBC]); // 葛西
        record[161..168].copy_from_slice(b"4010108");
        record[168] = b'1';
        record[169..171].copy_from_slice(b"01");
        record[332] = b'1';
        record[338] = b'1';
        record.extend_from_slice(CRLF);
        let read = decode(member, &record).unwrap();
        assert_eq!(read[0]["K01-004"], "葛西");
        assert_eq!(read[0]["seinengappi"], "4010108");
        let e = decode(member, &record[..300]).unwrap_err();
        assert!(e.rule.contains("truncated"), "{e}");
    }
}
