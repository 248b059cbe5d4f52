//! The authenticator on SQLite and PostgreSQL, and identity-provider tokens checked against a
//! JWKS made here.

use base64::Engine;
use renkei_store::Db;
use renkei_store::testing::{KEYS, on_both};

use super::*;

const PASSWORD: &str = "correct horse battery";

async fn authenticator(db: Db, config: AuthConfig) -> (Authenticator, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let auth = Authenticator::new(db, config, &dir.path().join("token.key")).await.unwrap();
    (auth, dir)
}

fn unauthenticated<T: std::fmt::Debug>(r: Result<T, AuthError>) -> String {
    match r {
        Err(AuthError::Unauthenticated(m)) => m,
        other => panic!("expected UNAUTHENTICATED, got {other:?}"),
    }
}

#[tokio::test]
async fn login_refresh_logout_and_lockout() {
    on_both(|db| async move {
        let config = AuthConfig { max_failed_logins: 3, ..AuthConfig::default() };
        let (auth, _dir) = authenticator(db, config).await;
        auth.add_user("staff-001", "試験 職員", &["窓口職員".into()], PASSWORD).await.unwrap();
        let e = auth.add_user("staff-001", "x", &["窓口職員".into()], PASSWORD).await.unwrap_err();
        assert!(e.to_string().contains("exists already"), "{e}");
        let e = auth.add_user("staff-002", "x", &["窓口係".into()], PASSWORD).await.unwrap_err();
        assert!(e.to_string().contains("no group [\"窓口係\"]") && e.to_string().contains("窓口職員"), "{e}");

        let tokens = auth.login("staff-001", PASSWORD).await.unwrap();
        let caller = auth.verify(&tokens.access_token).await.unwrap();
        assert_eq!(caller.subject, "staff-001");
        assert!(caller.allows(Permission::ApplicationSubmit));
        assert!(!caller.allows(Permission::ResidentReadIndividualNumber));
        // A wrong user id and a wrong password are refused alike.
        let wrong_user = unauthenticated(auth.login("staff-999", PASSWORD).await);
        let wrong_password = unauthenticated(auth.login("staff-001", "incorrect horse").await);
        assert_eq!(wrong_user, wrong_password);

        // Refresh hands out a new refresh token; the old one, presented again, ends the login.
        let renewed = auth.refresh(&tokens.refresh_token).await.unwrap();
        assert_ne!(renewed.refresh_token, tokens.refresh_token);
        unauthenticated(auth.refresh(&tokens.refresh_token).await);
        unauthenticated(auth.refresh(&renewed.refresh_token).await);
        unauthenticated(auth.verify(&renewed.access_token).await);

        // Logout ends the access token at once and the refresh token.
        let t = auth.login("staff-001", PASSWORD).await.unwrap();
        let caller = auth.verify(&t.access_token).await.unwrap();
        auth.logout(&caller).await.unwrap();
        assert!(unauthenticated(auth.verify(&t.access_token).await).contains("ended"));
        unauthenticated(auth.refresh(&t.refresh_token).await);

        // The password counts one failure short of the lock; a good login resets the count.
        for _ in 0..2 {
            unauthenticated(auth.login("staff-001", "incorrect horse").await);
        }
        auth.login("staff-001", PASSWORD).await.unwrap();
        for _ in 0..3 {
            unauthenticated(auth.login("staff-001", "incorrect horse").await);
        }
        unauthenticated(auth.login("staff-001", PASSWORD).await);
        // A new password lifts the lock; disabling refuses even the right one.
        auth.set_password("staff-001", "a brand new passphrase").await.unwrap();
        let t = auth.login("staff-001", "a brand new passphrase").await.unwrap();
        auth.set_disabled("staff-001", true).await.unwrap();
        unauthenticated(auth.login("staff-001", "a brand new passphrase").await);
        unauthenticated(auth.refresh(&t.refresh_token).await);
        let users = auth.users().await.unwrap();
        assert_eq!(users.len(), 1);
        assert!(users[0].disabled && users[0].password_hash.starts_with("$argon2id$"));
    })
    .await;
}

