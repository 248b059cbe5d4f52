//! The API's limits: every string and list a request carries is bounded, and a request that
//! breaks a bound is refused as it is decoded, before any service sees it.
//!
//! The generated services decode with [`BoundedCodec`] (see `build.rs`). It decodes a request
//! twice — into its generated type for the service, and into a [`DynamicMessage`] walked against
//! the request's descriptor — so the bounds cover every field of every request, including fields
//! added later, without a line per field. Responses, which clients decode with the same codec,
//! are not checked: only messages that are a method's input are.
//!
//! A refusal is INVALID_ARGUMENT naming each field path and its rule
//! (`applications[0].fields.shimei.value: at most 1024 bytes`), with the same violations as
//! google.rpc.BadRequest details. No value is echoed; a map key in a path is cut to a short
//! prefix with control characters removed ([`echo`]).
//!
//! tonic builds a codec with `Default`, so the codec cannot be handed its server's limits: the
//! server runs each call [`within`] them instead (the gateway's guard does), and a request
//! decoded outside any is checked against [`Limits::default`].

use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::sync::{Arc, LazyLock};

use prost::Message;
use prost::bytes::Buf;
use prost_reflect::{DescriptorPool, DynamicMessage, MapKey, MessageDescriptor, Value};
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstEncoder};
use tonic_types::{ErrorDetails, StatusExt};

/// Bounds on what a request may carry. Bytes fields (an online application file) are bounded
/// by the service's message size instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The longest string, in UTF-8 bytes, where `fields` has no entry for the field.
    pub string_bytes: usize,
    /// The most items in a repeated or map field.
    pub list_items: usize,
    /// The longest string of particular fields, by full name (`renkei.v1.QrEvidence.payload`).
    pub fields: BTreeMap<String, usize>,
}

/// How many violations one refusal names.
const MAX_VIOLATIONS: usize = 10;
/// How many characters of a map key a path shows.
const ECHO_CHARS: usize = 24;

impl Default for Limits {
    fn default() -> Self {
        Self {
            string_bytes: 1024,
            list_items: 100,
            fields: BTreeMap::from([
                // A pre-entry QR code holds at most 1,451 characters (adapters/intake/src/qr.rs).
                ("renkei.v1.QrEvidence.payload".to_owned(), 2048),
                // An OCR engine's whole result.
                ("renkei.v1.OcrEvidence.json".to_owned(), 64 * 1024),
            ]),
        }
    }
}

impl Limits {
    /// A field named in `fields` that no request has: a misspelt configuration key.
    pub fn unknown_field(&self) -> Option<&str> {
        let exists = |name: &str| {
            name.rsplit_once('.').is_some_and(|(message, field)| {
                POOL.get_message_by_name(message).is_some_and(|m| m.get_field_by_name(field).is_some())
            })
        };
        self.fields.keys().find(|name| !exists(name)).map(String::as_str)
    }

    fn string_bytes(&self, field: &str) -> usize {
        self.fields.get(field).copied().unwrap_or(self.string_bytes)
    }
}

tokio::task_local! {
    static IN_FORCE: Arc<Limits>;
}

static DEFAULT: LazyLock<Arc<Limits>> = LazyLock::new(|| Arc::new(Limits::default()));

/// Run `call` — a service's handling of one request, decoding included — with `limits` in force.
pub async fn within<F: std::future::Future>(limits: Arc<Limits>, call: F) -> F::Output {
    IN_FORCE.scope(limits, call).await
}

fn in_force() -> Arc<Limits> {
    IN_FORCE.try_with(Arc::clone).unwrap_or_else(|_| DEFAULT.clone())
}

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(crate::v1::FILE_DESCRIPTOR_SET).expect("the build writes a valid descriptor set")
});

/// Every message that is some method's input, by full name.
static REQUESTS: LazyLock<HashMap<String, MessageDescriptor>> = LazyLock::new(|| {
    POOL.services()
        .flat_map(|s| s.methods().map(|m| m.input()).collect::<Vec<_>>())
        .map(|m| (m.full_name().to_owned(), m))
        .collect()
});

