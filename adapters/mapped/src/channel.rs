//! How an encoded record reaches a system: a REST call or a file in its inbox.
//!
//! - REST: `POST {base_url}/{interface}` with the record as the body (`application/json`,
//!   `text/csv; charset=…` or `application/octet-stream` for fixed-length records) and an
//!   `Idempotency-Key` header. 201 is a first receipt, 200 the receipt of an earlier request with
//!   the same key, 422 a refusal; anything else is a transport error (5xx retried).
//! - File: the record file `{interface}-{key}.{json|csv|dat}` is published into the inbox with
//!   its completion file (see `renkei_adapter_core::file`); the system answers with the
//!   acknowledgement `NAME.ack` beside it: `status=accepted|duplicate|refused|failed`,
//!   `reference=` (受付番号), `reason=`. The file name carries the idempotency key, so a retry
//!   that finds its file still waiting does not write it again; a `failed` acknowledgement (the
//!   system could not take the file) clears the file so that the next attempt writes it afresh.
//!
//! The resident record's changes ([`Channel::send_feed`]) travel the same way, a batch at a time
//! under a key made of its seq range:
//!
//! - REST: `POST {base_url}/{interface}` with `{"batch": KEY, "first_seq": …, "last_seq": …,
//!   "records": [{…}, …]}` (the records in the interface's JSON layout) and `Idempotency-Key:
//!   KEY`; any 2xx takes the batch, anything else is retried.
//! - File: `{interface}-{first:010}-{last:010}.{jsonl|csv|dat|xml}` — the layout's header, then
//!   each record with its separator — published with its completion file into the system's feed
//!   directory (its inbox unless configured apart). Publishing is the delivery: the system takes
//!   the files at its own pace and acknowledges none. A batch sent again after a crash finds its
//!   file and is not written twice (a file published without its completion file gets it).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use renkei_adapter_core::file::{AtomicFile, FileError, Marker};
use renkei_adapter_core::{RequestBody, RestClient, TransportConfig, TransportError};
use renkei_mappings::{Charset, Format, Mapping};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};

/// The header a REST answer whose body is data (a certificate) carries its 受付番号 in.
pub const UKETSUKE_HEADER: &str = "uketsuke-no";

/// How often a delivery looks for its acknowledgement file.
const ACK_POLL: Duration = Duration::from_millis(25);

/// One system's transport, as configured.
#[derive(Debug, Clone)]
pub enum Channel {
    Rest(RestClient),
    File(FileChannel),
}

/// A file-transfer system's directories and patience.
#[derive(Debug, Clone)]
pub struct FileChannel {
    system: String,
    inbox: PathBuf,
    /// Where the change feed's files go: the inbox unless the system takes them apart.
    feed_inbox: PathBuf,
    ack_timeout: Duration,
}

/// A batch of the resident record's changes for one subscriber: records already encoded in
/// `mapping`'s layout, covering seqs `first_seq..=last_seq`.
#[derive(Debug, Clone, Copy)]
pub struct FeedBatch<'a> {
    /// The subscriber (the feed's cursor) sending it: part of the REST key, so that two
    /// subscribers' batches of the same range stay apart.
    pub subscriber: &'a str,
    pub first_seq: i64,
    pub last_seq: i64,
    /// Which run of the range (1, 2 …) when a new version of the mapping took effect inside
    /// it, each run going through its own version; `None` for a whole range.
    pub part: Option<usize>,
    pub mapping: &'a Mapping,
    pub records: &'a [Vec<u8>],
}

impl FeedBatch<'_> {
    /// `0000000001-0000000050` (`.2` for a run): the same for the same batch after a restart.
    fn range(&self) -> String {
        let part = self.part.map(|p| format!(".{p}")).unwrap_or_default();
        format!("{:010}-{:010}{part}", self.first_seq, self.last_seq)
    }
}

/// An encoded record on its way to the system.
#[derive(Debug, Clone)]
pub struct Submission<'a> {
    /// The interface (`shikaku-shutoku`): the REST path, the file name's prefix.
    pub interface: &'a str,
    pub idempotency_key: &'a str,
    pub body: Vec<u8>,
    pub format: Format,
    pub charset: Charset,
}

/// What the system answered to a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Accepted {
        /// The system had seen the idempotency key before.
        duplicate: bool,
        /// The 受付番号 from a file acknowledgement or the `Uketsuke-No` header (JSON answers
        /// may carry theirs in `body` instead).
        reference: Option<String>,
        /// The REST answer's body; empty for files.
        body: Bytes,
    },
    /// The system refused the content (REST 422, `status=refused`): resending will not help.
    Refused { reason: String },
}

