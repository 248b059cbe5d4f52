//! What a reader does after a valid signature: inflate with a limit, decode the protobuf, check
//! the content. The fuzzer's bytes are signed as the compressed body.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use renkei_adapter_intake::{QrSigner, QrVerifier};

const SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

fuzz_target!(|data: &[u8]| {
    let signer = QrSigner::from_hex("k", SECRET).unwrap();
    let verifier =
        QrVerifier::from_hex_keys(&BTreeMap::from([("k".to_owned(), signer.public_hex())])).unwrap();
    let _ = verifier.decode(&signer.seal(data), 1_700_000_000);
});
