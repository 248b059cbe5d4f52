//! Errors as gRPC statuses. INVALID_ARGUMENT carries every broken rule both in the message
//! (`basic_facts.birth_date: is required`) and as google.rpc.BadRequest field violations.
//! Internal failures are logged here and answered without their details.

use renkei_adapter_resident_record::LookupError;
use renkei_model::{ValidationError, ValidationErrors};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tracing::{error, warn};

use crate::storage::StorageError;

/// Every error in `errors`, with `prefix` put in front of each path.
pub fn invalid(prefix: &str, errors: ValidationErrors) -> Status {
    let errors: Vec<ValidationError> =
        errors.0.into_iter().map(|e| if prefix.is_empty() { e } else { e.under(prefix) }).collect();
    let message = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    let mut details = ErrorDetails::new();
    for e in &errors {
        details.add_bad_request_violation(e.path.to_string(), e.rule.to_string());
    }
    Status::with_error_details(Code::InvalidArgument, message, details)
}

pub fn invalid_one(path: &str, error: ValidationError) -> Status {
    invalid(path, error.into())
}

pub fn storage(e: StorageError) -> Status {
    error!(error = %e, "storage failure");
    Status::unavailable("the gateway's database is unavailable; try again")
}

pub fn lookup(e: LookupError) -> Status {
    match e {
        LookupError::Transport(t) => {
            warn!(error = %t, "resident record unreachable");
            Status::unavailable(format!("the resident record did not answer: {t}"))
        }
        LookupError::Record(r) => {
            error!(error = %r, "resident record sent an unreadable record");
            Status::internal(r.to_string())
        }
    }
}

pub fn not_built(what: &str) -> Status {
    Status::unimplemented(format!("{what} is not available in this build of renkei"))
}

pub fn auth(e: renkei_auth::AuthError) -> Status {
    match e {
        renkei_auth::AuthError::Unauthenticated(m) => Status::unauthenticated(m),
        renkei_auth::AuthError::Invalid(m) => Status::invalid_argument(m),
        renkei_auth::AuthError::Storage(e) => storage(e),
    }
}