impl Channel {
    /// The channel `config` describes for `system`.
    pub fn new(system: &str, config: &TransportConfig) -> Result<Channel, TransportError> {
        config.validate().map_err(|message| TransportError::Config { system: system.to_owned(), message })?;
        match config {
            TransportConfig::Rest(rest) => Ok(Channel::Rest(RestClient::new(system, rest)?)),
            TransportConfig::File(file) => {
                let inbox = file.inbox.clone().ok_or_else(|| TransportError::Config {
                    system: system.to_owned(),
                    message: "inbox: deliveries need the directory the system picks files up from".into(),
                })?;
                Ok(Channel::File(FileChannel {
                    system: system.to_owned(),
                    feed_inbox: inbox.clone(),
                    inbox,
                    ack_timeout: Duration::from_millis(file.ack_timeout_ms),
                }))
            }
        }
    }

    /// The same channel with the change feed's files going to `dir` instead of the inbox. Only a
    /// file-transfer system has such a directory.
    pub fn with_feed_inbox(self, dir: PathBuf) -> Result<Channel, TransportError> {
        match self {
            Channel::File(file) => Ok(Channel::File(FileChannel { feed_inbox: dir, ..file })),
            Channel::Rest(rest) => Err(TransportError::Config {
                system: rest.system().to_owned(),
                message: "feed_inbox: the system is reached over REST, and so is its change feed".into(),
            }),
        }
    }

    /// The directory the change feed's files go into (none for REST).
    pub fn feed_inbox(&self) -> Option<&Path> {
        match self {
            Channel::File(file) => Some(&file.feed_inbox),
            Channel::Rest(_) => None,
        }
    }

    pub fn system(&self) -> &str {
        match self {
            Channel::Rest(rest) => rest.system(),
            Channel::File(file) => &file.system,
        }
    }

    /// The REST client, for calls other than submissions (lookups).
    pub fn rest(&self) -> Option<&RestClient> {
        match self {
            Channel::Rest(rest) => Some(rest),
            Channel::File(_) => None,
        }
    }

    /// Hand one encoded record to the system and wait for its answer.
    pub async fn submit(&self, submission: Submission<'_>) -> Result<Answer, TransportError> {
        match self {
            Channel::Rest(rest) => submit_rest(rest, submission).await,
            Channel::File(file) => file.submit(submission).await,
        }
    }

    /// Hand a batch of the change feed to the system; `Ok` once it has it (see the module).
    pub async fn send_feed(&self, batch: FeedBatch<'_>) -> Result<(), TransportError> {
        match self {
            Channel::Rest(rest) => send_feed_rest(rest, batch).await,
            Channel::File(file) => file.send_feed(batch).await,
        }
    }

    /// Whether the system answers (REST `GET health`) or its inbox is there and writable.
    pub async fn health(&self) -> Result<(), TransportError> {
        match self {
            Channel::Rest(rest) => rest.get_json::<serde_json::Value>("health", "health").await.map(|_| ()),
            Channel::File(file) => {
                let meta =
                    std::fs::metadata(&file.inbox).map_err(|e| file.io_error("health", &file.inbox, e))?;
                if meta.permissions().readonly() || !meta.is_dir() {
                    return Err(TransportError::Other {
                        system: file.system.clone(),
                        operation: "health".into(),
                        message: format!("{}: not a writable directory", file.inbox.display()),
                    });
                }
                Ok(())
            }
        }
    }
}

fn content_type(format: Format, charset: Charset) -> &'static str {
    match (format, charset) {
        (Format::Json, _) => "application/json",
        (Format::Csv, Charset::Utf8) => "text/csv; charset=utf-8",
        (Format::Csv, Charset::Cp932) => "text/csv; charset=Windows-31J",
        (Format::Csv, _) => "text/csv; charset=Shift_JIS",
        (Format::Fixed, _) => "application/octet-stream",
        (Format::Xml, Charset::Utf8) => "application/xml; charset=utf-8",
        (Format::Xml, Charset::Cp932) => "application/xml; charset=Windows-31J",
        (Format::Xml, _) => "application/xml; charset=Shift_JIS",
    }
}

