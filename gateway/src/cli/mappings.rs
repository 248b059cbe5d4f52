//! `renkei mappings …`: check, test, try, diff and bulk-convert mapping files.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use renkei_mappings::convert::{Conversion, Event};
use renkei_mappings::{CanonicalKind, CanonicalRecord, Mapping, MappingSet, Report, Value};
use renkei_model::{MojiText, Provenance};

/// Integrators' tools for mapping files (`systems/<system>/<interface>@<version>.toml`), code
/// tables (`codes/`) and the procedure catalog (`procedures/`).
///
/// Without a directory the commands work on the default set built into this binary; copy it
/// out with the repository's `mappings/` directory and point `renkei serve --mappings DIR` at
/// your copy. See mappings/README.md for how to change a field, add a code or add a version for
/// a law change.
#[derive(Debug, clap::Args)]
pub struct MappingsArgs {
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

pub fn run(args: MappingsArgs) -> anyhow::Result<()> {
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
        MappingsCommand::Convert { from, to, input, output, report, threads, max_errors, mappings } => {
            convert(ConvertArgs { from, to, input, output, report, threads, max_errors, mappings })
        }
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
        let mut out = mapping.new_system();
        let mut report = Report::default();
        mapping.to_system(&canonical, &mut out, &mut report).map_err(|e| anyhow::anyhow!("{e}"))?;
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
        if report.is_lossless() {
            println!("nothing was shrunk");
        } else {
            println!("{} character(s) shrunk (lossy)", report.degenerations.len());
        }
        return Ok(());
    }
    let file = File::open(record).with_context(|| format!("reading {}", record.display()))?;
    let mut lines = BufReader::new(file).split(b'\n');
    if mapping.header {
        lines.next();
    }
    let mut line = lines.next().transpose()?.with_context(|| format!("{}: no record", record.display()))?;
    if line.ends_with(b"\r") {
        line.pop();
    }
    let mut system = mapping.new_system();
    mapping.decode(&line, &mut system).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut canonical = mapping.new_canonical();
    mapping.to_canonical(&system, &mut canonical).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("system → canonical:");
    for (path, value) in canonical.iter() {
        let from: Vec<String> =
            mapping.items.iter().filter(|i| i.canonical.contains(&path)).map(|i| i.label()).collect();
        println!("  {path:<32} = {:<30} ← {}", show_value(value), from.join(", "));
    }
    let check = match mapping.kind {
        CanonicalKind::Resident => canonical.to_resident().map(|_| ()),
        CanonicalKind::Application => canonical.to_application(Provenance::Staff).map(|_| ()),
        CanonicalKind::Certificate => {
            canonical.certificate_subject().map(|_| ()).map_err(|e| renkei_model::ValidationErrors(vec![e]))
        }
    };
    match check {
        Ok(()) => println!("a valid canonical {}", mapping.kind.as_str()),
        Err(e) => println!("not a valid canonical {}: {e}", mapping.kind.as_str()),
    }
    Ok(())
}

struct ConvertArgs {
    from: String,
    to: String,
    input: Option<PathBuf>,
    output: Option<PathBuf>,
    report: Option<PathBuf>,
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
    let mut report = match &args.report {
        Some(p) => {
            let mut w = BufWriter::new(File::create(p).with_context(|| format!("writing {}", p.display()))?);
            writeln!(w, "line,item,from,to,how")?;
            Some(w)
        }
        None => None,
    };
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
        Event::Shrunk { line, item, from, to, how } => {
            if let Some(w) = report.as_mut()
                && let Err(e) = writeln!(w, "{line},\"{item}\",{},{to},{how}", shown(from))
            {
                report_error.get_or_insert(e);
            }
        }
    })?;
    if let Some(w) = report.as_mut() {
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
        "{} records read, {} written, {} failed, {} with shrunk characters, in {secs:.2} s ({:.0} records/s)",
        totals.records,
        totals.written,
        totals.failed,
        totals.shrunk,
        totals.records as f64 / secs.max(1e-9)
    );
    if totals.failed > 0 {
        bail!("{} record(s) could not be converted (listed above with their line)", totals.failed);
    }
    Ok(())
}
