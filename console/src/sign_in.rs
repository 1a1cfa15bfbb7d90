//! Password checks that hold under attack: a bounded number of Argon2id hashes at once,
//! each in one of a few memory areas allocated once and reused (an Argon2id hash works in
//! 19 MiB; allocated per check, the allocator kept hundreds of MB), failures throttled per
//! account and per client address with an exponential backoff, and unknown usernames
//! checked against a dummy hash so that they cost the same time as known ones.

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::auth::hash_password;
use crate::store::ConfigError;

/// Failures allowed on one account before the backoff starts.
pub const FREE_FAILURES: u32 = 5;
/// Failures allowed from one address (an office behind one NAT shares it) before the
/// backoff starts.
pub const FREE_ADDRESS_FAILURES: u32 = 4 * FREE_FAILURES;
/// The longest wait imposed after repeated failures.
pub const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// How long a caller may wait for a hashing slot before it is told to retry.
const HASH_QUEUE_WAIT: Duration = Duration::from_secs(10);
/// Failure records idle this long are forgotten: occasional typos never add up.
const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// Records kept before idle ones are pruned (a few MB at most).
const PRUNE_ABOVE: usize = 50_000;

/// Why a password was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many recent failures for this account or address: retry after this long.
    Throttled(Duration),
    /// Every hashing slot stayed busy: retry shortly.
    Busy,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

impl Key {
    fn free_failures(&self) -> u32 {
        match self {
            Key::Account(_) => FREE_FAILURES,
            Key::Address(_) => FREE_ADDRESS_FAILURES,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    /// When the next attempt is allowed: `2^(count - free)` seconds after the last
    /// failure, up to [`MAX_BACKOFF`].
    fn allowed_at(&self, free: u32) -> Instant {
        if self.count < free {
            return self.last;
        }
        let exponent = (self.count - free).min(20);
        self.last + Duration::from_secs(1u64 << exponent).min(MAX_BACKOFF)
    }
}

/// Guards every password check of the console (sign-in form and API credentials).
pub struct SignInGuard {
    hashing: Arc<Semaphore>,
    /// Argon2 working memory, one area per hashing slot, reused from check to check.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    failures: Mutex<HashMap<Key, Failures>>,
    dummy_hash: String,
    hashes: AtomicU64,
}

/// Checks `password` against an Argon2 PHC string, hashing in `memory` (grown to the
/// hash's cost if needed) instead of a fresh allocation.
fn verify_in(memory: &mut Vec<Block>, password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
        None => Version::default(),
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut output = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut output, &mut memory[..blocks])
        .is_ok()
        && bool::from(output.ct_eq(expected.as_bytes()))
}

/// The address a throttle keys on: IPv6 clients by their /64, which one subscriber holds;
/// IPv4 clients seen through an IPv6 socket (`::ffff:a.b.c.d`) by their IPv4 address.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => IpAddr::V4(
            v6.to_ipv4_mapped()
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
        ),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

impl SignInGuard {
    /// A guard allowing `concurrent_hashes` Argon2id checks at once (memory: 19 MiB each).
    pub fn new(concurrent_hashes: usize) -> Result<SignInGuard, ConfigError> {
        Ok(SignInGuard {
            hashing: Arc::new(Semaphore::new(concurrent_hashes.max(1))),
            memory: Arc::new(Mutex::new(Vec::new())),
            failures: Mutex::new(HashMap::new()),
            dummy_hash: hash_password(&crate::auth::random_token())?,
            hashes: AtomicU64::new(0),
        })
    }

    /// Password hashes computed so far.
    pub fn hashes(&self) -> u64 {
        self.hashes.load(Ordering::Relaxed)
    }

    fn keys(account: &str, address: IpAddr) -> [Key; 2] {
        [
            Key::Account(account.to_lowercase()),
            Key::Address(address_key(address)),
        ]
    }

