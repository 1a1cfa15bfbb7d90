//! Passwords (Argon2id), sessions (HttpOnly, SameSite=Strict cookies), CSRF tokens and
//! HTTP Basic for API clients.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ConsoleState;
use crate::error::{ApiError, PageError};
use crate::store::{ConfigError, User};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "satisfy_session";
/// Name of the cookie that protects the login form (double-submit token).
pub const LOGIN_CSRF_COOKIE: &str = "satisfy_login_csrf";
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

/// Checks a password against a stored hash, off the async threads.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
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

/// Who is making a request.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The user.
    pub user: User,
    /// The session's CSRF token; `None` for HTTP Basic, which browsers never send on their
    /// own to our API and so needs none.
    pub csrf_token: Option<String>,
}

async fn from_session(
    state: &ConsoleState,
    headers: &HeaderMap,
) -> Result<Option<Authenticated>, ConfigError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(state
        .store
        .find_session(token_hash(token))
        .await?
        .map(|session| Authenticated {
            user: session.user,
            csrf_token: Some(session.csrf_token),
        }))
}

async fn from_basic(
    state: &ConsoleState,
    headers: &HeaderMap,
) -> Result<Option<Authenticated>, ConfigError> {
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| STANDARD.decode(b64.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let Some((username, password)) = credentials.as_deref().and_then(|c| c.split_once(':')) else {
        return Ok(None);
    };
    let Some(user) = state.store.find_user(username).await? else {
        return Ok(None);
    };
    let ok = verify_password(password.to_owned(), user.password_hash.clone()).await;
    Ok(ok.then_some(Authenticated {
        user,
        csrf_token: None,
    }))
}

/// A logged-in user of an HTML page; others are redirected to the login form.
pub struct PageUser(pub Authenticated);

impl FromRequestParts<ConsoleState> for PageUser {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ConsoleState,
    ) -> Result<Self, PageError> {
        match from_session(state, &parts.headers).await? {
            Some(auth) => Ok(PageUser(auth)),
            None => Err(PageError::LoginRequired),
        }
    }
}

/// A user of the REST API, by session cookie or HTTP Basic; others get 401.
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
        match from_basic(state, &parts.headers).await? {
            Some(auth) => Ok(ApiUser(auth)),
            None => Err(ApiError::Unauthorized),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let hash = hash_password("s3greto").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(rt.block_on(verify_password("s3greto".into(), hash.clone())));
        assert!(!rt.block_on(verify_password("sbagliata".into(), hash)));
    }

    #[test]
    fn cookies_are_parsed_and_secrets_compared() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; satisfy_session=tok; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, "missing"), None);
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("", ""));
        assert_ne!(random_token(), random_token());
    }
}
