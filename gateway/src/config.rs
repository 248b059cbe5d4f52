//! The gateway's configuration: a TOML file, every value with a default, flags on top.
//!
//! ```toml
//! [server]
//! grpc_listen = "127.0.0.1:50051"
//! http_listen = "127.0.0.1:8080"
//! # allow_plaintext = true                 # without [server.tls] on a non-loopback address
//! max_connections = 1024                   # per listener; more are closed at once
//! header_read_timeout_ms = 10000           # a new connection's first bytes; HTTP/1: a request's head or an idle keep-alive
//! tls_handshake_timeout_ms = 10000
//! keepalive_interval_s = 60                # gRPC: HTTP/2 pings on quiet connections …
//! keepalive_timeout_s = 20                 # … and the connection ends when one goes unanswered
//!
//! [server.limits]                          # every request, as it is decoded (docs/SECURITY.md)
//! string_bytes = 1024                      # the longest string, in UTF-8 bytes …
//! list_items = 100                         # … and the most items of a list or map
//! fields = { "renkei.v1.OcrEvidence.json" = 65536, "renkei.v1.QrEvidence.payload" = 2048 }
//!
//! [server.tls]                             # both listeners (docs/SECURITY.md)
//! cert_file = "/etc/renkei/tls/server.pem" # the server's certificate chain (PEM)
//! key_file = "/etc/renkei/tls/server.key"  # its private key (PEM, PKCS#8/PKCS#1/SEC1)
//! # client_ca_file = "/etc/renkei/tls/terminals-ca.pem"  # gRPC: terminals' certificates from this CA
//! # client_certificates = "required"       # or "optional"; the subject's CN is the terminal id
//!
//! [storage]
//! data_dir = "renkei-data"                 # SQLite file renkei.db is created here
//! # key_file = "/etc/renkei/data.key"      # personal data is sealed under it (data_dir/data.key)
//! # database_url = "postgres://renkei@db/renkei"   # instead, when replicas share the work
//!
//! [backup]                                # SQLite: verified generations (docs/OPERATIONS.md)
//! interval_s = 3600                        # 0: off
//! # dir = "/var/backups/renkei"             # data_dir/backups when absent
//! keep_business_days = 2                   # weekends, national holidays and 12/29–1/3 do not count
//!
//! [mappings]
//! # dir = "/etc/renkei/mappings"           # the embedded default set when absent
//! # watch_interval_ms = 2000               # edits are checked and reloaded (0: only on request)
//!
//! [documents]
//! municipality = "横浜市中区"               # printed on the guide and forms
//! # font = "/usr/share/fonts/truetype/ipamj/ipamjm.ttf"
//!
//! [systems.resident-record]               # lookups, the change feed and 住民異動届
//! transport = "rest"
//! base_url = "https://jumin.example.lg.jp/api/v1/"
//! timeout_ms = 10000
//!
//! [systems.tax]                           # 税証明: a request answered with certificate data
//! transport = "rest"
//! base_url = "https://zei.example.lg.jp/api/v1/"
//!
//! [systems.nhi]                           # 国保 異動届 as Shift_JIS CSV files
//! transport = "file"
//! inbox = "/srv/renkei/nhi/in"
//! ack_timeout_ms = 30000
//! feed_inbox = "/srv/renkei/nhi/feed"     # the change feed's files (the inbox when absent)
//! lookup = { base_url = "https://kokuho.example.lg.jp/api/v1/" }   # member lookups
//!
//! [systems.welfare]                       # any system reached through its mapping files alone
//! adapter = "mapped"
//! transport = "rest"
//! base_url = "https://fukushi.example.lg.jp/api/v1/"
//!
//! [delivery]
//! workers = 2                              # per core system
//! max_attempts = 8
//! breaker_failures = 5                     # transport failures in a row that open a system's circuit …
//! breaker_open_ms = 30000                  # … for this long, then one probe
//!
//! [card]
//! counter_readers = { "shiminka-03" = "Virtual PCD 00 00" }   # card events go to that counter's sessions
//!
//! [intake]
//! qr_keys = { "2026a" = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c" }
//! ocr_min_confidence = 0.9
//!
//! [intake.online]
//! max_record_bytes = 262144     # one application element
//! max_file_bytes = 67108864     # one file (also the largest SubmitOnlineApplications message)
//!
//! [auth]                                   # who may call (docs/SECURITY.md)
//! # groups = "/etc/renkei/groups.toml"     # the embedded default groups when absent
//! # token_key_file = "/etc/renkei/token.key"   # token.key in data_dir when absent (created)
//! access_ttl_s = 300                       # an access token's life; Refresh renews it
//! refresh_ttl_s = 28800                    # a login's life without the password again
//! max_failed_logins = 5                    # in a row, then the account is locked …
//! lockout_s = 900                          # … for this long
//! session_idle_s = 1800                    # a counter session unused this long ends
//! calls_per_second = 50                    # per user, sustained; beyond it RESOURCE_EXHAUSTED
//! calls_burst = 200                        # per user, at once
//! # [auth.oidc]                            # also accept the city's identity provider's tokens
//! # issuer = "https://idp.example.lg.jp/realms/city"
//! # audience = "renkei"
//! # jwks_url = "https://idp.example.lg.jp/realms/city/protocol/openid-connect/certs"
//! # groups_claim = "groups"
//! # group_map = { "madoguchi" = "窓口職員" }
//!
//! [audit]                                  # the access log: a hash chain, signed now and then
//! # signing_key_file = "/etc/renkei/audit.key"   # audit.key in data_dir when absent (created)
//! checkpoint_interval_s = 60
//!
//! [telemetry]                              # traces; a `traceparent` goes to the core systems either way
//! # otlp_endpoint = "http://127.0.0.1:4318/v1/traces"   # an OTLP/HTTP collector; none by default
//! service_name = "renkei"
//!
//! [hub]                                    # the resident record's changes, fanned out
//! mode = "pull"                            # or "push": the resident record POSTs /hub/v1/changes
//! poll_interval_ms = 60000                 # at most 600000 (10 minutes)
//! [hub.subscribers.nhi]
//! system = "nhi"                           # files into its feed_inbox, published with NAME.done
//! mapping = "nhi/member"                   # the version in force on each change's date
//! [hub.subscribers.tax]
//! system = "tax"                           # POST {base_url}atena-diff, Idempotency-Key
//! mapping = "resident-record/atena-diff"
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use renkei_auth::{AuthConfig, OidcConfig};
pub use renkei_delivery::config::{
    AdapterKind, DeliveryConfig, HubConfig, HubMode, SubscriberConfig, SystemConfig,
};
use serde::{Deserialize, Serialize};

