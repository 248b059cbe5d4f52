//! `renkei render`: print the documents of a visit through a running gateway's API.

use std::path::PathBuf;

use anyhow::Context;
use renkei_proto::v1 as pb;
use renkei_proto::v1::counter_service_client::CounterServiceClient;
use tonic::transport::Channel;

#[derive(Debug, clap::Args)]
pub(super) struct RenderArgs {
    /// The gateway's gRPC address.
    #[arg(long, default_value = "http://127.0.0.1:50051", global = true)]
    gateway: String,
    /// An access token (AuthService.Login, or `renkei users token`); the staff member is its user.
    #[arg(long, env = "RENKEI_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// Where to write the PDF.
    #[arg(long, short, global = true)]
    out: Option<PathBuf>,
    #[command(subcommand)]
    document: Document,
}

#[derive(Debug, clap::Subcommand)]
enum Document {
    /// The procedure guide (手続案内書) of a life event for a resident: the procedures planned,
    /// in order, which window, what to bring, and the reception 2D code.
    ///
    /// Example:
    ///   renkei render guide --event move_in --atena 0000000019 --answer employee_insurance=いいえ -o guide.pdf
    Guide {
        /// The life event: move_in, move_in_from_abroad, move_out, move_out_abroad, move_within,
        /// birth, death, marriage, divorce, household_change (or its label, 転入 …).
        #[arg(long)]
        event: String,
        /// 宛名番号 of the person the event concerns.
        #[arg(long)]
        atena: String,
        /// An answer to a planning question, `id=answer`; repeat for several.
        #[arg(long = "answer", value_parser = parse_answer)]
        answers: Vec<(String, String)>,
    },
    /// A procedure's application form (申請書), prefilled from the resident record.
    ///
    /// Example:
    ///   renkei render form --procedure kokuho.idou --atena 0000000019 --event move_in -o kokuho.pdf
    Form {
        /// The procedure id in the catalog (kokuho.idou).
        #[arg(long)]
        procedure: String,
        /// 宛名番号 of the applicant.
        #[arg(long)]
        atena: String,
        /// The life event the form follows, if any.
        #[arg(long)]
        event: Option<String>,
        #[arg(long = "answer", value_parser = parse_answer)]
        answers: Vec<(String, String)>,
    },
    /// The reception receipt (受付票) with its 2D code.
    Receipt {
        /// The number the resident is called by.
        #[arg(long)]
        number: String,
        /// Procedure ids to list on it; repeat for several.
        #[arg(long = "procedure")]
        procedures: Vec<String>,
    },
}

fn parse_answer(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .ok_or_else(|| format!("{s:?}: write an answer as id=answer (employee_insurance=いいえ)"))
}

fn life_event(s: &str) -> anyhow::Result<i32> {
    use renkei_model::LifeEvent as E;
    let event: E = s.parse().map_err(|_| {
        anyhow::anyhow!(
            "--event {s:?}: not a life event; use one of {}",
            E::ALL.iter().map(|e| e.code()).collect::<Vec<_>>().join(", ")
        )
    })?;
    Ok(match event {
        E::MoveIn => pb::LifeEvent::MoveIn,
        E::MoveInFromAbroad => pb::LifeEvent::MoveInFromAbroad,
        E::MoveOut => pb::LifeEvent::MoveOut,
        E::MoveOutAbroad => pb::LifeEvent::MoveOutAbroad,
        E::MoveWithin => pb::LifeEvent::MoveWithin,
        E::Birth => pb::LifeEvent::Birth,
        E::Death => pb::LifeEvent::Death,
        E::Marriage => pb::LifeEvent::Marriage,
        E::Divorce => pb::LifeEvent::Divorce,
        E::HouseholdChange => pb::LifeEvent::HouseholdChange,
    } as i32)
}

pub(super) async fn run(args: RenderArgs) -> anyhow::Result<()> {
    let channel = Channel::from_shared(args.gateway.clone())
        .context("--gateway is not a URL")?
        .connect()
        .await
        .with_context(|| {
            format!("cannot reach the gateway at {} (is `renkei serve` running?)", args.gateway)
        })?;
    let token =
        args.token.as_deref().context("--token (or RENKEI_TOKEN): log in first (AuthService.Login)")?;
    let bearer = renkei_proto::Bearer::new(token).context("--token is not a usable token")?;
    let mut counter = CounterServiceClient::new(bearer.on(channel));
    let session_id = counter
        .open_session(pb::OpenSessionRequest { counter_id: "renkei-render".into() })
        .await?
        .into_inner()
        .session_id;
    let document = match args.document {
        Document::Guide { event, atena, answers } => counter
            .render_guide(pb::RenderGuideRequest {
                session_id,
                life_event: life_event(&event)?,
                atena_number: atena,
                answers: answers.into_iter().collect(),
            })
            .await?
            .into_inner(),
        Document::Form { procedure, atena, event, answers } => {
            let life_event = event.as_deref().map(life_event).transpose()?.unwrap_or(0);
            let forms = counter
                .prefill_applications(pb::PrefillApplicationsRequest {
                    session_id: session_id.clone(),
                    procedure_ids: vec![procedure.clone()],
                    applicant_atena_number: atena.clone(),
                    life_event,
                    answers: answers.into_iter().collect(),
                    ..Default::default()
                })
                .await?
                .into_inner()
                .forms;
            let form = forms.into_iter().next().context("the gateway returned no form")?;
            if !form.missing_fields.is_empty() {
                eprintln!("still to be written on the form: {}", form.missing_fields.join(", "));
            }
            counter
                .render_form(pb::RenderFormRequest {
                    session_id,
                    application: Some(pb::ApplicationDraft {
                        procedure_id: procedure,
                        applicant_atena_number: atena,
                        subject_atena_numbers: form.subject_atena_numbers,
                        life_event,
                        fields: form.fields,
                    }),
                })
                .await?
                .into_inner()
        }
        Document::Receipt { number, procedures } => counter
            .render_receipt(pb::RenderReceiptRequest { session_id, number, procedure_ids: procedures })
            .await?
            .into_inner(),
    };
    if !document.missing_glyphs.is_empty() {
        eprintln!("the font has no glyph for {} (printed blank)", document.missing_glyphs.join(" "));
    }
    for sequence in &document.plain_variation_sequences {
        eprintln!("the font has no variant glyph for {sequence} (printed with the base character's glyph)");
    }
    let out = args.out.unwrap_or_else(|| PathBuf::from(&document.file_name));
    std::fs::write(&out, &document.pdf).with_context(|| format!("writing {}", out.display()))?;
    println!("{} ({} bytes)", out.display(), document.pdf.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_events_are_read_as_the_help_says() {
        assert_eq!(
            parse_answer("employee_insurance=いいえ").unwrap(),
            ("employee_insurance".into(), "いいえ".into())
        );
        assert!(parse_answer("employee_insurance").unwrap_err().contains("id=answer"));
        assert_eq!(life_event("move_in").unwrap(), pb::LifeEvent::MoveIn as i32);
        assert_eq!(life_event("死亡").unwrap(), pb::LifeEvent::Death as i32);
        assert!(life_event("引越し").unwrap_err().to_string().contains("move_in_from_abroad"));
    }
}
