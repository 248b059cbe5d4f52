//! Logging in, refreshing, logging out, and checking a bearer token — the one place a caller
//! becomes a [`Principal`]. Also the account administration `renkei users` runs.

use std::collections::HashMap;
use std::sync::Mutex;

use renkei_store::{Db, LoginRow, StorageError, UserRow, now_ms};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::config::AuthConfig;
use crate::groups::Groups;
use crate::oidc::OidcVerifier;
use crate::tokens::{AUDIENCE, Claims, ISSUER, TokenKey};
use crate::{Principal, passwords};

/// Why a caller is not let in. The messages are safe to show: they never say whether the user
/// id or the password was wrong.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credential, or one that does not check (UNAUTHENTICATED).
    #[error("{0}")]
    Unauthenticated(String),
    /// A request that cannot be carried out as asked (INVALID_ARGUMENT for administration).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What a login or refresh hands out.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub access_expires_at_ms: i64,
    pub refresh_token: String,
    pub refresh_expires_at_ms: i64,
    pub principal: Principal,
}

/// The identity side of the gateway.
#[derive(Debug)]
pub struct Authenticator {
    db: Db,
    groups: Groups,
    key: TokenKey,
    oidc: Option<OidcVerifier>,
    config: AuthConfig,
    /// Logins ended here, until their last access token expires: a logout takes effect at once
    /// in this process; other replicas stop accepting the access token when it expires
    /// (at most `access_ttl_s`), and refuse its refresh token at once.
    ended: Mutex<HashMap<String, i64>>,
}

const REFUSED: &str = "login refused: the user id or password is wrong, or the account is disabled or locked";

impl Authenticator {
    /// Build from the config; `default_key_file` is used when `[auth].token_key_file` is absent.
    pub async fn new(
        db: Db,
        config: AuthConfig,
        default_key_file: &std::path::Path,
    ) -> Result<Authenticator, String> {
        config.validate()?;
        let groups = match &config.groups {
            Some(path) => Groups::load(path).map_err(|e| format!("[auth].groups: {e}"))?,
            None => Groups::embedded(),
        };
        let key_file = config.token_key_file.clone().unwrap_or_else(|| default_key_file.to_owned());
        let key = TokenKey::load_or_create(&key_file).map_err(|e| format!("[auth].token_key_file: {e}"))?;
        let oidc = match &config.oidc {
            Some(o) => Some(OidcVerifier::new(o.clone()).await?),
            None => None,
        };
        Ok(Authenticator { db, groups, key, oidc, config, ended: Mutex::new(HashMap::new()) })
    }

    pub fn groups(&self) -> &Groups {
        &self.groups
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Check a user id and password; a run of failures locks the account for a while.
    pub async fn login(&self, user_id: &str, password: &str) -> Result<Tokens, AuthError> {
        let id = user_id.to_owned();
        let user = self.db.read(move |c| UserRow::find(c, &id)).await?;
        let password = password.to_owned();
        let stored = user.as_ref().map_or_else(|| passwords::decoy().to_owned(), |u| u.password_hash.clone());
        // argon2 takes tens of milliseconds of CPU: off the async threads.
        let good = tokio::task::spawn_blocking(move || passwords::verify(&password, &stored))
            .await
            .map_err(|e| AuthError::Unauthenticated(format!("login failed: {e}")))?;
        let Some(mut user) = user else {
            return Err(AuthError::Unauthenticated(REFUSED.into()));
        };
        let now = now_ms();
        if user.disabled || user.locked_until_ms.is_some_and(|until| until > now) {
            return Err(AuthError::Unauthenticated(REFUSED.into()));
        }
        if !good {
            user.failed_logins += 1;
            if user.failed_logins >= self.config.max_failed_logins as i32 {
                user.locked_until_ms = Some(now + (self.config.lockout_s as i64) * 1000);
                user.failed_logins = 0;
                warn!(user = %user.id, "account locked after repeated failed logins");
            }
            user.updated_at_ms = now;
            self.db.write(move |c| user.update(c)).await?;
            return Err(AuthError::Unauthenticated(REFUSED.into()));
        }
        let (secret, sha) = refresh_secret()?;
        let login = LoginRow {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user.id.clone(),
            refresh_sha256: sha,
            created_at_ms: now,
            expires_at_ms: now + (self.config.refresh_ttl_s as i64) * 1000,
            ended_at_ms: None,
        };
        user.failed_logins = 0;
        user.locked_until_ms = None;
        user.updated_at_ms = now;
        let (row, stored_user) = (login.clone(), user.clone());
        self.db
            .write(move |c| {
                stored_user.update(c)?;
                row.insert(c)
            })
            .await?;
        info!(user = %user.id, login = %login.id, "logged in");
        Ok(self.tokens(&user, &login, &secret))
    }

    /// Trade a refresh token for new tokens (the refresh token is replaced each time; one
    /// presented a second time ends its login, since it must have been copied).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, AuthError> {
        let refused = || AuthError::Unauthenticated("refresh refused: log in again".into());
        let (login_id, secret) = refresh_token.split_once('.').ok_or_else(refused)?;
        let id = login_id.to_owned();
        let found = self
            .db
            .read(move |c| {
                let Some(login) = LoginRow::find(c, &id)? else { return Ok(None) };
                Ok(UserRow::find(c, &login.user_id)?.map(|u| (login, u)))
            })
            .await?;
        let (login, user) = found.ok_or_else(refused)?;
        let now = now_ms();
        if login.ended_at_ms.is_some() || login.expires_at_ms <= now || user.disabled {
            return Err(refused());
        }
        if sha256_hex(secret.as_bytes()) != login.refresh_sha256 {
            warn!(login = %login.id, "a replaced refresh token was presented; the login is ended");
            let id = login.id.clone();
            self.db.write(move |c| LoginRow::end(c, &id, now)).await?;
            self.ended.lock().expect("not poisoned").insert(login.id, now + self.access_ttl_ms());
            return Err(refused());
        }
        let (secret, sha) = refresh_secret()?;
        let id = login.id.clone();
        self.db.write(move |c| LoginRow::rotate(c, &id, &sha)).await?;
        Ok(self.tokens(&user, &login, &secret))
    }