/// `s` as an error may show it: at most a short prefix, without control characters.
pub fn echo(s: &str) -> String {
    let mut shown: String = s.chars().filter(|c| !c.is_control()).take(ECHO_CHARS).collect();
    if s.chars().filter(|c| !c.is_control()).nth(ECHO_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

/// The violations of `limits` in `message`, as (field path, rule), at most [`MAX_VIOLATIONS`].
pub fn check(message: &DynamicMessage, limits: &Limits) -> Vec<(String, String)> {
    let mut found = Vec::new();
    walk(message, "", limits, &mut found);
    found
}

fn walk(message: &DynamicMessage, path: &str, limits: &Limits, found: &mut Vec<(String, String)>) {
    for (field, value) in message.fields() {
        let at = if path.is_empty() { field.name().to_owned() } else { format!("{path}.{}", field.name()) };
        let max = limits.string_bytes(field.full_name());
        match value {
            Value::List(items) => {
                if items.len() > limits.list_items {
                    violate(found, &at, format!("at most {} items", limits.list_items));
                }
                for (i, item) in items.iter().enumerate().take(limits.list_items) {
                    one(item, &format!("{at}[{i}]"), max, limits, found);
                }
            }
            Value::Map(entries) => {
                if entries.len() > limits.list_items {
                    violate(found, &at, format!("at most {} entries", limits.list_items));
                }
                // In key order, so a refusal names the same field every time.
                let mut keys: Vec<&MapKey> = entries.keys().collect();
                keys.sort();
                for key in keys.into_iter().take(limits.list_items) {
                    let entry = match key {
                        MapKey::String(k) if k.len() > limits.string_bytes => {
                            violate(
                                found,
                                &at,
                                format!("a key is longer than {} bytes", limits.string_bytes),
                            );
                            continue;
                        }
                        MapKey::String(k) => format!("{at}.{}", echo(k)),
                        other => format!("{at}[{other:?}]"),
                    };
                    one(&entries[key], &entry, max, limits, found);
                }
            }
            other => one(other, &at, max, limits, found),
        }
        if found.len() >= MAX_VIOLATIONS {
            found.truncate(MAX_VIOLATIONS);
            return;
        }
    }
}

fn one(value: &Value, at: &str, max: usize, limits: &Limits, found: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) if s.len() > max => violate(found, at, format!("at most {max} bytes")),
        Value::Message(m) => walk(m, at, limits, found),
        _ => {}
    }
}

fn violate(found: &mut Vec<(String, String)>, at: &str, rule: String) {
    if found.len() < MAX_VIOLATIONS {
        found.push((at.to_owned(), rule));
    }
}

/// INVALID_ARGUMENT for `violations`, in the message and as BadRequest details.
fn refusal(violations: Vec<(String, String)>) -> Status {
    let message =
        violations.iter().map(|(path, rule)| format!("{path}: {rule}")).collect::<Vec<_>>().join("; ");
    let mut details = ErrorDetails::new();
    for (path, rule) in violations {
        details.add_bad_request_violation(path, rule);
    }
    Status::with_error_details(tonic::Code::InvalidArgument, message, details)
}

/// prost's codec, with each request checked against the [`Limits`] in force as it is decoded.
#[derive(Debug, Clone)]
pub struct BoundedCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for BoundedCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for BoundedCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + prost::Name + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = BoundedDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        BoundedDecoder(PhantomData)
    }
}

/// Decodes `U`, checking it first when it is a request.
#[derive(Debug)]
pub struct BoundedDecoder<U>(PhantomData<U>);

impl<U: Message + prost::Name + Default> Decoder for BoundedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let bytes = buf.copy_to_bytes(buf.remaining());
        if let Some(descriptor) = REQUESTS.get(&U::full_name()) {
            let dynamic = DynamicMessage::decode(descriptor.clone(), bytes.clone()).map_err(|e| {
                Status::invalid_argument(format!("the request is not a valid {}: {e}", U::NAME))
            })?;
            let violations = check(&dynamic, &in_force());
            if !violations.is_empty() {
                return Err(refusal(violations));
            }
        }
        U::decode(bytes).map(Some).map_err(|e| Status::internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_input_is_known_and_responses_are_not_checked() {
        assert!(REQUESTS.contains_key("renkei.v1.SubmitApplicationsRequest"));
        assert!(REQUESTS.contains_key("renkei.v1.LoginRequest"));
        assert!(!REQUESTS.contains_key("renkei.v1.SubmitApplicationsResponse"));
    }

    #[test]
    fn echo_is_a_short_prefix_without_control_characters() {
        assert_eq!(echo("shimei"), "shimei");
        assert_eq!(echo("a\u{1b}[31mb\nc"), "a[31mbc");
        let long = "氏".repeat(1000);
        assert_eq!(echo(&long), format!("{}…", "氏".repeat(ECHO_CHARS)));
    }

    #[test]
    fn a_misspelt_field_is_found() {
        let mut limits = Limits::default();
        assert_eq!(limits.unknown_field(), None);
        limits.fields.insert("renkei.v1.QrEvidence.paylaod".into(), 10);
        assert_eq!(limits.unknown_field(), Some("renkei.v1.QrEvidence.paylaod"));
    }
}
