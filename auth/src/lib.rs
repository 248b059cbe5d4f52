//! renkei-auth: who is calling and what they may do.
//!
//! - [`Permission`] and [`permissions::RPCS`] — every RPC and the permission it needs, in one table;
//! - [`Groups`] — what each group grants (`groups.toml`, data integrators edit), some limited to
//!   departments;
//! - [`Authenticator`] — renkei's own users (argon2id passwords, lockout), short-lived signed
//!   access tokens with refresh tokens, and an identity provider's tokens (OIDC, JWKS) as an
//!   alternative; the one place a bearer token becomes a [`Principal`];
//! - [`AuthConfig`] — the `[auth]` section of the configuration.
//!
//! Accounts and logins are stored through renkei-store; nothing here speaks gRPC.
//!
//! ```no_run
//! # async fn run(db: renkei_store::Db) -> Result<(), Box<dyn std::error::Error>> {
//! use renkei_auth::{AuthConfig, Authenticator, Permission};
//!
//! let auth = Authenticator::new(db, AuthConfig::default(), "renkei-data/token.key".as_ref()).await?;
//! auth.add_user("staff-001", "試験 職員", &["窓口職員".to_owned()], "a long passphrase").await?;
//! let tokens = auth.login("staff-001", "a long passphrase").await?;
//! let caller = auth.verify(&tokens.access_token).await?;
//! assert!(caller.allows(Permission::ApplicationSubmit));
//! # Ok(())
//! # }
//! ```

mod authenticator;
mod config;
pub mod groups;
mod oidc;
pub mod passwords;
pub mod permissions;
mod principal;
mod tokens;

pub use authenticator::{AuthError, Authenticator, Tokens};
pub use config::{AuthConfig, OidcConfig};
pub use groups::{Group, Groups};
pub use permissions::{Access, Permission};
pub use principal::{Principal, Reach};
pub use tokens::TokenKey;

#[cfg(test)]
mod tests;
