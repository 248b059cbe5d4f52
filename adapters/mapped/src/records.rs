//! Whole documents of a mapping's records: what goes into a request body or a file, and the
//! records a system's answer holds.

use std::fmt;

use renkei_mappings::{ApplyError, Format, Mapping, SystemRecord};

/// Records of `mapping` as one document: the CSV header once when the layout has one, then
/// each record followed by the layout's record separator (a JSON document is one record).
pub fn encode_document(
    mapping: &Mapping,
    records: &[SystemRecord],
    out: &mut Vec<u8>,
) -> Result<(), ApplyError> {
    if mapping.format == Format::Json && records.len() != 1 {
        return Err(whole(format!("a JSON document holds one record, not {}", records.len())));
    }
    let separator = mapping.record_separator.bytes();
    if let Some(header) = mapping.csv_header() {
        // Item keys are ASCII, the same bytes in every charset.
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(separator);
    }
    for record in records {
        mapping.encode(record, out)?;
        if mapping.format != Format::Json {
            out.extend_from_slice(separator);
        }
    }
    Ok(())
}

/// A record of a document that could not be read: its number (1-based, header excluded) and
/// what was wrong, naming the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFailure {
    pub record: usize,
    pub error: ApplyError,
}

impl fmt::Display for RecordFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {}: {}", self.record, self.error)
    }
}

fn whole(rule: String) -> ApplyError {
    ApplyError { record: None, item: "(record)".into(), rule }
}

/// Every record of a fixed-length or CSV document (a JSON document is one record). A record that
/// does not decode is a failure naming its number and item; the others are still read, since
/// the separator frames each record. A document that ends inside a record gives that record as
/// a failure ("truncated").
pub fn decode_records(mapping: &Mapping, bytes: &[u8]) -> Vec<Result<SystemRecord, RecordFailure>> {
    let separator = mapping.record_separator.bytes();
    let mut pieces: Vec<(&[u8], bool)> = Vec::new();
    match mapping.format {
        Format::Json => pieces.push((bytes, true)),
        Format::Fixed if separator.is_empty() => {
            let width = mapping.record_length().unwrap_or(1).max(1);
            pieces.extend(bytes.chunks(width).map(|c| (c, c.len() == width)));
        }
        _ => {
            let mut rest = bytes;
            if mapping.header {
                match find(rest, separator) {
                    Some(end) => rest = &rest[end + separator.len()..],
                    None => rest = &[],
                }
            }
            while !rest.is_empty() {
                match find(rest, separator) {
                    Some(end) => {
                        pieces.push((&rest[..end], true));
                        rest = &rest[end + separator.len()..];
                    }
                    None => {
                        pieces.push((rest, false));
                        rest = &[];
                    }
                }
            }
        }
    }
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, (piece, complete))| {
            let number = i + 1;
            if !complete {
                return Err(RecordFailure {
                    record: number,
                    error: whole("truncated: the data ends inside this record".into()),
                });
            }
            let mut record = mapping.new_system();
            mapping
                .decode(piece, &mut record)
                .map(|()| record)
                .map_err(|error| RecordFailure { record: number, error })
        })
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use renkei_mappings::MappingSet;

    use super::*;

    #[test]
    fn fixed_records_are_framed_and_a_cut_record_is_reported() {
        let set = MappingSet::embedded().unwrap();
        let nozei = set.mapping_by_id("tax/nozei-shomei@1").unwrap();
        let mut record = nozei.new_system();
        for (key, value) in [("atena_no", "0000000019"), ("nendo", "2026"), ("zeimoku", "市民税・県民税")]
        {
            record.set(nozei.item_index(key).unwrap(), Some(renkei_mappings::Value::Text(value.into())));
        }
        let mut doc = Vec::new();
        encode_document(nozei, &[record.clone(), record.clone()], &mut doc).unwrap();
        assert_eq!(doc.len(), 2 * (74 + 2));
        let read = decode_records(nozei, &doc);
        assert_eq!(read.len(), 2);
        assert_eq!(read[1].as_ref().unwrap(), &record);

        let cut = &doc[..doc.len() - 10];
        let read = decode_records(nozei, cut);
        assert!(read[0].is_ok());
        let failure = read[1].as_ref().unwrap_err();
        assert_eq!(failure.to_string(), "record 2: (record): truncated: the data ends inside this record");
    }
}
