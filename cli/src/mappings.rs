//! `renkei mappings …`: check, test, try, diff and bulk-convert mapping files.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use renkei_mappings::convert::{Conversion, Event};
use renkei_mappings::{CanonicalKind, CanonicalRecord, Mapping, MappingSet, Report, Value};
use renkei_model::MojiText;

/// Integrators' tools for mapping files (`systems/<system>/<interface>@<version>.toml`), code
/// tables (`codes/`) and the procedure catalog (`procedures/`).
///
/// Without a directory the commands work on the default set built into this binary; copy it
/// out with the repository's `mappings/` directory and point `renkei serve --mappings DIR` at
/// your copy. See mappings/README.md for how to change a field, add a code or add a version for
/// a law change.
#[derive(Debug, clap::Args)]
pub(super) struct MappingsArgs {
    #[command(subcommand)]
    command: MappingsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum MappingsCommand {
    /// Check a mapping set: every problem with file:line; exits non-zero if there is any.
    ///
    /// Example: renkei mappings check /etc/renkei/mappings
    Check {
        /// The set's directory (codes/, procedures/, systems/); the built-in set when absent.
        dir: Option<PathBuf>,
    },
    /// Run the [[examples]] of every mapping, and the round trip of every lossless item.
    ///
    /// Ends with "N passed, M failed"; exits non-zero if any failed.
    ///
    /// Example: renkei mappings test ./mappings
    Test {
        /// The set's directory; the built-in set when absent.
        dir: Option<PathBuf>,
    },
    /// Show one record through a mapping, with where each value came from.
    ///
    /// A .json record is a canonical record (nested by path, as `renkei mappings paths`
    /// lists them) mapped to the system, unless --from-system says it is the system's own
    /// record; a .csv file or any other file holds system records (the first one is used).
    ///
    /// Examples:
    ///   renkei mappings try nhi/member@1 resident.json
    ///   renkei mappings try resident-record/atena-extract@1 residents.csv
    ///   renkei mappings try ./mappings/systems/nhi/member@1.toml resident.json
    Try {
        /// A mapping id (system/interface@version) or a mapping file's path.
        mapping: String,
        /// The record.
        record: PathBuf,
        /// The record is in the system's layout (read it into the canonical model).
        #[arg(long)]
        from_system: bool,
        /// The set the mapping id is looked up in; the built-in set when absent.
        #[arg(long)]
        mappings: Option<PathBuf>,
    },
    /// What a revision of a mapping changes: header fields, items added, removed or changed.
    ///
    /// Example: renkei mappings diff nhi/member@1 ./mappings/systems/nhi/member@2.toml
    Diff {
        /// The old mapping: id or file.
        old: String,
        /// The new mapping: id or file.
        new: String,
        /// The set ids are looked up in; the built-in set when absent.
        #[arg(long)]
        mappings: Option<PathBuf>,
    },
    /// Convert a whole file from one system's layout to another's through the canonical model,
    /// streaming, with a progress line on a terminal.
    ///
    /// Records that do not map are reported with their line and skipped; the command exits
    /// non-zero if any was. Characters shrunk to fit a legacy character set are counted, and
    /// listed one per line in --report.
    ///
    /// Example:
    ///   renkei mappings convert --from resident-record/atena-extract@1 --to nhi/member@1 \
    ///     -i residents.csv -o members.dat --report shrunk.csv
    Convert {
        /// The input's mapping (id or file).
        #[arg(long)]
        from: String,
        /// The output's mapping (id or file).
        #[arg(long)]
        to: String,
        /// Input file; standard input when absent.
        #[arg(long, short)]
        input: Option<PathBuf>,
        /// Output file; standard output when absent.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Write every shrink as CSV: line,item,from,to,how.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Write every record the canonical model refuses as CSV: line,path,rule (never the
        /// value). Refused records are never written to the output.
        #[arg(long)]
        refused: Option<PathBuf>,
        /// Worker threads (default: the machine's cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Stop printing failed records after this many (they are still counted).
        #[arg(long, default_value_t = 50)]
        max_errors: u64,
        /// The set ids are looked up in; the built-in set when absent.
        #[arg(long)]
        mappings: Option<PathBuf>,
    },
    /// List the canonical paths a mapping can name, per canonical kind.
    Paths {
        /// resident, application or certificate; all when absent.
        kind: Option<String>,
    },
}

pub(super) fn run(args: MappingsArgs) -> anyhow::Result<()> {
    match args.command {
        MappingsCommand::Check { dir } => check(dir.as_deref()),
        MappingsCommand::Test { dir } => test(dir.as_deref()),
        MappingsCommand::Try { mapping, record, from_system, mappings } => {
            let (_set, mapping) = resolve(&mapping, mappings.as_deref())?;
            try_record(&mapping, &record, from_system)
        }
        MappingsCommand::Diff { old, new, mappings } => {
            let (_, old) = resolve(&old, mappings.as_deref())?;
            let (_, new) = resolve(&new, mappings.as_deref())?;
            let differences = renkei_mappings::diff::diff(&old, &new);
            if differences.is_empty() {
                println!("{} and {} map the same items the same way", old.id, new.id);
            }
            for d in differences {
                println!("{d}");
            }
            Ok(())
        }
        MappingsCommand::Convert {
            from,
            to,
            input,
            output,
            report,
            refused,
            threads,
            max_errors,
            mappings,
        } => convert(ConvertArgs { from, to, input, output, report, refused, threads, max_errors, mappings }),
        MappingsCommand::Paths { kind } => {
            for k in CanonicalKind::ALL {
                if kind.as_deref().is_some_and(|want| want != k.as_str()) {
                    continue;
                }
                println!("{}:", k.as_str());
                for def in k.paths() {
                    println!("  {:<32} {:<5} {}", def.path, def.kind.to_string(), def.about);
                }
                if k.has_fields() {
                    println!(
                        "  {:<32} {:<5} a form field (fields.event_date, fields.new_address.banchi …)",
                        "fields.<name>", "text"
                    );
                }
            }
            Ok(())
        }
    }
}

pub(super) fn load(dir: Option<&Path>) -> Result<MappingSet, renkei_mappings::Problems> {
    match dir {
        Some(d) => MappingSet::load_dir(d),
        None => MappingSet::embedded(),
    }
}

fn where_(dir: Option<&Path>) -> String {
    dir.map_or_else(|| "the built-in set".to_owned(), |d| d.display().to_string())
}

fn print_problems(dir: Option<&Path>, problems: &renkei_mappings::Problems) {
    for p in &problems.0 {
        match dir {
            Some(d) => eprintln!("{}", renkei_mappings::Problem { file: d.join(&p.file), ..p.clone() }),
            None => eprintln!("{p}"),
        }
    }
}

fn check(dir: Option<&Path>) -> anyhow::Result<()> {
    match load(dir) {
        Ok(set) => {
            println!(
                "{}: {} mappings, {} code tables, {} procedures: no problems (version {})",
                where_(dir),
                set.mappings().count(),
                set.code_tables().count(),
                set.catalog().len(),
                set.version()
            );
            Ok(())
        }
        Err(problems) => {
            print_problems(dir, &problems);
            bail!("{}: {} problem(s); the set would be refused", where_(dir), problems.0.len())
        }
    }
}

fn test(dir: Option<&Path>) -> anyhow::Result<()> {
    let set = load(dir).map_err(|problems| {
        print_problems(dir, &problems);
        anyhow::anyhow!(
            "{}: {} problem(s); fix them first (renkei mappings check)",
            where_(dir),
            problems.0.len()
        )
    })?;
    let (mut passed, mut failed) = (0, 0);
    for m in set.mappings() {
        let file = dir.map_or_else(|| m.file.clone(), |d| d.join(&m.file));
        for result in m.run_examples() {
            if result.failures.is_empty() {
                passed += 1;
                println!("ok   {}:{}: {}", file.display(), result.line, result.name);
            } else {
                failed += 1;
                println!("FAIL {}:{}: {}", file.display(), result.line, result.name);
                for f in &result.failures {
                    println!("       {f}");
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} example(s) failed");
    }
    Ok(())
}

/// A mapping by id in a set, or by its file (whose set is the directory three levels up:
/// DIR/systems/<system>/<file>).
fn resolve(spec: &str, dir: Option<&Path>) -> anyhow::Result<(MappingSet, Arc<Mapping>)> {
    if spec.ends_with(".toml") {
        let path = Path::new(spec);
        let root = path
            .parent()
            .and_then(Path::parent)
            .and_then(Path::parent)
            .context("a mapping file lives at DIR/systems/<system>/<interface>@<version>.toml")?;
        let set = MappingSet::load_dir(root).map_err(|problems| {
            print_problems(Some(root), &problems);
            anyhow::anyhow!("{}: {} problem(s) (renkei mappings check)", root.display(), problems.0.len())
        })?;
        let relative = path.strip_prefix(root).unwrap_or(path);
        let mapping = set
            .mapping_by_file(relative)
            .cloned()
            .with_context(|| format!("{spec}: not a mapping of {}", root.display()))?;
        return Ok((set, mapping));
    }
    let set = load(dir).map_err(|problems| {
        print_problems(dir, &problems);
        anyhow::anyhow!("{}: {} problem(s) (renkei mappings check)", where_(dir), problems.0.len())
    })?;
    let mapping = set.mapping_by_id(spec).cloned().with_context(|| {
        let ids: Vec<String> = set.mappings().map(|m| m.id.to_string()).collect();
        format!("{}: no mapping {spec:?}; it has {}", where_(dir), ids.join(", "))
    })?;
    Ok((set, mapping))
}

fn shown(text: &str) -> String {
    MojiText::new(text).map(|m| m.escaped()).unwrap_or_else(|_| text.to_owned())
}

fn show_value(v: &Value) -> String {
    match v {
        Value::Text(t) => format!("\"{}\"", shown(t)),
        Value::Date(d) => d.to_string(),
        Value::List(l) => format!("{l:?}"),
    }
}

fn try_record(mapping: &Mapping, record: &Path, from_system: bool) -> anyhow::Result<()> {
    println!(
        "{} — {} ({}, {}, in force from {})",
        mapping.id,
        mapping.title,
        mapping.format.as_str(),
        mapping.charset.as_str(),
        mapping.effective_from
    );
    let is_json = record.extension().is_some_and(|e| e == "json");
    if is_json && !from_system {
        let text =
            std::fs::read_to_string(record).with_context(|| format!("reading {}", record.display()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{}: not JSON", record.display()))?;
        let canonical = CanonicalRecord::from_json(mapping.schema(), &json)
            .map_err(|e| anyhow::anyhow!("{}: {e}", record.display()))?;
        canonical.validate().map_err(|e| {
            anyhow::anyhow!("{}: not a valid canonical {}: {e}", record.display(), mapping.kind.as_str())
        })?;
        let records = mapping.application_records(&canonical).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut out = mapping.new_system();
        let mut report = Report::default();
        let mut shrunk = 0;
        for (n, canonical) in records.iter().enumerate() {
            report.clear();
            mapping
                .to_system(canonical, &mut out, &mut report)
                .map_err(|e| anyhow::anyhow!("{}", e.in_record(format!("{} of {}", n + 1, records.len()))))?;
            if records.len() > 1 {
                println!("record {} of {} (one per subject):", n + 1, records.len());
            }
            println!("canonical → system:");
            for (i, item) in mapping.items.iter().enumerate() {
                let Some(v) = out.get(i) else { continue };
                println!("  {:<40} = {:<30} ← {}", item.label(), show_value(v), item.rule);
                for d in report.degenerations.iter().filter(|d| d.item == i) {
                    let dg = &d.degeneration;
                    println!("      shrunk: {} → {} ({})", shown(&dg.from), dg.to, dg.how);
                }
            }
            let mut bytes = Vec::new();
            mapping.encode(&out, &mut bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("record ({} bytes in {}):", bytes.len(), mapping.charset.as_str());
            println!("{}", shown(&mapping.charset.decode_lossy(&bytes)));
            shrunk += report.degenerations.len();
        }
        if shrunk == 0 {
            println!("nothing was shrunk");
        } else {
            println!("{shrunk} character(s) shrunk (lossy)");
        }
        return Ok(());
    }
    let file = File::open(record).with_context(|| format!("reading {}", record.display()))?;
    let mut lines = BufReader::new(file).split(b'\n');
    if mapping.header {
        lines.next();
    }
    let mut system = mapping.new_system();
    let mut canonical = mapping.new_canonical();
    let (mut shown_records, mut invalid) = (0usize, 0usize);
    for (n, line) in lines.enumerate() {
        let mut line = line?;
        if line.ends_with(b"\r") {
            line.pop();
        }
        if line.is_empty() {
            continue;
        }
        let number = n + 1;
        mapping.decode(&line, &mut system).map_err(|e| anyhow::anyhow!("{}", e.in_record(number)))?;
        mapping
            .to_canonical(&system, &mut canonical)
            .map_err(|e| anyhow::anyhow!("{}", e.in_record(number)))?;
        shown_records += 1;
        println!("record {number}: system → canonical:");
        for (path, value) in canonical.iter() {
            let from: Vec<String> =
                mapping.items.iter().filter(|i| i.canonical.contains(&path)).map(|i| i.label()).collect();
            println!("  {path:<32} = {:<30} ← {}", show_value(value), from.join(", "));
        }
        match canonical.validate() {
            Ok(()) => println!("a valid canonical {}", mapping.kind.as_str()),
            Err(e) => {
                invalid += 1;
                println!("not a valid canonical {}: {e}", mapping.kind.as_str());
            }
        }
    }
    if shown_records == 0 {
        bail!("{}: no record", record.display());
    }
    if invalid > 0 {
        bail!(
            "{invalid} of {shown_records} record(s) are not valid canonical {} records (the rules broken are listed above)",
            mapping.kind.as_str()
        );
    }
    Ok(())
}

struct ConvertArgs {
    from: String,
    to: String,
    input: Option<PathBuf>,
    output: Option<PathBuf>,
    report: Option<PathBuf>,
    refused: Option<PathBuf>,
    threads: Option<usize>,
    max_errors: u64,
    mappings: Option<PathBuf>,
}

fn convert(args: ConvertArgs) -> anyhow::Result<()> {
    let (_set_from, from) = resolve(&args.from, args.mappings.as_deref())?;
    let (_set_to, to) = resolve(&args.to, args.mappings.as_deref())?;
    let mut conversion = Conversion::new(&from, &to).map_err(|e| anyhow::anyhow!(e))?;
    if let Some(t) = args.threads {
        conversion = conversion.threads(t);
    }
    let total_bytes = args.input.as_ref().and_then(|p| std::fs::metadata(p).ok()).map(|m| m.len());
    let input: Box<dyn BufRead + Send> = match &args.input {
        Some(p) => Box::new(BufReader::with_capacity(
            1 << 20,
            File::open(p).with_context(|| format!("reading {}", p.display()))?,
        )),
        None => Box::new(BufReader::with_capacity(1 << 20, std::io::stdin())),
    };
    let output: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(BufWriter::with_capacity(
            1 << 20,
            File::create(p).with_context(|| format!("writing {}", p.display()))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout())),
    };
    let csv = |path: &Option<PathBuf>, header: &str| -> anyhow::Result<Option<BufWriter<File>>> {
        let Some(p) = path else { return Ok(None) };
        let mut w = BufWriter::new(File::create(p).with_context(|| format!("writing {}", p.display()))?);
        writeln!(w, "{header}")?;
        Ok(Some(w))
    };
    let mut report = csv(&args.report, "line,item,from,to,how")?;
    let mut refused = csv(&args.refused, "line,path,rule")?;
    let terminal = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut printed_errors = 0u64;
    let mut report_error = None;
    let totals = conversion.run(input, output, |event| match event {
        Event::Progress { records, bytes } => {
            if terminal && last_progress.elapsed() >= Duration::from_millis(200) {
                last_progress = Instant::now();
                let rate = records as f64 / started.elapsed().as_secs_f64().max(1e-9);
                match total_bytes {
                    Some(total) if total > 0 => eprint!(
                        "\r{records} records ({:.0}%), {rate:.0} records/s   ",
                        bytes as f64 * 100.0 / total as f64
                    ),
                    _ => eprint!("\r{records} records, {rate:.0} records/s   "),
                }
            }
        }
        Event::Failed { error, .. } => {
            printed_errors += 1;
            if printed_errors <= args.max_errors {
                if terminal {
                    eprint!("\r");
                }
                eprintln!("{error}");
            }
        }
        Event::Refused { line, path, rule } => {
            printed_errors += 1;
            if printed_errors <= args.max_errors {
                if terminal {
                    eprint!("\r");
                }
                eprintln!("record line {line}: {path}: {rule} (refused by the canonical model, not written)");
            }
            if let Some(w) = refused.as_mut()
                && let Err(e) = writeln!(w, "{line},{path},\"{rule}\"")
            {
                report_error.get_or_insert(e);
            }
        }
        Event::Shrunk { line, item, from, to, how } => {
            if let Some(w) = report.as_mut()
                && let Err(e) = writeln!(w, "{line},\"{item}\",{},{to},{how}", shown(from))
            {
                report_error.get_or_insert(e);
            }
        }
    })?;
    for w in [report.as_mut(), refused.as_mut()].into_iter().flatten() {
        w.flush()?;
    }
    if let Some(e) = report_error {
        return Err(e).context("writing the shrink report");
    }
    if terminal {
        eprint!("\r");
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{} records read, {} written, {} failed, {} refused by the canonical model, {} with shrunk characters, in {secs:.2} s ({:.0} records/s)",
        totals.records,
        totals.written,
        totals.failed,
        totals.refused,
        totals.shrunk,
        totals.records as f64 / secs.max(1e-9)
    );
    if totals.failed > 0 || totals.refused > 0 {
        bail!(
            "{} record(s) could not be converted and {} were refused by the canonical model (listed above with their line); none of them was written",
            totals.failed,
            totals.refused
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use renkei_mappings::{CanonicalRecord, MappingSet, Report, Value};

    use super::*;

    /// Three atena-extract records: a valid one, one with a 宛名番号 whose check digit does not
    /// match, one with a five-term 続柄.
    fn extract_file(set: &MappingSet, path: &Path) {
        let from = set.mapping_by_id("resident-record/atena-extract@1").unwrap();
        let population = renkei_conformance::population::Population::generate(20, 3);
        let mut bytes = from.file_header().unwrap_or_default();
        for (i, resident) in population.residents().take(3).enumerate() {
            let mut canonical = CanonicalRecord::from_resident(from.schema(), resident);
            if i == 1 {
                let atena = resident.atena_number.as_str();
                let last = (atena.as_bytes()[atena.len() - 1] - b'0' + 1) % 10;
                canonical
                    .set("atena_number", Value::Text(format!("{}{last}", &atena[..atena.len() - 1])))
                    .unwrap();
            }
            if i == 2 {
                canonical.set("relationship", Value::Text("子の子の子の子の子".into())).unwrap();
            }
            let mut system = from.new_system();
            from.to_system(&canonical, &mut system, &mut Report::default()).unwrap();
            from.encode(&system, &mut bytes).unwrap();
            bytes.extend_from_slice(from.record_separator.bytes());
        }
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn convert_refuses_records_the_canonical_model_refuses_and_never_writes_them() {
        let set = MappingSet::embedded().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (input, output, refused) =
            (dir.path().join("in.csv"), dir.path().join("out.dat"), dir.path().join("refused.csv"));
        extract_file(&set, &input);
        let e = convert(ConvertArgs {
            from: "resident-record/atena-extract@1".into(),
            to: "nhi/member@1".into(),
            input: Some(input.clone()),
            output: Some(output.clone()),
            report: None,
            refused: Some(refused.clone()),
            threads: Some(1),
            max_errors: 50,
            mappings: None,
        })
        .unwrap_err();
        assert!(e.to_string().contains("2 were refused by the canonical model"), "{e}");
        let member = set.mapping_by_id("nhi/member@1").unwrap();
        assert_eq!(std::fs::read(&output).unwrap().len(), member.record_length().unwrap() + 2);
        assert_eq!(
            std::fs::read_to_string(&refused).unwrap(),
            "line,path,rule\n3,atena_number,\"check digit does not match\"\n4,relationship,\"続柄 chains hold at most four terms\"\n"
        );
        // try reads every record, and says which are not valid.
        let extract = set.mapping_by_id("resident-record/atena-extract@1").unwrap();
        let e = try_record(extract, &input, true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "2 of 3 record(s) are not valid canonical resident records (the rules broken are listed above)"
        );
    }

    #[test]
    fn try_refuses_an_invalid_canonical_record_and_shows_every_record_of_a_household() {
        let set = MappingSet::embedded().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.json");
        let app = r#"{"procedure":"kokuho.idou","applicant":"0000000019","subjects":["0000000019","0000000027"],
            "fields":{"event_date":"2026-04-01","reason":"move_in"}}"#;
        std::fs::write(&path, app).unwrap();
        let shutoku = set.mapping_by_id("nhi/shikaku-shutoku@1").unwrap();
        try_record(shutoku, &path, false).unwrap();
        std::fs::write(&path, app.replace("0000000027", "0000000028")).unwrap();
        let e = try_record(shutoku, &path, false).unwrap_err().to_string();
        assert!(
            e.ends_with("not a valid canonical application: subjects[1]: check digit does not match"),
            "{e}"
        );
        assert!(!e.contains("0000000028"), "{e}");
    }
}
