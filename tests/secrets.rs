//! No secret given to a role reaches its logs, even when every backend refuses it and the
//! errors are logged at the most verbose level.

use std::process::Command;
use std::time::Duration;

const SECRETS: [&str; 5] = [
    "kafka-segreto-1",
    "clickhouse-segreto-2",
    "postgres-segreto-3",
    "interno-segreto-4",
    "amministratore-segreto-5",
];

/// Runs `satisfy` with `args` against backends that are not there (port 1 refuses at
/// once) and returns everything it printed before it gave up, or was stopped after 8 s
/// (ingest waits for Kafka).
fn output_of(args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_satisfy"))
        .args(args)
        .env("RUST_LOG", "trace")
        .env_remove("SATISFY_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting satisfy");
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    while child.try_wait().expect("waiting").is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().expect("stopping satisfy");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("its output");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn assert_no_secret(role: &str, output: &str) {
    assert!(!output.is_empty(), "{role} logged nothing");
    for secret in SECRETS {
        assert!(
            !output.contains(secret),
            "{role} logged {secret}:\n{output}"
        );
    }
}

#[test]
fn refused_backends_never_get_a_secret_logged() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = format!("--data-dir={}", data.path().display());
    let kafka = [
        "--kafka-brokers=127.0.0.1:1",
        "--kafka-security-protocol=sasl_plaintext",
        "--kafka-sasl-mechanism=PLAIN",
        "--kafka-sasl-username=satisfy",
        "--kafka-sasl-password=kafka-segreto-1",
    ];
    let clickhouse = [
        "--clickhouse-url=http://127.0.0.1:1",
        "--clickhouse-user=satisfy",
        "--clickhouse-password=clickhouse-segreto-2",
    ];

    let console = output_of(
        &[
            &["console", "--listen=127.0.0.1:0", data_dir.as_str()][..],
            &clickhouse,
            &[
                "--public-url=http://127.0.0.1:1",
                "--internal-token=interno-segreto-4",
                "--admin-password=amministratore-segreto-5",
            ],
        ]
        .concat(),
    );
    assert!(console.contains("ClickHouse"), "{console}");
    assert_no_secret("console", &console);

    let on_postgres = output_of(&[
        "console",
        "--listen=127.0.0.1:0",
        "--database-url=postgres://satisfy:postgres-segreto-3@127.0.0.1:1/satisfy",
        "--clickhouse-url=http://127.0.0.1:1",
        "--public-url=http://127.0.0.1:1",
        "--internal-token=interno-segreto-4",
    ]);
    assert!(on_postgres.contains("PostgreSQL"), "{on_postgres}");
    assert_no_secret("console on PostgreSQL", &on_postgres);

    let aggregator = output_of(
        &[
            &["aggregator", "--listen=127.0.0.1:0"][..],
            &kafka,
            &clickhouse,
        ]
        .concat(),
    );
    assert_no_secret("aggregator", &aggregator);

    let ingest = output_of(
        &[
            &["ingest", "--listen=127.0.0.1:0"][..],
            &kafka,
            &[
                "--console-url=http://127.0.0.1:1",
                "--internal-token=interno-segreto-4",
            ],
        ]
        .concat(),
    );
    assert!(ingest.to_lowercase().contains("kafka"), "{ingest}");
    assert_no_secret("ingest", &ingest);
}
