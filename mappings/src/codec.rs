//! Reading and writing a system's records: JSON objects, fixed-length records and CSV lines.
//! The layout is worked out when the mapping is compiled (JSON key trees, byte offsets), so
//! reading a record walks the input once.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::charset::{self, Charset};
use crate::item::{ApplyError, Item, SystemRecord};
use crate::layout::{Layout, Node};
use crate::mapping::Mapping;
use crate::spec::{Format, ItemType};
use crate::value::Value;

fn bad(item: &Item, rule: impl Into<String>) -> ApplyError {
    ApplyError { record: None, item: item.label(), rule: rule.into() }
}

impl Mapping {
    /// Read one record (a JSON object, a fixed-length record without its separator, or a CSV
    /// line without its line end) into `out`. XML records are read element by element with their
    /// positions ([`Mapping::decode_xml`]), not from bytes.
    pub fn decode(&self, input: &[u8], out: &mut SystemRecord) -> Result<(), ApplyError> {
        out.clear();
        match &self.layout {
            Layout::Json(root) => {
                let mut de = serde_json::Deserializer::from_slice(input);
                ObjectSeed { node: root, out: &mut out.values }
                    .deserialize(&mut de)
                    .and_then(|()| de.end())
                    .map_err(|e| ApplyError {
                        record: None,
                        item: "(record)".into(),
                        rule: format!("is not JSON of this layout: {e}"),
                    })
            }
            Layout::Fixed => {
                let expected = self.record_length().unwrap_or(0);
                if input.len() != expected {
                    return Err(ApplyError {
                        record: None,
                        item: "(record)".into(),
                        rule: format!("is {} bytes; the layout's records are {expected}", input.len()),
                    });
                }
                for (i, item) in self.items.iter().enumerate() {
                    let bytes = &input[item.offset..item.offset + item.length];
                    out.values[i] = self.decode_field(item, bytes)?;
                }
                Ok(())
            }
            Layout::Csv => {
                let line = self.decode_text(input)?;
                let cells = split_csv(&line).map_err(|rule| ApplyError {
                    record: None,
                    item: "(record)".into(),
                    rule,
                })?;
                if cells.len() != self.items.len() {
                    return Err(ApplyError {
                        record: None,
                        item: "(record)".into(),
                        rule: format!("has {} columns; the layout has {}", cells.len(), self.items.len()),
                    });
                }
                for (slot, cell) in out.values.iter_mut().zip(cells) {
                    *slot = (!cell.is_empty()).then(|| Value::Text(cell.into_owned()));
                }
                Ok(())
            }
            Layout::Xml(_) => Err(ApplyError {
                record: None,
                item: "(record)".into(),
                rule:
                    "an XML record is read from its document by the XML intake (decode_xml), with positions"
                        .into(),
            }),
        }
    }

