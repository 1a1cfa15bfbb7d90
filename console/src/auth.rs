//! Passwords (Argon2id), sessions (HttpOnly, SameSite=Strict cookies), CSRF tokens and
//! API tokens for programs. Every password check goes through the console's
//! [`SignInGuard`](crate::sign_in::SignInGuard).

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use subtle::ConstantTimeEq;

use crate::ConsoleState;
use crate::error::{ApiError, PageError};
use crate::roles::{Capability, Role};
use crate::sign_in::Refusal;
use crate::store::{ConfigError, User};
use satisfy_core::{Scope, TenantId};

/// The session cookie, named with the `__Host-` prefix over HTTPS so that no other host
/// or path can set it.
pub fn session_cookie(https: bool) -> &'static str {
    if https {
        "__Host-satisfy_session"
    } else {
        "satisfy_session"
    }
}

/// The cookie that protects the login form (double-submit token).
pub fn login_csrf_cookie(https: bool) -> &'static str {
    if https {
        "__Host-satisfy_login_csrf"
    } else {
        "satisfy_login_csrf"
    }
}
/// Session lifetime.
pub const SESSION_SECONDS: i64 = 12 * 3600;

/// Hashes a password with Argon2id and a random salt (CPU-heavy: call off the async
/// threads).
pub fn hash_password(password: &str) -> Result<String, ConfigError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| ConfigError::from_message(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ConfigError::from_message(e.to_string()))
}

/// [`hash_password`] on a blocking thread, for async callers.
pub async fn hash_password_off_thread(password: String) -> Result<String, ConfigError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ConfigError::from_message(e.to_string()))?
}

/// A fresh unguessable token (256 bits, URL-safe).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Sessions are stored by token hash, so a leaked database holds no usable cookies.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// Compares two secrets in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    !a.is_empty() && a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The value of cookie `name` in a request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value for a cookie only the server reads.
pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// The client address of a request: the TCP peer, or with `trust_forwarded_for` the
/// address the nearest proxy appended to `X-Forwarded-For`.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    fn of(parts: &Parts, trust_forwarded_for: bool) -> ClientAddress {
        let forwarded = trust_forwarded_for
            .then(|| {
                parts
                    .headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .filter_map(|value| value.to_str().ok())
                    .flat_map(|value| value.split(','))
                    .next_back()
                    // The entry the nearest proxy appended, or none: never an earlier,
                    // client-written one.
                    .and_then(|entry| entry.trim().parse::<IpAddr>().ok())
            })
            .flatten();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        ClientAddress(
            forwarded
                .or(peer)
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        )
    }
}

impl FromRequestParts<ConsoleState> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ConsoleState,
    ) -> Result<Self, Infallible> {
        Ok(ClientAddress::of(parts, state.config.trust_forwarded_for))
    }
}

/// Who is making a request, and how they proved it.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The tenant whose data the request reads and changes.
    pub tenant: TenantId,
    /// Who acts: a username, or `token:<id>` for an API token.
    pub actor: String,
    /// The session's CSRF token; `None` for API tokens, which browsers
    /// never send on their own and so need none.
    pub csrf_token: Option<String>,
    /// What an API token may do; `None` for users, whose role decides.
    pub scopes: Option<Vec<Scope>>,
    /// A user's role in the tenant; `None` for API tokens.
    pub role: Option<Role>,
    /// The tenants a signed-in user may switch to (slug, name), loaded for pages only.
    pub tenants: Vec<(String, String)>,
    /// A platform administrator: manages every tenant.
    pub platform_admin: bool,
}

impl Authenticated {
    fn user(user: User, csrf_token: Option<String>) -> Authenticated {
        Authenticated {
            tenant: user.tenant,
            actor: user.username,
            csrf_token,
            scopes: None,
            role: Some(user.role),
            tenants: Vec::new(),
            platform_admin: user.platform_admin,
        }
    }

    /// Whether the request may use `scope`.
    pub fn may(&self, scope: Scope) -> bool {
        self.scopes.as_ref().is_none_or(|s| s.contains(&scope))
    }

    /// Whether the request may do `capability` in its tenant: by the user's role, or by
    /// the token's scopes.
    pub fn can(&self, capability: Capability) -> bool {
        match (&self.role, &self.scopes) {
            (Some(role), _) => capability.granted_to(*role),
            (None, Some(scopes)) => capability.granted_by(scopes),
            (None, None) => false,
        }
    }
}

