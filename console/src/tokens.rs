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

/// Longest token name.
pub const MAX_NAME_CHARS: usize = 100;

/// The longest a token may live, in days (ten years); without a lifetime it lives until
/// revoked.
pub const MAX_DAYS: u16 = 3650;

/// A trimmed token name of 1 to [`MAX_NAME_CHARS`] characters.
pub fn parse_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let count = name.chars().count();
    if count == 0 || count > MAX_NAME_CHARS {
        return Err(format!("a token name has 1 to {MAX_NAME_CHARS} characters"));
    }
    Ok(name.to_owned())
}

/// A lifetime of 1 to [`MAX_DAYS`] days.
pub fn parse_days(raw: &str) -> Result<u16, String> {
    match raw.trim().parse::<u16>() {
        Ok(days @ 1..=MAX_DAYS) => Ok(days),
        _ => Err(format!("a token lives 1 to {MAX_DAYS} days")),
    }
}

/// When a token issued now for `days` days expires (Unix seconds).
pub fn expires_at(days: u16) -> i64 {
    chrono::Utc::now().timestamp() + i64::from(days) * 86_400
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
