//! OCR results: any text is refused with a reason or read into evidence, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use renkei_adapter_intake::OcrIntake;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = OcrIntake::new(0.9).read(s);
    }
});