async fn submit_rest(rest: &RestClient, s: Submission<'_>) -> Result<Answer, TransportError> {
    let mut headers = HeaderMap::new();
    let key = HeaderValue::from_str(s.idempotency_key).map_err(|_| TransportError::Encode {
        system: rest.system().to_owned(),
        operation: s.interface.to_owned(),
        message: "the idempotency key is not a valid header value".into(),
    })?;
    headers.insert("Idempotency-Key", key);
    let body = RequestBody { bytes: Bytes::from(s.body), content_type: content_type(s.format, s.charset) };
    let response = rest.send_body(s.interface, Method::POST, s.interface, headers, Some(body)).await?;
    match response.status {
        StatusCode::CREATED | StatusCode::OK => Ok(Answer::Accepted {
            duplicate: response.status == StatusCode::OK,
            reference: response
                .headers
                .get(UKETSUKE_HEADER)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
            body: response.body,
        }),
        StatusCode::UNPROCESSABLE_ENTITY => {
            Ok(Answer::Refused { reason: rest.status_error(s.interface, &response).to_string() })
        }
        _ => Err(rest.status_error(s.interface, &response)),
    }
}

async fn send_feed_rest(rest: &RestClient, batch: FeedBatch<'_>) -> Result<(), TransportError> {
    let operation = batch.mapping.id.interface.as_str();
    let encode = |message: &str| TransportError::Encode {
        system: rest.system().to_owned(),
        operation: operation.to_owned(),
        message: message.to_owned(),
    };
    let key = format!("{}-{}", batch.subscriber, batch.range());
    // The records are already JSON in the interface's layout: splice them in as they are.
    let mut body = format!(
        r#"{{"batch":{},"first_seq":{},"last_seq":{},"records":["#,
        serde_json::Value::from(key.as_str()),
        batch.first_seq,
        batch.last_seq
    );
    for (i, record) in batch.records.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(std::str::from_utf8(record).map_err(|_| encode("a record is not UTF-8 JSON"))?);
    }
    body.push_str("]}");
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&key).map_err(|_| encode("the batch key is not a header value"))?;
    headers.insert("Idempotency-Key", value);
    let body = RequestBody { bytes: Bytes::from(body), content_type: "application/json" };
    let response = rest.send_body(operation, Method::POST, operation, headers, Some(body)).await?;
    if response.status.is_success() { Ok(()) } else { Err(rest.status_error(operation, &response)) }
}

/// A file name built from the key: the characters a file name may hold, the rest as `_`.
fn file_name(interface: &str, key: &str, format: Format) -> String {
    let key: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    let ext = match format {
        Format::Json => "json",
        Format::Csv => "csv",
        Format::Fixed => "dat",
        Format::Xml => "xml",
    };
    format!("{interface}-{key}.{ext}")
}

impl FileChannel {
    fn io_error(&self, operation: &str, path: &Path, e: std::io::Error) -> TransportError {
        TransportError::Other {
            system: self.system.clone(),
            operation: operation.to_owned(),
            message: format!("{}: {e}", path.display()),
        }
    }

    fn file_error(&self, operation: &str, e: FileError) -> TransportError {
        TransportError::Other {
            system: self.system.clone(),
            operation: operation.to_owned(),
            message: e.to_string(),
        }
    }

