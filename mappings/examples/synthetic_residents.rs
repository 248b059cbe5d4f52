//! Writes a synthetic population as a 宛名 file (resident-record/atena-extract@1: CSV, UTF-8),
//! the input of the `renkei mappings convert` benchmark. Every person is invented
//! (renkei-conformance's Population, deterministic from the seed).
//!
//! ```sh
//! cargo run --release -p renkei-mappings --example synthetic_residents -- 1000000 1 > residents.csv
//! ```

use std::io::{BufWriter, Write};

use renkei_conformance::population::Population;
use renkei_mappings::{CanonicalRecord, MappingSet, Report};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let residents: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1_000_000);
    let seed: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1);
    let set = MappingSet::embedded().map_err(|p| p.to_string())?;
    let mapping =
        set.mapping_by_id("resident-record/atena-extract@1").ok_or("no atena-extract@1 in the set")?;
    let population = Population::generate(residents, seed);
    let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let sep = mapping.record_separator.bytes();
    out.write_all(mapping.csv_header().unwrap_or_default().as_bytes())?;
    out.write_all(sep)?;
    let (mut system, mut report, mut line) = (mapping.new_system(), Report::default(), Vec::new());
    for resident in population.residents() {
        let canonical = CanonicalRecord::from_resident(mapping.schema(), resident);
        mapping.to_system(&canonical, &mut system, &mut report)?;
        line.clear();
        mapping.encode(&system, &mut line)?;
        line.extend_from_slice(sep);
        out.write_all(&line)?;
    }
    out.flush()?;
    Ok(())
}