    fn decode_text<'a>(&self, input: &'a [u8]) -> Result<Cow<'a, str>, ApplyError> {
        let bad_bytes = |_| ApplyError {
            record: None,
            item: "(record)".into(),
            rule: format!("is not valid {}", self.charset.as_str()),
        };
        match self.charset {
            Charset::Utf8 => {
                std::str::from_utf8(input).map(Cow::Borrowed).map_err(|e| bad_bytes(e.valid_up_to()))
            }
            other => charset::decode(input, other).map(Cow::Owned).map_err(|()| bad_bytes(0)),
        }
    }

    fn decode_field(&self, item: &Item, bytes: &[u8]) -> Result<Option<Value>, ApplyError> {
        let text = if self.charset == Charset::JisX0208 && !item.ty.is_text() {
            std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| ())
        } else {
            charset::decode(bytes, self.charset)
        }
        .map_err(|()| bad(item, format!("is not valid {}", self.charset.as_str())))?;
        let trimmed = text.trim_end_matches([' ', '\u{3000}']);
        let trimmed = match item.ty {
            ItemType::Digits => trimmed.trim_start_matches(' '),
            _ => trimmed,
        };
        Ok((!trimmed.is_empty()).then(|| Value::Text(trimmed.to_owned())))
    }

    /// Write one record (without a record separator) to `out`.
    pub fn encode(&self, record: &SystemRecord, out: &mut Vec<u8>) -> Result<(), ApplyError> {
        match &self.layout {
            Layout::Json(root) => {
                let value = json_object(root, &record.values);
                serde_json::to_writer(&mut *out, &value).map_err(|e| ApplyError {
                    record: None,
                    item: "(record)".into(),
                    rule: e.to_string(),
                })
            }
            Layout::Fixed => {
                for (item, value) in self.items.iter().zip(&record.values) {
                    let other;
                    let text = match value {
                        None => "",
                        Some(Value::Text(t)) => t.as_str(),
                        Some(v) => {
                            other = v.to_text();
                            other.as_str()
                        }
                    };
                    let start = out.len();
                    let double_byte = self.charset == Charset::JisX0208 && item.ty.is_text();
                    if item.ty == ItemType::Digits && !text.is_empty() {
                        out.resize(start + item.length.saturating_sub(text.len()), b'0');
                    }
                    if self.charset == Charset::JisX0208 && !item.ty.is_text() {
                        out.extend_from_slice(text.as_bytes());
                    } else {
                        charset::encode(text, self.charset, out);
                    }
                    let written = out.len() - start;
                    if written > item.length {
                        return Err(bad(item, format!("is {written} bytes; the item holds {}", item.length)));
                    }
                    if double_byte {
                        while out.len() + 2 <= start + item.length {
                            out.extend_from_slice(&[0x21, 0x21]);
                        }
                    }
                    out.resize(start + item.length, b' ');
                }
                Ok(())
            }
            Layout::Csv => {
                let mut line = String::new();
                for (i, value) in record.values.iter().enumerate() {
                    if i > 0 {
                        line.push(',');
                    }
                    let text = value.as_ref().map(Value::to_text).unwrap_or_default();
                    if text.contains([',', '"', '\n', '\r']) {
                        line.push('"');
                        line.push_str(&text.replace('"', "\"\""));
                        line.push('"');
                    } else {
                        line.push_str(&text);
                    }
                }
                charset::encode(&line, self.charset, out);
                Ok(())
            }
            Layout::Xml(layout) => {
                let mut text = String::new();
                self.encode_xml(layout, record, &mut text);
                charset::encode(&text, self.charset, out);
                Ok(())
            }
        }
    }

    /// The CSV header line (item keys), for layouts that have one.
    pub fn csv_header(&self) -> Option<String> {
        (self.format == Format::Csv && self.header)
            .then(|| self.items.iter().map(|i| i.key.as_str()).collect::<Vec<_>>().join(","))
    }

    /// The bytes a file of this layout starts with: the CSV header line in the layout's charset
    /// with its record separator, for layouts that have one.
    pub fn file_header(&self) -> Option<Vec<u8>> {
        self.csv_header().map(|h| {
            let mut line = Vec::new();
            charset::encode(&h, self.charset, &mut line);
            line.extend_from_slice(self.record_separator.bytes());
            line
        })
    }

    /// The records of a whole file of this layout, as [`Mapping::file_header`] and
    /// [`Mapping::file_separator`] frame it: the header line skipped, each record without its
    /// separator. A fixed-length file whose size is not a whole number of records is refused.
    pub fn split_file<'a>(&self, file: &'a [u8]) -> Result<Vec<&'a [u8]>, ApplyError> {
        let separator = self.file_separator();
        if let Some(length) = self.record_length() {
            let stride = length + separator.len();
            if stride == 0 || file.len() % stride != 0 {
                return Err(ApplyError {
                    record: None,
                    item: "(file)".into(),
                    rule: format!("is {} bytes, not a whole number of {stride}-byte records", file.len()),
                });
            }
            return Ok(file.chunks(stride).map(|r| &r[..length]).collect());
        }
        let mut records: Vec<&[u8]> = if separator.is_empty() {
            vec![file]
        } else {
            // A separator inside a quoted CSV item is part of the item. (A double quote is never
            // the second byte of a Shift_JIS character, so counting quotes is safe there too.)
            let csv = self.format == Format::Csv;
            let (mut out, mut start, mut quoted, mut i) = (Vec::new(), 0, false, 0);
            while i < file.len() {
                if csv && file[i] == b'"' {
                    quoted = !quoted;
                } else if !quoted && file[i..].starts_with(separator) {
                    out.push(&file[start..i]);
                    i += separator.len();
                    start = i;
                    continue;
                }
                i += 1;
            }
            out.push(&file[start..]);
            out
        };
        if records.last().is_some_and(|r| r.is_empty()) {
            records.pop();
        }
        if self.csv_header().is_some() && !records.is_empty() {
            records.remove(0);
        }
        Ok(records)
    }

    /// What ends each record in a file: the layout's separator; a newline between JSON records
    /// (JSON Lines) when the layout names none.
    pub fn file_separator(&self) -> &'static [u8] {
        match (self.format, self.record_separator.bytes()) {
            (Format::Json, b"") => b"\n",
            (_, bytes) => bytes,
        }
    }

    /// A system record from item key → text (examples, `try`). Unknown keys are errors.
    pub fn system_from_json(
        &self,
        json: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<SystemRecord, String> {
        let mut record = self.new_system();
        let mut flat = Vec::new();
        flatten_keys(json, String::new(), &mut flat);
        for (key, value) in flat {
            let index = self.item_index(&key).ok_or_else(|| format!("{key}: no item has this key"))?;
            record.values[index] = match value {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) if s.is_empty() => None,
                serde_json::Value::String(s) => Some(Value::Text(s.clone())),
                serde_json::Value::Array(items) => Some(Value::List(
                    items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect(),
                )),
                other => Some(Value::Text(other.to_string())),
            };
        }
        Ok(record)
    }

    /// The record as a JSON object of item key → value (nested by the keys' dots).
    pub fn system_to_json(&self, record: &SystemRecord) -> serde_json::Value {
        let mut root = serde_json::Map::new();
        for (item, value) in self.items.iter().zip(&record.values) {
            if let Some(v) = value {
                insert_key(&mut root, &item.key, v.to_json());
            }
        }
        serde_json::Value::Object(root)
    }
}