async fn from_session(
    state: &ConsoleState,
    headers: &HeaderMap,
) -> Result<Option<Authenticated>, ConfigError> {
    let Some(token) = cookie(headers, session_cookie(state.config.secure_cookies)) else {
        return Ok(None);
    };
    Ok(state
        .store
        .find_session(&token_hash(token))
        .await?
        .map(|session| Authenticated::user(session.user, Some(session.csrf_token))))
}

/// An API token (`Authorization: Bearer sat_…`). Tokens carry 256 random bits: a wrong
/// one costs a hash lookup, never a password hash.
async fn from_token(
    state: &ConsoleState,
    parts: &Parts,
) -> Result<Option<Result<Authenticated, ApiError>>, ApiError> {
    let Some(presented) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return Ok(None);
    };
    let address = ClientAddress::of(parts, state.config.trust_forwarded_for).0;
    if let Err(Refusal::Throttled(wait)) = state.sign_in.token_check_allowed(address) {
        return Ok(Some(Err(ApiError::Throttled(wait))));
    }
    let Some(token) = state.store.use_token(&token_hash(presented.trim())).await? else {
        state.sign_in.token_failed(address);
        return Ok(Some(Err(ApiError::Unauthorized)));
    };
    Ok(Some(Ok(Authenticated {
        tenant: token.tenant,
        actor: format!("token:{}", token.id),
        csrf_token: None,
        scopes: Some(token.scopes),
        role: None,
        tenants: Vec::new(),
        platform_admin: false,
    })))
}

/// A logged-in user of an HTML page; others are redirected to the login form.
pub struct PageUser(pub Authenticated);

impl FromRequestParts<ConsoleState> for PageUser {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ConsoleState,
    ) -> Result<Self, PageError> {
        let Some(mut auth) = from_session(state, &parts.headers).await? else {
            // A page opened from a link or a bookmark opens again once signed in.
            // Under `nest`, the request's URI lost its `/console`: the original has it.
            let page = (parts.method == axum::http::Method::GET)
                .then(|| parts.extensions.get::<axum::extract::OriginalUri>())
                .flatten()
                .and_then(|uri| uri.0.path_and_query())
                .map(|page| page.as_str().to_owned())
                .filter(|page| crate::routes::pages::is_console_path(page));
            return Err(PageError::LoginRequired(page));
        };
        // Only pages need them (the header's tenant switcher): API calls skip the query.
        auth.tenants = state
            .store
            .tenants_of(&auth.actor)
            .await?
            .into_iter()
            .map(|t| (t.slug.as_str().to_owned(), t.name))
            .collect();
        Ok(PageUser(auth))
    }
}

/// A user of the REST API, by session cookie or API token; others get 401. Passwords
/// never travel with API calls: programs use tokens.
/// A token needs `read` for safe methods and `write` for the others (403 otherwise).
pub struct ApiUser(pub Authenticated);

impl FromRequestParts<ConsoleState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<Self, ApiError> {
        if let Some(auth) = from_session(state, &parts.headers).await? {
            // Cookies ride along on cross-site requests: state changes need the token too.
            let safe = parts.method.is_safe();
            let echoed = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok());
            let valid = match (&auth.csrf_token, echoed) {
                (Some(expected), Some(echoed)) => same_secret(expected, echoed),
                _ => false,
            };
            return if safe || valid {
                Ok(ApiUser(auth))
            } else {
                Err(ApiError::CsrfRejected)
            };
        }
        if let Some(token) = from_token(state, parts).await? {
            let auth = token?;
            let needed = if parts.method.is_safe() {
                Scope::Read
            } else {
                Scope::Write
            };
            return if auth.may(needed) {
                Ok(ApiUser(auth))
            } else {
                Err(ApiError::InsufficientScope(needed))
            };
        }
        Err(ApiError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_as_argon2id() {
        let hash = hash_password("s3greto-lungo").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert_ne!(hash, hash_password("s3greto-lungo").unwrap(), "salted");
    }

    #[test]
    fn cookies_are_parsed_and_secrets_compared() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; satisfy_session=tok; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, session_cookie(false)), Some("tok"));
        assert_eq!(cookie(&headers, "missing"), None);
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("", ""));
        assert_ne!(random_token(), random_token());
    }
}
