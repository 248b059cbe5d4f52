//! How one core system is reached, as the gateway's configuration file says it.
//!
//! ```toml
//! [systems.tax]
//! transport = "rest"
//! base_url = "https://zei.example.lg.jp/api/v1/"
//! ca_file = "/etc/renkei/zei-ca.pem"
//! client_cert_file = "/etc/renkei/renkei.pem"
//! client_key_file = "/etc/renkei/renkei.key"
//! [systems.tax.auth]
//! token_url = "https://zei.example.lg.jp/oauth/token"
//! client_id = "renkei"
//! client_secret_file = "/etc/renkei/zei.secret"
//!
//! [systems.nhi]
//! transport = "file"
//! inbox = "/srv/renkei/nhi/in"      # renkei writes here; the system picks up
//! ack_timeout_ms = 30000            # how long a delivery waits for NAME.ack
//! ```
//!
//! A file's framing and charset are its mapping's, never the transport's. Every table refuses
//! keys it does not know, so a misspelt or retired key stops the gateway instead of being ignored.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::rest::RestConfig;

/// Which transport a system speaks, with its settings. Tagged by `transport = "rest" | "file"`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "transport", rename_all = "kebab-case")]
// Read once at start-up, one per system: boxing the larger variant would save nothing that counts.
#[allow(clippy::large_enum_variant)]
pub enum TransportConfig {
    /// REST/JSON ([`crate::RestClient`]).
    Rest(RestConfig),
    /// Files in a shared directory ([`crate::file`]).
    File(FileTransferConfig),
}

/// A file-transfer system: the directory files go to and how long a delivery waits for the
/// system's answer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileTransferConfig {
    /// The directory renkei writes files into for the system to pick up.
    #[serde(default)]
    pub inbox: Option<PathBuf>,
    /// How long a delivery waits for the system's acknowledgement (`NAME.ack`) of a file it
    /// wrote; a delivery that times out is retried and finds its file still waiting.
    #[serde(default = "default_ack_timeout_ms")]
    pub ack_timeout_ms: u64,
}

fn default_ack_timeout_ms() -> u64 {
    30_000
}

impl TransportConfig {
    /// Checks what serde cannot: ranges and combinations. Messages name the key.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            TransportConfig::Rest(c) => {
                if c.client_cert_file.is_some() != c.client_key_file.is_some() {
                    return Err("client_cert_file and client_key_file go together".into());
                }
                Ok(())
            }
            TransportConfig::File(c) => {
                if c.inbox.is_none() {
                    return Err(
                        "inbox: a file transport needs the directory the system picks files up from".into()
                    );
                }
                if c.ack_timeout_ms == 0 {
                    return Err("ack_timeout_ms must be at least 1".into());
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let TransportConfig::Rest(rest) = &root.systems["tax"] else { panic!("tax is REST") };
        assert_eq!(rest.auth.as_ref().unwrap().client_id, "renkei");
        assert_eq!(rest.timeout_ms, 10_000);
        let TransportConfig::File(nhi) = &root.systems["nhi"] else { panic!("nhi is file") };
        assert_eq!(nhi.inbox.as_deref(), Some(std::path::Path::new("/srv/renkei/nhi/in")));
        assert_eq!(nhi.ack_timeout_ms, 30_000);
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
            "transport = \"file\"\ninbox = \"/i\"\nack_timeout_ms = \"soon\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("\"soon\""), "{e}");
        let c: TransportConfig = toml::from_str("transport = \"file\"\nack_timeout_ms = 1000\n").unwrap();
        assert!(c.validate().unwrap_err().contains("inbox"));
        let c: TransportConfig = toml::from_str("transport = \"file\"\ninbox = \"/i\"\n").unwrap();
        c.validate().unwrap();
    }

    /// Keys that were once accepted and never read: a configuration still naming one is refused,
    /// naming the key, rather than silently doing nothing.
    #[test]
    fn retired_keys_are_refused_by_name() {
        let rest = "transport = \"rest\"\nbase_url = \"x\"\n";
        let file = "transport = \"file\"\ninbox = \"/i\"\n";
        for (base, key) in [
            (rest, "poll_interval_ms = 60000"),
            (file, "poll_interval_ms = 30000"),
            (file, "outbox = \"/o\""),
            (file, "progress_file = \"/o/p.json\""),
            (file, "batch_records = 500"),
            (file, "[records]\nformat = \"csv\"\ncharset = \"utf-8\""),
        ] {
            let e = toml::from_str::<TransportConfig>(&format!("{base}{key}\n")).unwrap_err();
            let name = key.trim_start_matches('[').split([' ', ']']).next().unwrap();
            assert!(e.to_string().contains(&format!("unknown field `{name}`")), "{key}: {e}");
        }
    }
}