use crate::storage::{DatabaseUrl, Db};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub mappings: MappingsConfig,
    pub documents: DocumentsConfig,
    /// Core systems by name (`[systems.<name>]`). `resident-record` is needed for lookups;
    /// applications go to the system their procedure names in the catalog.
    pub systems: BTreeMap<String, SystemConfig>,
    pub delivery: DeliveryConfig,
    pub card: CardConfig,
    pub intake: IntakeConfig,
    pub hub: HubConfig,
    pub auth: AuthConfig,
    pub audit: AuditConfig,
    pub backup: crate::backups::BackupConfig,
    pub telemetry: TelemetryConfig,
}

/// Where traces go (`[telemetry]`). Every gRPC call and delivery attempt is a span with a W3C
/// trace context; exporting them is off until `otlp_endpoint` is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// An OTLP/HTTP collector's trace endpoint (`http://host:4318/v1/traces`), spans sent as
    /// protobuf in batches.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` the spans are exported under.
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self { otlp_endpoint: None, service_name: "renkei".into() }
    }
}

impl TelemetryConfig {
    /// The endpoint, if set, when it is an http(s) URL.
    pub fn check(&self) -> Result<(), String> {
        match &self.otlp_endpoint {
            Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => Err(format!(
                "[telemetry].otlp_endpoint: {url:?} is not an http:// or https:// URL of an OTLP/HTTP collector"
            )),
            _ => Ok(()),
        }
    }
}

/// The bounds on every request (`renkei_proto::limits`): strings, lists and maps.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// The longest string, in UTF-8 bytes, of a field `fields` does not name.
    pub string_bytes: usize,
    /// The most items in a repeated field, or entries in a map.
    pub list_items: usize,
    /// The longest string of particular fields, by full name; entries replace the defaults
    /// one by one.
    pub fields: BTreeMap<String, usize>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let limits = renkei_proto::limits::Limits::default();
        Self { string_bytes: limits.string_bytes, list_items: limits.list_items, fields: limits.fields }
    }
}