fn flatten_keys<'a>(
    map: &'a serde_json::Map<String, serde_json::Value>,
    prefix: String,
    out: &mut Vec<(String, &'a serde_json::Value)>,
) {
    for (k, v) in map {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            serde_json::Value::Object(inner) => flatten_keys(inner, key, out),
            other => out.push((key, other)),
        }
    }
}

fn insert_key(root: &mut serde_json::Map<String, serde_json::Value>, key: &str, value: serde_json::Value) {
    match key.split_once('.') {
        None => {
            root.insert(key.to_owned(), value);
        }
        Some((head, rest)) => {
            let child =
                root.entry(head.to_owned()).or_insert_with(|| serde_json::Value::Object(Default::default()));
            if let serde_json::Value::Object(map) = child {
                insert_key(map, rest, value);
            }
        }
    }
}

fn json_object(nodes: &[(String, Node)], values: &[Option<Value>]) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (key, node) in nodes {
        match node {
            Node::Item(i) => {
                if let Some(v) = &values[*i] {
                    map.insert(key.clone(), v.to_json());
                }
            }
            Node::Object(children) => {
                let child = json_object(children, values);
                if child.as_object().is_some_and(|m| !m.is_empty()) {
                    map.insert(key.clone(), child);
                }
            }
        }
    }
    serde_json::Value::Object(map)
}

