//! Satisfy reaching ClickHouse as a production deployment does: over https, checking the
//! server's certificate against the authorities it trusts, as a user with a password.
//! tests/run.sh serves the test ClickHouse (user `satisfy`) behind a TLS endpoint whose
//! private authority is in TEST_SATISFY_CLICKHOUSE_CA; under CI the test is required.
//! Its own test binary: it sets SSL_CERT_FILE, which the TLS client reads when created.

// Only the spring scenario is used here.
#[allow(dead_code)]
mod conformance;

use satisfy_aggregator::{AnalyticsQuery, ClickHouseAccess, ClickHouseStore, RatingStore};
use secrecy::SecretString;

/// The password of the test ClickHouse's `satisfy` user (tests/engines/clickhouse.py).
const PASSWORD: &str = "satisfy-test-password";

#[tokio::test]
async fn https_with_a_password_reaches_clickhouse_and_refusals_name_no_secret() {
    let (Ok(url), Ok(ca)) = (
        std::env::var("TEST_SATISFY_CLICKHOUSE_TLS_URL"),
        std::env::var("TEST_SATISFY_CLICKHOUSE_CA"),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set TEST_SATISFY_CLICKHOUSE_TLS_URL and TEST_SATISFY_CLICKHOUSE_CA"
        );
        eprintln!("TEST_SATISFY_CLICKHOUSE_TLS_URL is not set: skipping");
        return;
    };
    let access = |password: &str| ClickHouseAccess {
        url: url.clone(),
        database: format!("satisfy_test_{}", uuid::Uuid::new_v4().simple()),
        user: Some("satisfy".into()),
        password: Some(SecretString::from(password)),
    };

    // The system's authorities do not know the private one: the certificate is refused.
    let untrusted = ClickHouseStore::connect(&access(PASSWORD)).await;
    let refusal = untrusted
        .err()
        .expect("an unknown authority is refused")
        .to_string();
    assert!(refusal.contains("UnknownIssuer"), "{refusal}");

    // SAFETY: this test binary runs this one test; nothing else reads the environment.
    unsafe { std::env::set_var("SSL_CERT_FILE", &ca) };
    let wrong = ClickHouseStore::connect(&access("not-the-password")).await;
    let refusal = wrong
        .err()
        .expect("a wrong password is refused")
        .to_string();
    assert!(refusal.contains("Authentication failed"), "{refusal}");
    assert!(!refusal.contains("not-the-password"), "{refusal}");

    let store = ClickHouseStore::connect(&access(PASSWORD))
        .await
        .expect("https, the trusted authority and the password");
    conformance::load_spring(&store as &dyn RatingStore).await;
    conformance::check_spring(&store as &dyn AnalyticsQuery).await;
}