impl LimitsConfig {
    /// The limits to install; a field name that no request has is an error.
    pub fn limits(&self) -> anyhow::Result<renkei_proto::limits::Limits> {
        let mut fields = renkei_proto::limits::Limits::default().fields;
        fields.extend(self.fields.clone());
        let limits = renkei_proto::limits::Limits {
            string_bytes: self.string_bytes,
            list_items: self.list_items,
            fields,
        };
        if let Some(name) = limits.unknown_field() {
            anyhow::bail!(
                "[server.limits].fields: no request has a field {name:?} (write renkei.v1.Message.field)"
            );
        }
        anyhow::ensure!(
            self.string_bytes > 0 && self.list_items > 0,
            "[server.limits]: bounds must be above 0"
        );
        Ok(limits)
    }
}

/// The access log's signed checkpoints (`renkei audit verify` checks them).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// The Ed25519 key checkpoints are signed with; `audit.key` in the data directory, created
    /// mode 0600 at first start, when absent.
    pub signing_key_file: Option<PathBuf>,
    /// How often the chain's head is signed (seconds; a tail cut off after the last checkpoint is
    /// what cannot be told from a quiet spell).
    pub checkpoint_interval_s: u64,
    /// How long entries stay in the live table (days; at least 365). Older ones are archived
    /// as signed segments in `archive_dir` (`renkei audit verify` checks them too).
    pub retention_days: u32,
    /// Where archived segments go; `audit-archive` in the data directory when absent.
    pub archive_dir: Option<PathBuf>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { signing_key_file: None, checkpoint_interval_s: 60, retention_days: 365, archive_dir: None }
    }
}

impl AuditConfig {
    /// The key file, `data_dir/audit.key` when not configured.
    pub fn key_file(&self, data_dir: &Path) -> PathBuf {
        self.signing_key_file.clone().unwrap_or_else(|| data_dir.join("audit.key"))
    }

    /// The archive directory, `data_dir/audit-archive` when not configured.
    pub fn archive_dir(&self, data_dir: &Path) -> PathBuf {
        self.archive_dir.clone().unwrap_or_else(|| data_dir.join("audit-archive"))
    }
}

/// Card readers (PC/SC through pcscd).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CardConfig {
    /// Watch readers for card insertion and removal (needs pcscd; retried while it is down).
    pub watch: bool,
    /// The reader at each counter (counter id → PC/SC reader name): its card events go to the
    /// sessions watched at that counter.
    pub counter_readers: BTreeMap<String, String>,
}

impl Default for CardConfig {
    fn default() -> Self {
        Self { watch: true, counter_readers: BTreeMap::new() }
    }
}

/// Intake channels other than cards.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeConfig {
    /// Ed25519 public keys (64 hex digits) that pre-entry QR payloads may be signed with, by key
    /// id. A payload signed with any other key is refused.
    pub qr_keys: BTreeMap<String, String>,
    /// OCR fields read with a lower confidence (0..1) are flagged for staff confirmation.
    pub ocr_min_confidence: f64,
    /// Online application files (`[intake.online]`): `max_record_bytes` per application,
    /// `max_file_bytes` per file (AdminService.SubmitOnlineApplications accepts messages that
    /// large).
    pub online: renkei_adapter_intake::OnlineLimits,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self { qr_keys: BTreeMap::new(), ocr_min_confidence: 0.9, online: Default::default() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// gRPC (the counter API, reflection, health).
    pub grpc_listen: SocketAddr,
    /// HTTP (`/healthz`, `/readyz`).
    pub http_listen: SocketAddr,
    /// TLS on both listeners; without it they serve plaintext, which a non-loopback address
    /// allows only with `allow_plaintext`.
    pub tls: Option<TlsConfig>,
    /// Serve plaintext on a non-loopback address (behind a TLS-terminating proxy, say).
    pub allow_plaintext: bool,
    /// Open connections per listener; a connection beyond them is closed as it arrives, so a
    /// flood of idle connections cannot take the descriptors the other listener needs.
    pub max_connections: usize,
    /// How long a new connection may take to send its first bytes (both listeners), and on
    /// HTTP/1 how long a request's head may take, which also ends idle keep-alive connections.
    pub header_read_timeout_ms: u64,
    pub tls_handshake_timeout_ms: u64,
    /// gRPC: HTTP/2 pings on a quiet connection, every this many seconds …
    pub keepalive_interval_s: u64,
    /// … and how long an unanswered ping waits before the connection is closed.
    pub keepalive_timeout_s: u64,
    pub limits: LimitsConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls: None,
            allow_plaintext: false,
            max_connections: 1024,
            header_read_timeout_ms: 10_000,
            tls_handshake_timeout_ms: 10_000,
            keepalive_interval_s: 60,
            keepalive_timeout_s: 20,
            limits: LimitsConfig::default(),
        }
    }
}

