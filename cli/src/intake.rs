//! `renkei intake online FILE`: read a file of online application XML through its mapping and
//! show the applications it holds, or why each was refused — what the gateway's
//! SubmitOnlineApplications would commit, without committing anything.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use renkei_adapter_intake::online::{DEFAULT_MAPPING, OnlineBatch, OnlineIntake, OnlineLimits};

#[derive(Debug, clap::Args)]
pub(super) struct IntakeArgs {
    #[command(subcommand)]
    command: IntakeCommand,
}

#[derive(Debug, clap::Subcommand)]
enum IntakeCommand {
    /// Read a file of online application XML (UTF-8 or Shift_JIS, as the mapping says).
    ///
    /// Prints each application (procedure, applicant, subjects, form fields) and each refusal
    /// as FILE:LINE:COLUMN: application N: FIELD: RULE. Malformed XML, bytes not valid in the
    /// charset and a file or application over its limit stop the file; an unknown element or
    /// an invalid application refuses that application and the rest is read. Exits non-zero
    /// when anything was refused.
    ///
    /// Examples:
    ///   renkei intake online shinsei-20260410.xml
    ///   renkei intake online --mappings ./mappings --mapping online/shinsei@1 --json shinsei.xml
    Online {
        /// The XML mapping to read with (system/interface@version).
        #[arg(long, default_value = DEFAULT_MAPPING)]
        mapping: String,
        /// An operator's mapping set; the built-in set otherwise.
        #[arg(long)]
        mappings: Option<PathBuf>,
        /// Print one JSON object: {"applications": [...], "refused": [...]}.
        #[arg(long)]
        json: bool,
        /// Largest application element, in bytes.
        #[arg(long, default_value_t = OnlineLimits::default().max_record_bytes)]
        max_record_bytes: u64,
        /// Largest file, in bytes.
        #[arg(long, default_value_t = OnlineLimits::default().max_file_bytes)]
        max_file_bytes: u64,
        /// The file.
        file: PathBuf,
    },
}

/// Run the command; `Ok(false)` when something was refused.
pub(super) fn run(args: IntakeArgs, out: &mut impl Write) -> anyhow::Result<bool> {
    match args.command {
        IntakeCommand::Online { mapping, mappings, json, max_record_bytes, max_file_bytes, file } => {
            let set = super::mappings::load(mappings.as_deref()).map_err(|p| anyhow::anyhow!("{p}"))?;
            let limits = OnlineLimits { max_record_bytes, max_file_bytes };
            let intake = OnlineIntake::new(&set, Some(&mapping), limits).map_err(anyhow::Error::msg)?;
            let batch = read(&intake, &file)?;
            if json {
                serde_json::to_writer_pretty(&mut *out, &batch)?;
                writeln!(out)?;
            } else {
                show(&batch, out)?;
            }
            Ok(batch.refused.is_empty())
        }
    }
}

fn read(intake: &OnlineIntake, file: &Path) -> anyhow::Result<OnlineBatch> {
    let input = std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
    Ok(intake.read(&file.display().to_string(), input))
}

fn show(batch: &OnlineBatch, out: &mut impl Write) -> anyhow::Result<()> {
    for online in &batch.applications {
        let app = &online.application;
        writeln!(
            out,
            "application {} ({}:{}): {} applicant {}",
            online.record, online.line, online.column, app.procedure, app.applicant
        )?;
        if let Some(event) = app.life_event {
            writeln!(out, "  life_event: {}", event.code())?;
        }
        if !app.subjects.is_empty() {
            let subjects: Vec<&str> = app.subjects.iter().map(|s| s.as_str()).collect();
            writeln!(out, "  subjects: {}", subjects.join(", "))?;
        }
        for (name, field) in &app.fields {
            writeln!(out, "  {name}: {}", field.value)?;
        }
    }
    for refusal in &batch.refused {
        writeln!(out, "refused: {refusal}")?;
    }
    writeln!(
        out,
        "{} application(s) read, {} refusal(s){}",
        batch.applications.len(),
        batch.refused.len(),
        if batch.complete() { "" } else { "; the file was not read to its end" }
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../adapters/intake/testdata/shinsei.xml");

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Top,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Top {
        Intake(IntakeArgs),
    }

    /// `renkei intake …` with `args`: (succeeded, output).
    fn run_with(args: &[&str]) -> (bool, String) {
        let Top::Intake(parsed) =
            Cli::try_parse_from(["renkei", "intake"].iter().chain(args)).unwrap().command;
        let mut out = Vec::new();
        let ok = run(parsed, &mut out).unwrap();
        (ok, String::from_utf8(out).unwrap())
    }

    #[test]
    fn prints_the_applications_of_a_good_file() {
        let (ok, out) = run_with(&["online", SAMPLE]);
        assert!(ok, "{out}");
        assert!(out.contains("application 1 (3:3): jidou.teate applicant 0000000019\n"), "{out}");
        assert!(out.contains("  subjects: 0000000027, 0000000035\n"), "{out}");
        assert!(out.contains("  life_event: birth\n"), "{out}");
        assert!(out.contains("application 2 (20:3): hoiku.moushikomi applicant 0000000043\n"), "{out}");
        assert!(
            out.contains("  household.members: 山田　恵（世帯主・34歳）、山田　さくら（子・1歳）\n"),
            "{out}"
        );
        assert!(out.ends_with("2 application(s) read, 0 refusal(s)\n"), "{out}");
    }

    #[test]
    fn prints_refusals_with_position_and_fails() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("broken.xml");
        let text = std::fs::read_to_string(SAMPLE).unwrap().replace("<Nenkin>", "<Bikou>x</Bikou><Nenkin>");
        std::fs::write(&file, text).unwrap();
        let (ok, out) = run_with(&["online", file.to_str().unwrap()]);
        assert!(!ok);
        let expected = format!(
            "refused: {}:15:7: application 1: ShinseiData/JidouTeate/Bikou: unknown element: the mapping has no item there\n",
            file.display()
        );
        assert!(out.contains(&expected), "{out}");
        assert!(out.ends_with("1 application(s) read, 1 refusal(s)\n"), "{out}");

        let (ok, out) = run_with(&["online", "--max-record-bytes", "200", "--json", file.to_str().unwrap()]);
        assert!(!ok);
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(json["applications"].as_array().unwrap().len(), 0);
        assert_eq!(json["refused"][0]["kind"], "too_large");
        assert_eq!(json["refused"][0]["record"], 1);
    }

    #[test]
    fn json_output_carries_the_applications() {
        let (ok, out) = run_with(&["online", "--json", SAMPLE]);
        assert!(ok);
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        let first = &json["applications"][0];
        assert_eq!((first["record"].as_u64(), first["line"].as_u64()), (Some(1), Some(3)));
        assert_eq!(first["application"]["procedure"], "jidou.teate");
        assert_eq!(first["application"]["fields"]["claimant.name"]["provenance"], "online");
        assert_eq!(json["refused"], serde_json::json!([]));
    }
}
