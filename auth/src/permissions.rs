//! What each RPC needs: one table, [`RPCS`], from the full gRPC method path to its [`Access`].
//! The gateway refuses to start when a method it serves has no row here, so a new RPC cannot go
//! out unguarded.

use std::fmt;
use std::str::FromStr;

/// A permission a group grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Open, watch and close one's own counter sessions.
    SessionOpen,
    /// Use a session another staff member opened (each takeover is audited).
    SessionTakeOver,
    /// Record identity evidence in a session: card facts, QR pre-entries, OCR results.
    EvidenceSubmit,
    /// Watch the card readers and read cards (the basic four facts, the face photo).
    CardRead,
    /// Look a resident and household up in the resident record.
    ResidentRead,
    /// Have the individual number (file 0001) read from a My Number card.
    ResidentReadIndividualNumber,
    /// Plan procedures, prefill forms, print the guide, forms and receipt.
    ApplicationPrepare,
    /// Submit applications.
    ApplicationSubmit,
    /// List the backyard work queue (what is waiting, not the applications' contents).
    WorkQueueList,
    /// Claim, complete and return work items, and read the applications in them.
    WorkQueueReview,
    /// List deliveries to the core systems.
    DeliveryRead,
    /// Retry a failed delivery.
    DeliveryAdmin,
    /// Reload the mapping files.
    MappingsReload,
    /// The gateway's own health and mapping problems.
    SystemHealth,
    /// Submit files of online applications (the online intake's service principal).
    IntakeOnline,
    /// Read the access and operation log.
    AuditRead,
}

impl Permission {
    pub const ALL: [Permission; 16] = [
        Permission::SessionOpen,
        Permission::SessionTakeOver,
        Permission::EvidenceSubmit,
        Permission::CardRead,
        Permission::ResidentRead,
        Permission::ResidentReadIndividualNumber,
        Permission::ApplicationPrepare,
        Permission::ApplicationSubmit,
        Permission::WorkQueueList,
        Permission::WorkQueueReview,
        Permission::DeliveryRead,
        Permission::DeliveryAdmin,
        Permission::MappingsReload,
        Permission::SystemHealth,
        Permission::IntakeOnline,
        Permission::AuditRead,
    ];

    /// The name groups use, e.g. `resident.read_individual_number`.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::SessionOpen => "session.open",
            Permission::SessionTakeOver => "session.take_over",
            Permission::EvidenceSubmit => "evidence.submit",
            Permission::CardRead => "card.read",
            Permission::ResidentRead => "resident.read",
            Permission::ResidentReadIndividualNumber => "resident.read_individual_number",
            Permission::ApplicationPrepare => "application.prepare",
            Permission::ApplicationSubmit => "application.submit",
            Permission::WorkQueueList => "workqueue.list",
            Permission::WorkQueueReview => "workqueue.review",
            Permission::DeliveryRead => "delivery.read",
            Permission::DeliveryAdmin => "delivery.admin",
            Permission::MappingsReload => "mappings.reload",
            Permission::SystemHealth => "system.health",
            Permission::IntakeOnline => "intake.online",
            Permission::AuditRead => "audit.read",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
            format!("no permission {s:?}; the permissions are {}", known.join(", "))
        })
    }
}

/// What a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health checks, reflection, logging in and refreshing (the refresh token is the
    /// credential there).
    Public,
    /// Any valid token, whatever its groups (logging out).
    Authenticated,
    /// A valid token whose groups grant the permission.
    Requires(Permission),
}

use Access::{Authenticated, Public, Requires};
use Permission::*;

/// Every RPC the gateway serves and what it needs. Services whose every method is public are
/// named with a trailing `/`.
pub const RPCS: &[(&str, Access)] = &[
    ("/grpc.health.v1.Health/", Public),
    ("/grpc.reflection.v1.ServerReflection/", Public),
    ("/grpc.reflection.v1alpha.ServerReflection/", Public),
    ("/renkei.v1.AuthService/Login", Public),
    ("/renkei.v1.AuthService/Refresh", Public),
    ("/renkei.v1.AuthService/Logout", Authenticated),
    ("/renkei.v1.CounterService/OpenSession", Requires(SessionOpen)),
    ("/renkei.v1.CounterService/CloseSession", Requires(SessionOpen)),
    ("/renkei.v1.CounterService/WatchSession", Requires(SessionOpen)),
    ("/renkei.v1.CounterService/SubmitEvidence", Requires(EvidenceSubmit)),
    ("/renkei.v1.CounterService/LookupResident", Requires(ResidentRead)),
    ("/renkei.v1.CounterService/PlanProcedures", Requires(ApplicationPrepare)),
    ("/renkei.v1.CounterService/PrefillApplications", Requires(ApplicationPrepare)),
    ("/renkei.v1.CounterService/SubmitApplications", Requires(ApplicationSubmit)),
    ("/renkei.v1.CounterService/RenderGuide", Requires(ApplicationPrepare)),
    ("/renkei.v1.CounterService/RenderForm", Requires(ApplicationPrepare)),
    ("/renkei.v1.CounterService/RenderReceipt", Requires(ApplicationPrepare)),
    ("/renkei.v1.CardService/WatchReaders", Requires(CardRead)),
    ("/renkei.v1.CardService/ReadCard", Requires(CardRead)),
    ("/renkei.v1.AdminService/ListDeliveries", Requires(DeliveryRead)),
    ("/renkei.v1.AdminService/RetryDelivery", Requires(DeliveryAdmin)),
    ("/renkei.v1.AdminService/ReloadMappings", Requires(MappingsReload)),
    ("/renkei.v1.AdminService/Health", Requires(SystemHealth)),
    ("/renkei.v1.AdminService/SubmitOnlineApplications", Requires(IntakeOnline)),
    ("/renkei.v1.AdminService/ListWorkItems", Requires(WorkQueueList)),
    ("/renkei.v1.AdminService/ClaimWorkItem", Requires(WorkQueueReview)),
    ("/renkei.v1.AdminService/CompleteWorkItem", Requires(WorkQueueReview)),
    ("/renkei.v1.AdminService/ReturnWorkItem", Requires(WorkQueueReview)),
];

/// What the method at `path` (`/package.Service/Method`) needs; `None` for one not in the table,
/// which the gateway answers with UNIMPLEMENTED rather than serve unguarded.
pub fn access_for(path: &str) -> Option<Access> {
    RPCS.iter()
        .find(|(p, _)| if p.ends_with('/') { path.starts_with(p) } else { *p == path })
        .map(|(_, access)| *access)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_known() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(p));
        }
        let e = "resident.write".parse::<Permission>().unwrap_err();
        assert!(e.contains("resident.read_individual_number"), "{e}");
    }

    #[test]
    fn paths_resolve_exactly_or_by_public_service() {
        assert_eq!(access_for("/renkei.v1.CounterService/OpenSession"), Some(Access::Requires(SessionOpen)));
        assert_eq!(access_for("/grpc.health.v1.Health/Watch"), Some(Access::Public));
        assert_eq!(access_for("/renkei.v1.CounterService/OpenSessionX"), None);
        assert_eq!(access_for("/renkei.v1.CounterService/"), None);
    }
}
