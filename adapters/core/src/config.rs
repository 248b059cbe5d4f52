//! How one core system is reached, as the gateway's configuration file says it.
//!
//! ```toml
//! [systems.tax]
//! transport = "rest"
//! base_url = "https://zei.example.lg.jp/api/v1/"
//! ca_file = "/etc/renkei/zei-ca.pem"
//! client_cert_file = "/etc/renkei/renkei.pem"
//! client_key_file = "/etc/renkei/renkei.key"
//! poll_interval_ms = 60000
//! [systems.tax.auth]
//! token_url = "https://zei.example.lg.jp/oauth/token"
//! client_id = "renkei"
//! client_secret_file = "/etc/renkei/zei.secret"
//!
//! [systems.nhi]
//! transport = "file"
//! inbox = "/srv/renkei/nhi/in"      # renkei writes here; the system picks up
//! outbox = "/srv/renkei/nhi/out"    # the system writes here; renkei picks up
//! poll_interval_ms = 30000
//! ack_timeout_ms = 30000            # how long a delivery waits for NAME.ack
//! [systems.nhi.records]             # for adapters without a mapping; a mapping's layout wins
//! format = "fixed"                  # or "csv", "xml"
//! charset = "shift_jis"             # or "cp932" (Windows-31J), "utf-8"
//! terminator = "crlf"
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::file::RecordFormat;
use crate::rest::RestConfig;

/// Which transport a system speaks, with its settings. Tagged by `transport = "rest" | "file"`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "transport", rename_all = "kebab-case")]
pub enum TransportConfig {
    /// REST/JSON ([`crate::RestClient`]).
    Rest(RestConfig),
    /// Record files in shared directories ([`crate::file`]).
    File(FileTransferConfig),
}

fn default_poll_interval_ms() -> u64 {
    60_000
}

/// A file-transfer system: where files go and come from, what they look like, how often the
/// outbox is looked at.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileTransferConfig {
    /// The directory renkei writes files into for the system to pick up.
    #[serde(default)]
    pub inbox: Option<PathBuf>,
    /// The directory the system writes files into for renkei to pick up.
    #[serde(default)]
    pub outbox: Option<PathBuf>,
    /// Where pick-up progress is kept when the caller does not keep it itself; by default
    /// `.renkei-pickup.json` in the outbox.
    #[serde(default)]
    pub progress_file: Option<PathBuf>,
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Records handed over per batch (and per progress save) when picking up.
    #[serde(default = "default_batch_records")]
    pub batch_records: usize,
    /// How long a delivery waits for the system's acknowledgement (`NAME.ack`) of a file it
    /// wrote; a delivery that times out is retried and finds its file still waiting.
    #[serde(default = "default_ack_timeout_ms")]
    pub ack_timeout_ms: u64,
    /// How records are framed when this configuration says it; adapters driven by mapping
    /// files take the framing and charset from the mapping instead.
    #[serde(default)]
    pub records: Option<RecordFormat>,
}

fn default_ack_timeout_ms() -> u64 {
    30_000
}

fn default_batch_records() -> usize {
    500
}

/// The longest poll interval the change feed allows (the resident record's differences are due
/// at least every 10 minutes).
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(600);

impl TransportConfig {
    /// How often the system is polled.
    pub fn poll_interval(&self) -> Duration {
        let ms = match self {
            TransportConfig::Rest(c) => c.poll_interval_ms,
            TransportConfig::File(c) => c.poll_interval_ms,
        };
        Duration::from_millis(ms)
    }

    /// Checks what serde cannot: ranges and combinations. Messages name the key.
    pub fn validate(&self) -> Result<(), String> {
        let interval = self.poll_interval();
        if interval.is_zero() || interval > MAX_POLL_INTERVAL {
            return Err(format!("poll_interval_ms: {} is outside 1..=600000", interval.as_millis()));
        }
        match self {
            TransportConfig::Rest(c) => {
                if c.client_cert_file.is_some() != c.client_key_file.is_some() {
                    return Err("client_cert_file and client_key_file go together".into());
                }
                Ok(())
            }
            TransportConfig::File(c) => {
                if c.inbox.is_none() && c.outbox.is_none() {
                    return Err("a file transport needs inbox, outbox or both".into());
                }
                if c.batch_records == 0 {
                    return Err("batch_records must be at least 1".into());
                }
                if c.ack_timeout_ms == 0 {
                    return Err("ack_timeout_ms must be at least 1".into());
                }
                c.records.as_ref().map_or(Ok(()), RecordFormat::validate)
            }
        }
    }
}

impl FileTransferConfig {
    /// The progress file: the configured one, or `.renkei-pickup.json` in the outbox.
    pub fn progress_path(&self) -> Option<PathBuf> {
        self.progress_file.clone().or_else(|| self.outbox.as_ref().map(|o| o.join(".renkei-pickup.json")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::{Charset, Format};

    #[test]
    fn both_transports_parse_from_toml() {
        #[derive(Deserialize)]
        struct Root {
            systems: std::collections::BTreeMap<String, TransportConfig>,
        }
        // The module documentation's example, without the comment markers.
        let example: String = include_str!("config.rs")
            .split("//! ```")
            .nth(1)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.trim_start_matches("//!").trim_start_matches(' '))
            .collect::<Vec<_>>()
            .join("\n");
        let root: Root = toml::from_str(&example).unwrap();
        let tax = &root.systems["tax"];
        assert_eq!(tax.poll_interval(), Duration::from_secs(60));
        let TransportConfig::Rest(rest) = tax else { panic!("tax is REST") };
        assert_eq!(rest.auth.as_ref().unwrap().client_id, "renkei");
        assert_eq!(rest.timeout_ms, 10_000);
        let TransportConfig::File(nhi) = &root.systems["nhi"] else { panic!("nhi is file") };
        let records = nhi.records.as_ref().unwrap();
        assert_eq!(records.format, Format::Fixed);
        assert_eq!(records.charset, Charset::ShiftJis);
        assert_eq!(nhi.progress_path().unwrap(), PathBuf::from("/srv/renkei/nhi/out/.renkei-pickup.json"));
        for system in root.systems.values() {
            system.validate().unwrap();
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let e =
            toml::from_str::<TransportConfig>("transport = \"rest\"\nbase_url = \"x\"\nbase_uri = \"y\"\n")
                .unwrap_err();
        assert!(e.to_string().contains("base_uri"), "{e}");
        let e = toml::from_str::<TransportConfig>(
            "transport = \"file\"\noutbox = \"/o\"\n[records]\nformat = \"csv\"\ncharset = \"euc-jp\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("euc-jp"), "{e}");
        let c: TransportConfig =
            toml::from_str("transport = \"rest\"\nbase_url = \"x\"\npoll_interval_ms = 900000\n").unwrap();
        assert!(c.validate().unwrap_err().contains("poll_interval_ms"));
        let c: TransportConfig =
            toml::from_str("transport = \"file\"\n[records]\nformat = \"csv\"\ncharset = \"utf-8\"\n")
                .unwrap();
        assert!(c.validate().unwrap_err().contains("inbox, outbox"));
        let c: TransportConfig = toml::from_str("transport = \"file\"\ninbox = \"/i\"\n").unwrap();
        c.validate().unwrap();
    }
}
