//! Inviting users: an administrator creates the account and receives a one-time link,
//! valid 72 hours and shown once, where the user chooses a password that meets the policy.

use satisfy_core::TenantId;

use crate::MIN_PASSWORD_CHARS;
use crate::auth::{random_token, token_hash};
use crate::roles::Role;
use crate::store::{ConfigError, ConfigStore, User};

/// How long a set-password link works.
pub const INVITATION_HOURS: i64 = 72;

/// Why a password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyError {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    TooShort,
    /// The username itself (in any case).
    SameAsUsername,
    /// Among the 100,000 most common passwords.
    TooCommon,
}

/// Checks a new password: at least 12 characters, not the username, not a common
/// password (the list of the `passwords` crate, compared also in lowercase).
pub fn check_password_policy(username: &str, password: &str) -> Result<(), PolicyError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PolicyError::TooShort);
    }
    if password.to_lowercase() == username.to_lowercase() {
        return Err(PolicyError::SameAsUsername);
    }
    let lower = password.to_lowercase();
    if passwords::analyzer::is_common_password(password)
        || passwords::analyzer::is_common_password(&lower)
    {
        return Err(PolicyError::TooCommon);
    }
    Ok(())
}

/// Whether `raw` can be a username: 1 to 64 lowercase letters, digits, `.`, `_`, `-`, `@`.
pub fn valid_username(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-@".contains(&b))
}

/// Creates `username` with `role` in `tenant`, without a password, and returns the
/// set-password link under `public_url`.
pub async fn invite(
    store: &dyn ConfigStore,
    public_url: &str,
    tenant: TenantId,
    username: &str,
    role: Role,
) -> Result<String, ConfigError> {
    if !valid_username(username) {
        return Err(ConfigError::from_message(format!(
            "`{username}` is not a valid username: use 1 to 64 lowercase letters, digits, `.`, `_`, `-` or `@`"
        )));
    }
    store
        .create_user(User {
            username: username.to_owned(),
            tenant,
            password_hash: String::new(),
            role,
            platform_admin: false,
        })
        .await?;
    let token = random_token();
    let expires_at = chrono::Utc::now().timestamp() + INVITATION_HOURS * 3600;
    store
        .create_invitation(username, &token_hash(&token), expires_at)
        .await?;
    Ok(format!(
        "{}/console/set-password?token={token}",
        public_url.trim_end_matches('/')
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_refuses_short_username_and_common_passwords() {
        assert_eq!(
            check_password_policy("mario", "corta"),
            Err(PolicyError::TooShort)
        );
        assert_eq!(
            check_password_policy("mario.rossi.12", "Mario.Rossi.12"),
            Err(PolicyError::SameAsUsername)
        );
        assert_eq!(
            check_password_policy("mario", "qwertyuiop123"),
            Err(PolicyError::TooCommon)
        );
        assert_eq!(
            check_password_policy("mario", "Password1234"),
            Err(PolicyError::TooCommon)
        );
        assert_eq!(
            check_password_policy("mario", "tramonto-sul-serchio"),
            Ok(())
        );
    }

    #[test]
    fn usernames_are_plain() {
        assert!(valid_username("mario.rossi@bugliano"));
        assert!(!valid_username("Mario"));
        assert!(!valid_username(""));
        assert!(!valid_username("a b"));
    }
}
