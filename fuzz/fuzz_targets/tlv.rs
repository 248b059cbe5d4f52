//! Strict BER-TLV: any bytes either parse into TLVs that stay inside the input, or fail with an
//! offset inside it. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use renkei_adapter_card::tlv;

fn walk(t: &tlv::Tlv<'_>, len: usize, depth: u32) {
    assert!(t.value_offset + t.value.len() <= len);
    if depth < 8 && let Ok(children) = t.children() {
        for c in &children {
            walk(c, len, depth + 1);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    match tlv::parse_all(data) {
        Ok(tlvs) => tlvs.iter().for_each(|t| walk(t, data.len(), 0)),
        Err(e) => assert!(e.offset <= data.len() + 4, "{e}"),
    }
    if let Ok(h) = tlv::parse_header(data, 0) {
        assert!(h.header_len <= 7, "a header fits the first READ BINARY");
    }
});