    /// Refuses the attempt while this account or address must wait; otherwise counts it
    /// as a failure until proven right, so that concurrent attempts see it at once.
    fn reserve(&self, keys: &[Key], now: Instant) -> Result<(), Refusal> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let wait = Self::wait(&failures, keys, now);
        if !wait.is_zero() {
            return Err(Refusal::Throttled(wait));
        }
        Self::count_failure(&mut failures, keys, now);
        Ok(())
    }

    /// How long the most throttled of `keys` must still wait.
    fn wait(failures: &HashMap<Key, Failures>, keys: &[Key], now: Instant) -> Duration {
        keys.iter()
            .filter_map(|key| failures.get(key).map(|f| (key, f)))
            .map(|(key, f)| {
                f.allowed_at(key.free_failures())
                    .saturating_duration_since(now)
            })
            .max()
            .unwrap_or_default()
    }

    fn count_failure(failures: &mut HashMap<Key, Failures>, keys: &[Key], now: Instant) {
        if failures.len() >= PRUNE_ABOVE {
            failures.retain(|_, f| now.saturating_duration_since(f.last) < FORGET_AFTER);
        }
        for key in keys {
            let entry = failures.entry(key.clone()).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now.saturating_duration_since(entry.last) >= FORGET_AFTER {
                entry.count = 0;
            }
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
        }
    }

    /// Refuses an API token check from an address that presented too many unknown tokens
    /// (tokens are unguessable: this only stops floods of lookups).
    pub fn token_check_allowed(&self, address: IpAddr) -> Result<(), Refusal> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let wait = Self::wait(
            &failures,
            &[Key::Address(address_key(address))],
            Instant::now(),
        );
        if wait.is_zero() {
            Ok(())
        } else {
            Err(Refusal::Throttled(wait))
        }
    }

    /// Counts an unknown or revoked token presented from `address`.
    pub fn token_failed(&self, address: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let keys = [Key::Address(address_key(address))];
        Self::count_failure(&mut failures, &keys, Instant::now());
    }

    /// A right password: the account's record goes, and the address's reserved failure
    /// is given back (the address keeps the rest: it may be trying many accounts).
    fn succeeded(&self, keys: &[Key; 2]) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&keys[0]);
        if let Some(address) = failures.get_mut(&keys[1]) {
            address.count = address.count.saturating_sub(1);
        }
    }

    /// Runs one Argon2 check in a hashing slot, off the async threads. The slot and its
    /// memory area belong to the blocking task: if the request is dropped meanwhile, they
    /// are released only when the hash is done, so the bound holds whatever clients do.
    async fn verify(&self, password: String, phc: String) -> Result<bool, Refusal> {
        let permit = tokio::time::timeout(HASH_QUEUE_WAIT, self.hashing.clone().acquire_owned())
            .await
            .map_err(|_| Refusal::Busy)?
            .map_err(|_| Refusal::Busy)?;
        self.hashes.fetch_add(1, Ordering::Relaxed);
        let pool = Arc::clone(&self.memory);
        tokio::task::spawn_blocking(move || {
            // Within a permit there is always an area to take, or room for a new one.
            let mut memory = pool
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop()
                .unwrap_or_default();
            let verified = verify_in(&mut memory, password.as_bytes(), &phc);
            pool.lock().unwrap_or_else(|e| e.into_inner()).push(memory);
            drop(permit);
            verified
        })
        .await
        .map_err(|_| Refusal::Busy)
    }

    /// Checks `password` for `account` from `address` against its stored hash, or against
    /// a dummy hash when the account does not exist, so both take the same time.
    pub async fn check(
        &self,
        account: &str,
        address: IpAddr,
        password: String,
        stored_hash: Option<String>,
    ) -> Result<bool, Refusal> {
        let keys = Self::keys(account, address);
        self.reserve(&keys, Instant::now())?;
        // An invited user has no password until they set one: like an unknown account.
        let stored_hash = stored_hash.filter(|hash| !hash.is_empty());
        let known = stored_hash.is_some();
        let hash = stored_hash.unwrap_or_else(|| self.dummy_hash.clone());
        // Hashed even for an unknown account, so that its answer takes as long.
        let verified = self.verify(password, hash).await?;
        let success = known && verified;
        if success {
            self.succeeded(&keys);
        }
        Ok(success)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn guard() -> SignInGuard {
        SignInGuard::new(2).unwrap()
    }

    #[test]
    fn verifies_argon2_hashes_in_reused_memory() {
        let hash = hash_password("s3greto-lungo").unwrap();
        let mut memory = Vec::new();
        assert!(verify_in(&mut memory, b"s3greto-lungo", &hash));
        let blocks = memory.len();
        assert!(blocks > 0);
        assert!(!verify_in(&mut memory, b"sbagliata", &hash));
        assert_eq!(memory.len(), blocks);
        assert!(!verify_in(&mut memory, b"s3greto-lungo", "non-una-phc"));
    }

    #[tokio::test]
    async fn concurrent_attempts_are_counted_before_hashing() {
        let guard = std::sync::Arc::new(guard());
        let address: IpAddr = "192.0.2.5".parse().unwrap();
        let attempts = (0..64).map(|_| {
            let guard = guard.clone();
            tokio::spawn(async move { guard.check("admin", address, "x".into(), None).await })
        });
        let mut refused = 0;
        for attempt in attempts {
            if matches!(attempt.await.unwrap(), Err(Refusal::Throttled(_))) {
                refused += 1;
            }
        }
        assert_eq!(refused, 64 - FREE_FAILURES);
        assert_eq!(guard.hashes(), u64::from(FREE_FAILURES));
    }

    #[tokio::test]
    async fn unknown_accounts_are_hashed_like_known_ones() {
        let guard = guard();
        let address: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(
            guard.check("nessuno", address, "x".into(), None).await,
            Ok(false)
        );
        assert_eq!(guard.hashes(), 1);
    }

    #[tokio::test]
    async fn failures_back_off_per_account_and_address() {
        let guard = guard();
        let hash = hash_password("la-password-giusta").unwrap();
        let address: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..FREE_FAILURES {
            let result = guard
                .check("admin", address, "sbagliata".into(), Some(hash.clone()))
                .await;
            assert_eq!(result, Ok(false));
        }
        // Even the right password waits now, without a hash being computed.
        let before = guard.hashes();
        let refused = guard
            .check("admin", address, "la-password-giusta".into(), Some(hash))
            .await;
        let Err(Refusal::Throttled(wait)) = refused else {
            panic!("not throttled: {refused:?}");
        };
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(500));
        assert_eq!(guard.hashes(), before);
        // Another account from the same address still gets its own free attempts…
        assert_eq!(
            guard.check("altro", address, "x".into(), None).await,
            Ok(false)
        );
    }

    #[tokio::test]
    async fn one_address_trying_many_accounts_is_throttled() {
        let guard = guard();
        let address: IpAddr = "192.0.2.8".parse().unwrap();
        for n in 0..FREE_ADDRESS_FAILURES {
            let account = format!("utente{n}");
            assert_eq!(
                guard.check(&account, address, "x".into(), None).await,
                Ok(false)
            );
        }
        assert!(matches!(
            guard
                .check("ancora-un-altro", address, "x".into(), None)
                .await,
            Err(Refusal::Throttled(_))
        ));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let now = Instant::now();
        let wait = |count| {
            Failures { count, last: now }
                .allowed_at(FREE_FAILURES)
                .duration_since(now)
        };
        assert_eq!(wait(FREE_FAILURES - 1), Duration::ZERO);
        assert_eq!(wait(FREE_FAILURES), Duration::from_secs(1));
        assert_eq!(wait(FREE_FAILURES + 3), Duration::from_secs(8));
        assert_eq!(wait(FREE_FAILURES + 40), MAX_BACKOFF);
    }

    #[test]
    fn ipv4_clients_behind_an_ipv6_socket_keep_their_own_key() {
        let a: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let b: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert_ne!(address_key(a), address_key(b));
        assert_eq!(address_key(a), "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_eq!(
            address_key(a),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, 0))
        );
    }

    #[tokio::test]
    async fn success_clears_the_account() {
        let guard = guard();
        let hash = hash_password("la-password-giusta").unwrap();
        let address: IpAddr = "192.0.2.9".parse().unwrap();
        for _ in 0..FREE_FAILURES - 1 {
            let _ = guard
                .check("admin", address, "no".into(), Some(hash.clone()))
                .await;
        }
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            guard
                .check(
                    "admin",
                    other,
                    "la-password-giusta".into(),
                    Some(hash.clone())
                )
                .await,
            Ok(true)
        );
        assert_eq!(
            guard.check("admin", other, "no".into(), Some(hash)).await,
            Ok(false)
        );
    }
}
