//! The pre-entry payload as a reader sees it: any text is refused or read, never a panic, and
//! nothing unsigned gets past the signature check.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use renkei_adapter_intake::{QrError, QrVerifier, text};

const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

fuzz_target!(|data: &[u8]| {
    let verifier = QrVerifier::from_hex_keys(&BTreeMap::from([("k".to_owned(), PUBLIC.to_owned())])).unwrap();
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = text::decode(s);
        match verifier.decode(s, 1_700_000_000) {
            Ok(_) => panic!("an unsigned payload was accepted"),
            Err(QrError::Expired { .. } | QrError::Invalid(_)) => panic!("an unsigned payload passed the signature check"),
            Err(_) => {}
        }
        // The same bytes as a payload body, Base45-encoded behind the prefix.
        let _ = verifier.decode(&format!("RK:{}", text::encode(data)), 1_700_000_000);
    }
});