/// `[server.tls]`: the server's certificate, and optionally the CA of the counter terminals'
/// client certificates (mutual TLS on the gRPC listener).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, leaf first (PEM).
    pub cert_file: PathBuf,
    /// The certificate's private key (PEM).
    pub key_file: PathBuf,
    /// The city's CA for terminals (PEM). With it, gRPC clients present a certificate it
    /// signed, and its subject's common name becomes the terminal id of their sessions.
    pub client_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub client_certificates: ClientCertificates,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientCertificates {
    /// A gRPC connection without a certificate from `client_ca_file` is refused.
    #[default]
    Required,
    /// A certificate is checked when presented; without one, sessions have no terminal id.
    Optional,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Where the embedded SQLite database lives; created on first start.
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (`postgres://…`) or a SQLite file; overrides `data_dir`.
    pub database_url: Option<String>,
    /// The keyring personal data is sealed with (`renkei_store::sealed`): `data_dir/data.key`,
    /// created mode 0600 at first start, when absent. The environment variable
    /// `RENKEI_DATA_KEYS`, holding the keyring's lines, takes precedence over both.
    pub key_file: Option<PathBuf>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { data_dir: PathBuf::from("renkei-data"), database_url: None, key_file: None }
    }
}

impl StorageConfig {
    /// The keyring file (also when the keys come from the environment: `renkei keys` writes it).
    pub fn key_file(&self) -> PathBuf {
        self.key_file.clone().unwrap_or_else(|| self.data_dir.join("data.key"))
    }

    /// The keyring: from `RENKEI_DATA_KEYS`, or the key file (created when absent).
    pub fn keyring(&self) -> anyhow::Result<renkei_store::Keyring> {
        match std::env::var(renkei_store::sealed::ENV) {
            Ok(text) => renkei_store::Keyring::from_text(&text, renkei_store::sealed::ENV),
            Err(_) => renkei_store::Keyring::load_or_create(&self.key_file()),
        }
        .map_err(|e| anyhow::anyhow!("[storage].key_file: {e}"))
    }