#[tokio::test]
async fn tokens_that_do_not_check_are_refused() {
    on_both(|db| async move {
        let (auth, _dir) = authenticator(db.clone(), AuthConfig::default()).await;
        // Another gateway, with a key of its own.
        let (other, _other_dir) = authenticator(db, AuthConfig::default()).await;
        auth.add_user("staff-001", "試験 職員", &["窓口職員".into()], PASSWORD).await.unwrap();
        unauthenticated(other.verify(&auth.issue("staff-001", 60).await.unwrap()).await);
        let token = auth.issue("staff-001", 60).await.unwrap();
        assert!(auth.verify(&token).await.is_ok());
        let mut tampered = token.clone();
        tampered.insert(tampered.len() - 3, 'A');
        unauthenticated(auth.verify(&tampered).await);
        unauthenticated(auth.verify("not a token").await);
    })
    .await;
}

/// An ES256 identity provider: its key pair and the JWKS it publishes.
struct Provider {
    key: jsonwebtoken::EncodingKey,
    jwks: String,
}

impl Provider {
    fn new(kid: &str) -> Provider {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let raw = pair.public_key_raw();
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwks = serde_json::json!({ "keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
            "x": b64(&raw[1..33]), "y": b64(&raw[33..65]),
        }]});
        Provider {
            key: jsonwebtoken::EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap(),
            jwks: jwks.to_string(),
        }
    }

    fn token(&self, kid: &str, claims: serde_json::Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }
}

#[tokio::test]
async fn identity_provider_tokens_are_checked_against_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&Db::sqlite_in(dir.path()), KEYS.clone()).unwrap();
    let provider = Provider::new("k1");
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, &provider.jwks).unwrap();
    let oidc = OidcConfig {
        issuer: "https://idp.example.lg.jp/realms/city".into(),
        audience: "renkei".into(),
        jwks_file: Some(jwks),
        jwks_url: None,
        groups_claim: "roles".into(),
        group_map: [("counter".to_owned(), "窓口職員".to_owned())].into(),
    };
    let config = AuthConfig { oidc: Some(oidc), ..AuthConfig::default() };
    let auth = Authenticator::new(db, config, &dir.path().join("token.key")).await.unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = |iss: &str, aud: &str, exp: i64| serde_json::json!({ "iss": iss, "aud": aud, "sub": "u-7", "name": "試験 花子", "exp": exp, "roles": ["counter", "other"] });
    let iss = "https://idp.example.lg.jp/realms/city";

    let good = auth.verify(&provider.token("k1", claims(iss, "renkei", now + 60))).await.unwrap();
    assert_eq!((good.subject.as_str(), good.display_name.as_str()), ("u-7", "試験 花子"));
    assert_eq!(good.groups, ["窓口職員"]);
    assert!(good.allows(Permission::ApplicationSubmit) && good.login.is_none());

    let wrong_issuer =
        auth.verify(&provider.token("k1", claims("https://evil.example", "renkei", now + 60))).await;
    unauthenticated(wrong_issuer);
    let wrong_audience =
        unauthenticated(auth.verify(&provider.token("k1", claims(iss, "another-app", now + 60))).await);
    assert!(wrong_audience.contains("does not check"), "{wrong_audience}");
    let expired = unauthenticated(auth.verify(&provider.token("k1", claims(iss, "renkei", now - 600))).await);
    assert!(expired.contains("does not check"), "{expired}");
    let unknown_key =
        unauthenticated(auth.verify(&provider.token("k2", claims(iss, "renkei", now + 60))).await);
    assert!(unknown_key.contains("no key \"k2\""), "{unknown_key}");
    // Signed by someone else under the provider's key id.
    let impostor = Provider::new("k1");
    unauthenticated(auth.verify(&impostor.token("k1", claims(iss, "renkei", now + 60))).await);
    // An HMAC token naming the provider as issuer is not checked with its public key.
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(iss, "renkei", now + 60),
        &jsonwebtoken::EncodingKey::from_secret(provider.jwks.as_bytes()),
    )
    .unwrap();
    assert!(unauthenticated(auth.verify(&hs).await).contains("not signed with HS256"));
}