    /// End the caller's login: its refresh token stops working, and so do its access tokens
    /// (at once here, at their expiry on other replicas).
    pub async fn logout(&self, principal: &Principal) -> Result<(), AuthError> {
        let Some(login) = principal.login.clone() else {
            return Err(AuthError::Invalid(
                "this token comes from the identity provider: log out there".into(),
            ));
        };
        let now = now_ms();
        self.ended.lock().expect("not poisoned").insert(login.clone(), principal.expires_at_ms);
        self.db.write(move |c| LoginRow::end(c, &login, now)).await?;
        Ok(())
    }

    /// The principal a bearer token stands for.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        if let Some(oidc) = self.oidc.as_ref().filter(|o| o.is_from(token)) {
            let v = oidc.verify(token).await.map_err(AuthError::Unauthenticated)?;
            return Ok(Principal::new(v.subject, v.name, v.groups, &self.groups, None, v.expires_at_ms));
        }
        let claims = self.key.check(token).map_err(|e| {
            AuthError::Unauthenticated(match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    "the token has expired: refresh it or log in again".into()
                }
                _ => "the token does not check: log in again".to_owned(),
            })
        })?;
        {
            let mut ended = self.ended.lock().expect("not poisoned");
            let now = now_ms();
            ended.retain(|_, until| *until > now);
            if ended.contains_key(&claims.sid) {
                return Err(AuthError::Unauthenticated("the login has ended: log in again".into()));
            }
        }
        Ok(Principal::new(
            claims.sub,
            claims.name,
            claims.groups,
            &self.groups,
            Some(claims.sid),
            claims.exp * 1000,
        ))
    }

    /// An access token for `user_id` valid for `ttl_s` seconds, without a password — for the
    /// demo's printed token and for tests. It belongs to a login of its own that ends when the
    /// token does.
    pub async fn issue(&self, user_id: &str, ttl_s: u64) -> Result<String, AuthError> {
        let id = user_id.to_owned();
        let user = self
            .db
            .read(move |c| UserRow::find(c, &id))
            .await?
            .ok_or_else(|| AuthError::Invalid(format!("no user {user_id:?}")))?;
        let now = now_ms();
        // The login cannot be refreshed: nobody is given its refresh secret.
        let (_, sha) = refresh_secret()?;
        let login = LoginRow {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user.id.clone(),
            refresh_sha256: sha,
            created_at_ms: now,
            expires_at_ms: now + (ttl_s as i64) * 1000,
            ended_at_ms: None,
        };
        let row = login.clone();
        self.db.write(move |c| row.insert(c)).await?;
        let mut claims = self.claims(&user, &login.id);
        claims.exp = claims.iat + ttl_s as i64;
        Ok(self.key.sign(&claims))
    }

    fn access_ttl_ms(&self) -> i64 {
        (self.config.access_ttl_s as i64) * 1000
    }

    fn claims(&self, user: &UserRow, login: &str) -> Claims {
        let iat = now_ms() / 1000;
        Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: user.id.clone(),
            name: user.display_name.clone(),
            groups: user.group_names(),
            sid: login.to_owned(),
            iat,
            exp: iat + self.config.access_ttl_s as i64,
        }
    }

    fn tokens(&self, user: &UserRow, login: &LoginRow, secret: &str) -> Tokens {
        let claims = self.claims(user, &login.id);
        let principal = Principal::new(
            user.id.clone(),
            user.display_name.clone(),
            user.group_names(),
            &self.groups,
            Some(login.id.clone()),
            claims.exp * 1000,
        );
        Tokens {
            access_token: self.key.sign(&claims),
            access_expires_at_ms: claims.exp * 1000,
            refresh_token: format!("{}.{secret}", login.id),
            refresh_expires_at_ms: login.expires_at_ms,
            principal,
        }
    }

    // ---- account administration (`renkei users`) ----

    /// Add a user in `groups` (each must be a group of this set).
    pub async fn add_user(
        &self,
        id: &str,
        name: &str,
        groups: &[String],
        password: &str,
    ) -> Result<(), AuthError> {
        check_user_id(id)?;
        let unknown = self.groups.unknown(groups);
        if !unknown.is_empty() || groups.is_empty() {
            return Err(AuthError::Invalid(format!(
                "groups: {} — the groups are {}",
                if groups.is_empty() {
                    "name at least one".to_owned()
                } else {
                    format!("no group {unknown:?}")
                },
                self.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        let hash = hash(password).await?;
        let now = now_ms();
        let row = UserRow {
            id: id.to_owned(),
            display_name: name.to_owned(),
            password_hash: hash,
            groups: groups.join("\n"),
            disabled: false,
            failed_logins: 0,
            locked_until_ms: None,
            created_at_ms: now,
            updated_at_ms: now,
        };
        let id = id.to_owned();
        self.db
            .write(move |c| {
                if UserRow::find(c, &row.id)?.is_some() {
                    return Ok(false);
                }
                row.insert(c).map(|()| true)
            })
            .await?
            .then_some(())
            .ok_or_else(|| AuthError::Invalid(format!("user {id:?} exists already")))
    }

    /// Set a new password; every login of the user ends, and a lock is lifted.
    pub async fn set_password(&self, id: &str, password: &str) -> Result<(), AuthError> {
        let hash = hash(password).await?;
        self.change(id, move |u| {
            u.password_hash = hash;
            u.failed_logins = 0;
            u.locked_until_ms = None;
        })
        .await
    }

    /// Disable (or enable again) a user; disabling ends every login.
    pub async fn set_disabled(&self, id: &str, disabled: bool) -> Result<(), AuthError> {
        self.change(id, move |u| u.disabled = disabled).await
    }

    pub async fn users(&self) -> Result<Vec<UserRow>, AuthError> {
        Ok(self.db.read(UserRow::all).await?)
    }

    async fn change(&self, id: &str, f: impl FnOnce(&mut UserRow) + Send + 'static) -> Result<(), AuthError> {
        let user_id = id.to_owned();
        let found = self
            .db
            .write(move |c| {
                let Some(mut user) = UserRow::find(c, &user_id)? else { return Ok(false) };
                f(&mut user);
                let now = now_ms();
                user.updated_at_ms = now;
                user.update(c)?;
                LoginRow::end_all_of(c, &user_id, now)?;
                Ok(true)
            })
            .await?;
        found.then_some(()).ok_or_else(|| AuthError::Invalid(format!("no user {id:?}")))
    }
}

async fn hash(password: &str) -> Result<String, AuthError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || passwords::hash(&password))
        .await
        .map_err(|e| AuthError::Invalid(e.to_string()))?
        .map_err(AuthError::Invalid)
}

/// A user id: 1 to 64 of letters, digits, `.`, `-`, `_`, `@`.
fn check_user_id(id: &str) -> Result<(), AuthError> {
    let ok = (1..=64).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
    ok.then_some(()).ok_or_else(|| {
        AuthError::Invalid("user id: 1 to 64 of ASCII letters, digits, '.', '-', '_' and '@'".into())
    })
}

/// A fresh refresh secret and the SHA-256 kept of it.
fn refresh_secret() -> Result<(String, String), AuthError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Unauthenticated(format!("no randomness: {e}")))?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let sha = sha256_hex(secret.as_bytes());
    Ok((secret, sha))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
