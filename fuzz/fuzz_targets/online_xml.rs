//! Online application XML: any bytes are read into applications or refused with a position,
//! never a panic, and reading stops at the configured limits.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use renkei_adapter_intake::online::{OnlineIntake, OnlineLimits};
use renkei_mappings::MappingSet;

fn intake() -> &'static OnlineIntake {
    static INTAKE: OnceLock<OnlineIntake> = OnceLock::new();
    INTAKE.get_or_init(|| {
        let set = MappingSet::embedded().expect("the built-in mapping set loads");
        // Small limits, so the fuzzer reaches them.
        let limits = OnlineLimits { max_record_bytes: 4096, max_file_bytes: 16 * 1024 };
        OnlineIntake::new(&set, None, limits).expect("the built-in online mapping")
    })
}

fuzz_target!(|data: &[u8]| {
    let batch = intake().read("fuzz.xml", data);
    for refusal in &batch.refused {
        assert!(refusal.line >= 1 && refusal.column >= 1, "{refusal}");
    }
});