    pub fn database_url(&self) -> DatabaseUrl {
        match &self.database_url {
            Some(url) => DatabaseUrl::parse(url),
            None => Db::sqlite_in(&self.data_dir),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MappingsConfig {
    /// An operator's mapping set; the embedded default set when absent.
    pub dir: Option<PathBuf>,
    /// How often the directory is checked for edits, which are reloaded when they pass the
    /// check (0: never; AdminService.ReloadMappings still reloads on request).
    pub watch_interval_ms: u64,
}

impl Default for MappingsConfig {
    fn default() -> Self {
        Self { dir: None, watch_interval_ms: 2000 }
    }
}

/// The printed documents (guide, forms, receipt).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DocumentsConfig {
    /// The font the documents are set in: IPAmj明朝 (Debian fonts-ipamj-mincho) draws MJ
    /// characters and IVS names with their own glyphs. Read when the first document is made.
    pub font: PathBuf,
    /// The municipality or office named in the documents' heading.
    pub municipality: String,
}

impl Default for DocumentsConfig {
    fn default() -> Self {
        Self { font: PathBuf::from(renkei_documents::Font::DEFAULT_PATH), municipality: String::new() }
    }
}

impl Config {
    /// Read a TOML file; unknown keys are errors, so a typo does not silently keep a default.
    pub fn from_file(path: &Path) -> anyhow::Result<Config> {
        let text =
            std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use renkei_adapter_core::TransportConfig;

    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("config.rs");
        let example: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").trim_start())
            .collect::<Vec<_>>()
            .join("\n");
        let config: Config = toml::from_str(&example).unwrap();
        assert_eq!(config.delivery.max_attempts, 8);
        let TransportConfig::Rest(rest) = &config.systems["resident-record"].transport else {
            panic!("the resident record is REST")
        };
        assert_eq!(rest.timeout_ms, 10_000);
        let nhi = &config.systems["nhi"];
        assert!(matches!(nhi.transport, TransportConfig::File(_)), "{nhi:?}");
        assert_eq!(nhi.adapter_for("nhi"), AdapterKind::Nhi);
        assert!(nhi.lookup.is_some());
        assert_eq!(config.systems["welfare"].adapter_for("welfare"), AdapterKind::Mapped);
        assert_eq!(config.systems["tax"].adapter_for("tax"), AdapterKind::Tax);
        for system in config.systems.values() {
            system.transport.validate().unwrap();
        }
        assert_eq!(config.card.counter_readers["shiminka-03"], "Virtual PCD 00 00");
        assert_eq!(config.intake.qr_keys.len(), 1);
        assert_eq!(config.hub.subscribers["nhi"].mapping, "nhi/member");
        assert_eq!(config.hub.subscribers["tax"].system, "tax");
        assert_eq!(config.systems["nhi"].feed_inbox, Some(PathBuf::from("/srv/renkei/nhi/feed")));
        config.hub.validate().unwrap();
        assert_eq!(
            config.storage.database_url(),
            DatabaseUrl::Sqlite(PathBuf::from("renkei-data/renkei.db"))
        );
    }

    #[test]
    fn the_readme_example_parses() {
        let readme = include_str!("../../README.md");
        let start = readme.find("```toml\n[server]").expect("README has a configuration example") + 8;
        let example = &readme[start..start + readme[start..].find("```").unwrap()];
        let config: Config = toml::from_str(example).unwrap();
        config.hub.validate().unwrap();
        assert!(config.systems.contains_key("nhi"));
        assert_eq!(config.hub.subscribers["nhi"].mapping, "nhi/member");
    }

    #[test]
    fn a_subscriber_names_a_system_and_two_may_not_send_it_the_same_interface() {
        let text = "[systems.nhi]\ntransport = \"file\"\ninbox = \"/srv/nhi\"\nfeed_inbox = \"/srv/nhi-feed\"\n\n\
                    [hub.subscribers.nhi]\nsystem = \"nhi\"\nmapping = \"nhi/member\"\n\n\
                    [hub.subscribers.nhi-again]\nsystem = \"nhi\"\nmapping = \"nhi/member\"\n";
        let config: Config = toml::from_str(text).unwrap();
        assert_eq!(
            config.hub.validate().unwrap_err(),
            "[hub.subscribers.nhi-again]: sends nhi/member to nhi as [hub.subscribers.nhi] does"
        );
        // The old keys of a subscriber (its own URL or directory) are refused, not ignored.
        let e = toml::from_str::<Config>(
            "[hub.subscribers.nhi]\nsystem = \"nhi\"\nmapping = \"nhi/member\"\ninbox = \"/srv\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("inbox"), "{e}");
        let e = toml::from_str::<Config>("[hub.subscribers.nhi]\nsystem = \"nhi\"\nmapping = \"member\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("write system/interface (nhi/kisai-henko)"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = toml::from_str::<Config>("[delivery]\nmax_attempt = 3\n").unwrap_err();
        assert!(e.to_string().contains("max_attempt"), "{e}");
        let e = toml::from_str::<Config>(
            "[systems.tax]\ntransport = \"rest\"\nbase_url = \"x\"\nbase_uri = \"y\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("base_uri"), "{e}");
        let e = toml::from_str::<Config>(
            "[systems.tax]\nadapter = \"fax\"\ntransport = \"rest\"\nbase_url = \"x\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("fax"), "{e}");
    }

    #[test]
    fn retired_system_keys_are_refused_naming_the_key_and_the_table() {
        for (table, key) in [
            ("[systems.nhi]\ntransport = \"file\"\ninbox = \"/i\"\n", "outbox = \"/o\""),
            ("[systems.nhi]\ntransport = \"file\"\ninbox = \"/i\"\n", "poll_interval_ms = 30000"),
            ("[systems.tax]\ntransport = \"rest\"\nbase_url = \"x\"\n", "poll_interval_ms = 60000"),
        ] {
            let e = toml::from_str::<Config>(&format!("{table}{key}\n")).unwrap_err().to_string();
            let name = key.split(' ').next().unwrap();
            let system = &table[1..table.find(']').unwrap()];
            assert!(e.contains(&format!("unknown field `{name}`")) && e.contains(system), "{key}: {e}");
        }
    }
}
