//! `renkei qr keygen|make|read`: pre-entry QR codes (docs/qr-pre-entry.md).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use renkei_adapter_intake::{PreEntry, QrSigner, QrVerifier, image};
use renkei_gateway::config::Config;

#[derive(Debug, clap::Args)]
pub(super) struct QrArgs {
    #[command(subcommand)]
    command: QrCommand,
}

#[derive(Debug, clap::Subcommand)]
enum QrCommand {
    /// Make a signing key for the pre-entry service.
    ///
    /// Writes the secret (64 hex digits) to --out, readable by its owner only, and prints the
    /// public key to put in the gateway's configuration:
    ///   [intake]
    ///   qr_keys = { "<key id>" = "<public key>" }
    ///
    /// Example:
    ///   renkei qr keygen --key-id 2026a --out qr-2026a.key
    Keygen {
        /// A short name for the key (1 to 16 ASCII characters), carried in every payload so keys
        /// can be rotated.
        #[arg(long)]
        key_id: String,
        /// Where to write the secret key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Make a signed pre-entry payload from JSON and draw it as a QR code.
    ///
    /// The JSON (a file, or - for standard input) is what the resident filled in:
    ///   {"life_event": "move_in", "event_date": "2026-11-20",
    ///    "applicant": {"name": "葛󠄀西　太郎", "name_kana": "カサイ　タロウ",
    ///                  "birth_date": "1989-01-08", "sex": "male", "relationship": "世帯主"},
    ///    "address": "…", "new_address": "…",
    ///    "members": [{"name": "…", "birth_date": "…", "sex": "female", "relationship": "妻"}],
    ///    "answers": {"school_age_children": "no"}}
    ///
    /// Prints the payload text and its size; --png / --svg also write the picture. A payload
    /// too large for one printable QR code (version 25, level M) is refused.
    ///
    /// Example:
    ///   renkei qr make --key qr-2026a.key --key-id 2026a --png entry.png entry.json
    Make {
        /// The secret key file written by `renkei qr keygen`.
        #[arg(long)]
        key: PathBuf,
        /// The key's id.
        #[arg(long)]
        key_id: String,
        /// Days the code is accepted for.
        #[arg(long, default_value_t = 14)]
        valid_days: u32,
        /// Write the QR code as PNG (4 pixels per module, for receipt printers at 203 dpi).
        #[arg(long)]
        png: Option<PathBuf>,
        /// Write the QR code as SVG.
        #[arg(long)]
        svg: Option<PathBuf>,
        /// The pre-entry as JSON; - reads standard input.
        input: PathBuf,
    },
    /// Check and show a pre-entry payload, from a PNG or the payload text.
    ///
    /// Keys come from --key ID=PUBLICKEY (repeatable) or the [intake].qr_keys of --config.
    /// A tampered, expired, unknown-version, unknown-key or oversize payload is refused with
    /// its own message.
    ///
    /// Examples:
    ///   renkei qr read --config renkei.toml --png entry.png
    ///   renkei qr read --key 2026a=3d40…660c 'RK:…'
    Read {
        /// A PNG holding the QR code.
        #[arg(long, conflicts_with = "payload")]
        png: Option<PathBuf>,
        /// Accepted keys, as ID=PUBLICKEY (64 hex digits).
        #[arg(long = "key", value_name = "ID=PUBLICKEY")]
        keys: Vec<String>,
        /// Take the accepted keys from this gateway configuration.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The payload text ("RK:…").
        payload: Option<String>,
    },
}

pub(super) fn run(args: QrArgs) -> anyhow::Result<()> {
    match args.command {
        QrCommand::Keygen { key_id, out } => keygen(&key_id, &out),
        QrCommand::Make { key, key_id, valid_days, png, svg, input } => {
            make(&key, &key_id, valid_days, png, svg, &input)
        }
        QrCommand::Read { png, keys, config, payload } => read(png, &keys, config, payload),
    }
}

fn keygen(key_id: &str, out: &PathBuf) -> anyhow::Result<()> {
    let signer = QrSigner::generate(key_id)?;
    write_secret(out, &signer.secret_hex()).with_context(|| format!("writing {}", out.display()))?;
    println!("secret key written to {}", out.display());
    println!("[intake]\nqr_keys = {{ \"{}\" = \"{}\" }}", signer.key_id(), signer.public_hex());
    Ok(())
}

#[cfg(unix)]
fn write_secret(path: &PathBuf, hex: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    writeln!(f, "{hex}")
}

#[cfg(not(unix))]
fn write_secret(path: &PathBuf, hex: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{hex}\n"))
}

fn make(
    key: &PathBuf,
    key_id: &str,
    valid_days: u32,
    png: Option<PathBuf>,
    svg: Option<PathBuf>,
    input: &PathBuf,
) -> anyhow::Result<()> {
    let secret = std::fs::read_to_string(key).with_context(|| format!("reading {}", key.display()))?;
    let signer = QrSigner::from_hex(key_id, &secret)?;
    let json = if input.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?
    };
    let entry: PreEntry =
        serde_json::from_str(&json).map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    let now = chrono::Utc::now().timestamp();
    let payload = signer.encode(&entry, now, now + i64::from(valid_days) * 86_400)?;
    let code = image::qr_code(&payload)?;
    if let Some(path) = png {
        std::fs::write(&path, image::to_png(&payload)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = svg {
        std::fs::write(&path, image::to_svg(&payload)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{payload}");
    eprintln!("{} characters, QR version {} (level M)", payload.len(), image::version_of(&code));
    Ok(())
}

fn read(
    png: Option<PathBuf>,
    keys: &[String],
    config: Option<PathBuf>,
    payload: Option<String>,
) -> anyhow::Result<()> {
    let mut accepted = BTreeMap::new();
    if let Some(path) = config {
        accepted.extend(Config::from_file(&path)?.intake.qr_keys);
    }
    for k in keys {
        let (id, hex) = k.split_once('=').with_context(|| format!("--key {k:?}: expected ID=PUBLICKEY"))?;
        accepted.insert(id.to_owned(), hex.to_owned());
    }
    anyhow::ensure!(
        !accepted.is_empty(),
        "no keys to check the signature with: pass --key ID=PUBLICKEY or --config"
    );
    let verifier = QrVerifier::from_hex_keys(&accepted)?;
    let text = match (png, payload) {
        (Some(path), _) => {
            image::read_png(&std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?)?
        }
        (None, Some(text)) => text,
        (None, None) => anyhow::bail!("give the payload text or --png FILE"),
    };
    let verified = verifier.decode(&text, chrono::Utc::now().timestamp())?;
    println!("{}", serde_json::to_string_pretty(&verified.entry)?);
    eprintln!("signed with key {:?}; valid until {} (Unix seconds)", verified.key_id, verified.expires_at);
    Ok(())
}