    async fn submit(&self, s: Submission<'_>) -> Result<Answer, TransportError> {
        let name = file_name(s.interface, s.idempotency_key, s.format);
        let operation = s.interface;
        let (inbox, data) = (self.inbox.clone(), self.inbox.join(&name));
        if !Marker::Ack.path(&inbox, &name).exists() && !data.exists() {
            let (write_name, body) = (name.clone(), s.body);
            let written = tokio::task::spawn_blocking(move || -> Result<(), FileError> {
                let mut file = AtomicFile::create(&inbox, &write_name)?;
                file.append(&body)?;
                match file.publish(1) {
                    Ok(_) => Ok(()),
                    // An earlier attempt's file is there: the system has it (or will).
                    Err(FileError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::AlreadyExists =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            })
            .await
            .map_err(|e| TransportError::Other {
                system: self.system.clone(),
                operation: operation.to_owned(),
                message: e.to_string(),
            })?;
            written.map_err(|e| self.file_error(operation, e))?;
        }
        let deadline = Instant::now() + self.ack_timeout;
        loop {
            if Marker::Ack.path(&self.inbox, &name).exists() {
                return self.read_ack(operation, &name);
            }
            if Instant::now() >= deadline {
                return Err(TransportError::Timeout {
                    system: self.system.clone(),
                    operation: format!("{operation}: waiting for {name}.ack"),
                });
            }
            tokio::time::sleep(ACK_POLL).await;
        }
    }

    async fn send_feed(&self, batch: FeedBatch<'_>) -> Result<(), TransportError> {
        let mapping = batch.mapping;
        let ext = match mapping.format {
            // One record per line.
            Format::Json => "jsonl",
            Format::Csv => "csv",
            Format::Fixed => "dat",
            // One record element per line: an XML layout's records, not a whole document.
            Format::Xml => "xml",
        };
        let name = format!("{}-{}.{ext}", mapping.id.interface, batch.range());
        let mut body = mapping.file_header().unwrap_or_default();
        for record in batch.records {
            body.extend_from_slice(record);
            body.extend_from_slice(mapping.file_separator());
        }
        let (dir, records, operation) =
            (self.feed_inbox.clone(), batch.records.len(), mapping.id.interface.clone());
        tokio::task::spawn_blocking(move || publish_once(&dir, &name, records, &body))
            .await
            .map_err(|e| TransportError::Other {
                system: self.system.clone(),
                operation: operation.clone(),
                message: e.to_string(),
            })?
            .map_err(|e| self.file_error(&operation, e))
    }

    fn read_ack(&self, operation: &str, name: &str) -> Result<Answer, TransportError> {
        let lines = Marker::Ack.read(&self.inbox, name).map_err(|e| self.file_error(operation, e))?;
        let get = |key: &str| {
            lines.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
        };
        let malformed = |rule: &str| TransportError::Decode {
            system: self.system.clone(),
            operation: operation.to_owned(),
            message: format!("{name}.ack: field status: {rule}"),
        };
        match get("status").as_deref() {
            Some("accepted") => {
                Ok(Answer::Accepted { duplicate: false, reference: get("reference"), body: Bytes::new() })
            }
            Some("duplicate") => {
                Ok(Answer::Accepted { duplicate: true, reference: get("reference"), body: Bytes::new() })
            }
            Some("refused") => Ok(Answer::Refused {
                reason: get("reason").unwrap_or_else(|| "refused without a reason".into()),
            }),
            Some("failed") => {
                // The system did not take the file: clear it so that the next attempt writes it
                // again (the data file first, so no reader sees it without its completion file).
                for path in [
                    self.inbox.join(name),
                    Marker::Done.path(&self.inbox, name),
                    Marker::Ack.path(&self.inbox, name),
                ] {
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(self.io_error(operation, &path, e)),
                    }
                }
                Err(TransportError::Other {
                    system: self.system.clone(),
                    operation: operation.to_owned(),
                    message: format!(
                        "{name}: the system could not take the file: {}",
                        get("reason").unwrap_or_else(|| "no reason given".into())
                    ),
                })
            }
            Some(_) => Err(malformed("is not accepted, duplicate, refused or failed")),
            None => Err(malformed("is missing")),
        }
    }
}

/// Publish `name` into `dir` unless it is there already: a batch sent again after a crash comes
/// under the same name, and a file published before the crash is taken as delivered (its
/// completion file is written if the crash came before it).
fn publish_once(dir: &Path, name: &str, records: usize, body: &[u8]) -> Result<(), FileError> {
    if Marker::Done.path(dir, name).exists() {
        return Ok(());
    }
    let data = dir.join(name);
    if data.exists() {
        let bytes = std::fs::metadata(&data)
            .map_err(|source| FileError::Io { path: data.clone(), operation: "stat", source })?
            .len();
        Marker::Done.write(dir, name, &[("records", records.to_string()), ("bytes", bytes.to_string())])?;
        return Ok(());
    }
    let mut file = AtomicFile::create(dir, name)?;
    file.append(body)?;
    file.publish(records as u64)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_file_transfer_system_has_a_feed_directory() {
        let rest = TransportConfig::Rest(renkei_adapter_core::RestConfig::new("http://127.0.0.1:9/api/"));
        let e = Channel::new("tax", &rest).unwrap().with_feed_inbox("/srv/feed".into()).unwrap_err();
        assert!(e.to_string().starts_with("tax: configuration: feed_inbox:"), "{e}");
    }

    #[test]
    fn file_names_carry_the_key_safely() {
        assert_eq!(file_name("kisai-henko", "0190-ab/../c", Format::Csv), "kisai-henko-0190-ab____c.csv");
    }
}
