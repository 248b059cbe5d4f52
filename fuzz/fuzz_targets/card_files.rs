//! The decoders of the files read from cards: the My Number card's basic facts and individual
//! number, the driver's license's common data and details. A corrupt chip gets an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use renkei_adapter_card::{jis::JisText, license, mynumber};

fuzz_target!(|data: &[u8]| {
    let _ = mynumber::decode_basic_facts(data);
    let _ = mynumber::decode_individual_number(data);
    let _ = license::decode_common_data(data);
    let _ = license::decode_details(data);
    let _ = JisText::decode(data);
});