/// One CSV line's cells (RFC 4180 quoting; a record does not span lines).
fn split_csv(line: &str) -> Result<Vec<Cow<'_, str>>, String> {
    let mut cells = Vec::new();
    let mut rest = line;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut cell = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) => {
                        if quoted[i + 1..].starts_with('"') {
                            cell.push('"');
                            chars.next();
                        } else {
                            break i + 1;
                        }
                    }
                    Some((_, c)) => cell.push(c),
                    None => return Err(format!("column {}: a quoted value is not closed", cells.len() + 1)),
                }
            };
            cells.push(Cow::Owned(cell));
            rest = &quoted[end..];
            match rest.strip_prefix(',') {
                Some(r) => rest = r,
                None if rest.is_empty() => return Ok(cells),
                None => return Err(format!("column {}: text after a closing quote", cells.len())),
            }
        } else {
            match rest.find(',') {
                Some(i) => {
                    cells.push(Cow::Borrowed(&rest[..i]));
                    rest = &rest[i + 1..];
                }
                None => {
                    cells.push(Cow::Borrowed(rest));
                    return Ok(cells);
                }
            }
        }
    }
}

/// A JSON object key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Reads a JSON object straight into item slots by the layout's key tree.
struct ObjectSeed<'a> {
    node: &'a [(String, Node)],
    out: &'a mut [Option<Value>],
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object or null")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Keys are kept in the layout's order and looked for from just after the last one found:
        // a producer that writes them in that order costs one comparison per key.
        let mut hint = 0;
        let n = self.node.len();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let found = (0..n).map(|i| (hint + i) % n).find(|&i| self.node[i].0 == key);
            match found {
                Some(pos) => {
                    hint = pos + 1;
                    match &self.node[pos].1 {
                        Node::Item(i) => self.out[*i] = map.next_value::<ItemValue>()?.0,
                        Node::Object(children) => {
                            map.next_value_seed(ObjectSeed { node: children, out: &mut *self.out })?
                        }
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A scalar (as text), null, or an array of scalars.
struct ItemValue(Option<Value>);

impl<'de> serde::Deserialize<'de> for ItemValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ItemValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("text, a number, null or an array of text")
            }
            fn visit_str<E>(self, v: &str) -> Result<ItemValue, E> {
                Ok(ItemValue((!v.is_empty()).then(|| Value::Text(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<ItemValue, E> {
                Ok(ItemValue((!v.is_empty()).then_some(Value::Text(v))))
            }
            fn visit_u64<E>(self, v: u64) -> Result<ItemValue, E> {
                Ok(ItemValue(Some(Value::Text(v.to_string()))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<ItemValue, E> {
                Ok(ItemValue(Some(Value::Text(v.to_string()))))
            }
            fn visit_f64<E>(self, v: f64) -> Result<ItemValue, E> {
                Ok(ItemValue(Some(Value::Text(v.to_string()))))
            }
            fn visit_bool<E>(self, v: bool) -> Result<ItemValue, E> {
                Ok(ItemValue(Some(Value::Text(v.to_string()))))
            }
            fn visit_unit<E>(self) -> Result<ItemValue, E> {
                Ok(ItemValue(None))
            }
            fn visit_none<E>(self) -> Result<ItemValue, E> {
                Ok(ItemValue(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ItemValue, A::Error> {
                let mut items = Vec::new();
                while let Some(ItemValue(v)) = seq.next_element::<ItemValue>()? {
                    items.push(v.map(|v| v.to_text()).unwrap_or_default());
                }
                Ok(ItemValue((!items.is_empty()).then_some(Value::List(items))))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells() {
        assert_eq!(split_csv("a,,\"b,\"\"c\"\"\",d").unwrap(), ["a", "", "b,\"c\"", "d"]);
        assert_eq!(split_csv("").unwrap(), [""]);
        assert!(split_csv("\"open").is_err());
    }
}
