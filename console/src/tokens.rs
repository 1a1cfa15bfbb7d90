//! API tokens: shown once when issued, stored only as a hash, used as
//! `Authorization: Bearer sat_…`.

use satisfy_core::{Scope, TenantId};

use crate::auth::{random_token, token_hash};
use crate::store::{ApiToken, ConfigError, ConfigStore};

/// A token just issued, with the secret that is never stored and cannot be shown again.
#[derive(Debug)]
pub struct IssuedToken {
    /// The stored token.
    pub token: ApiToken,
    /// `sat_<id>_<256 random bits>` (the id is 12 hex digits), to send as
    /// `Authorization: Bearer …`.
    pub secret: String,
}

/// Issues a token of `tenant` (which must exist) with these scopes, valid until
/// `expires_at` (Unix seconds) or forever.
pub async fn issue(
    store: &dyn ConfigStore,
    tenant: TenantId,
    name: String,
    scopes: Vec<Scope>,
    expires_at: Option<i64>,
) -> Result<IssuedToken, ConfigError> {
    let id: String = rand::random::<[u8; 6]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let secret = format!("sat_{id}_{}", random_token());
    let token = ApiToken {
        id,
        tenant,
        name,
        scopes,
        created_at: chrono::Utc::now().timestamp(),
        expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    store.create_token(&token, &token_hash(&secret)).await?;
    Ok(IssuedToken { token, secret })
}

/// The live token with this secret (not revoked, not expired, of an active tenant),
/// marking it used now. Secrets are compared only as hashes.
pub async fn verify(
    store: &dyn ConfigStore,
    secret: &str,
) -> Result<Option<ApiToken>, ConfigError> {
    store.use_token(&token_hash(secret.trim())).await
}
