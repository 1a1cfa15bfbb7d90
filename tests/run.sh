#!/usr/bin/env bash
# Runs every test of Satisfy: the widget's reproducible build, formatting and lints, the
# Rust unit, integration and end-to-end suites, the browser tests in headless Chromium
# (conformance, accessibility, keyboard), the REST API against its OpenAPI document
# (schemathesis) and the widget's size budget.
# Installs what they need (Debian packages, PyPI and npm packages) when missing.
# Usage: bash tests/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# The WebAssembly toolchain of widget/build.sh (see its header).
if ! dpkg -s rustc-web cargo-web rust-web-src lld-22 brotli >/dev/null 2>&1; then
  step "installing Debian's rustc-web toolchain for the widget's WebAssembly core"
  apt_install rustc-web cargo-web rust-web-src lld-22 brotli
fi

# OpenSSL: librdkafka's TLS and SCRAM (the rdkafka crate's `ssl` feature links the system's
# libssl), and the certificates of the TLS tests (tests/engines/tls_proxy.py).
if ! dpkg -s libssl-dev pkg-config openssl >/dev/null 2>&1; then
  step "installing OpenSSL's development files for librdkafka"
  apt_install libssl-dev pkg-config openssl
fi

if ! command -v chromium >/dev/null 2>&1; then
  step "installing Debian's chromium for the browser tests"
  apt_install chromium
fi

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  step "installing Debian's PostgreSQL for the configuration store's tests"
  apt_install postgresql
fi

step "installing the real engines of the distributed tests (ClickHouse, Kafka brokers)"
bash tests/engines/install.sh

if [ ! -f tests/browser/node_modules/.package-lock.json ] ||
   [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
  step "installing the browser test packages (playwright-core, axe-core, bootstrap-italia)"
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
fi

step "rebuilding the widget: widget/dist must match its sources"
bash widget/build.sh >/dev/null
if [ -n "$(git status --porcelain -- widget/dist)" ]; then
  git status --short -- widget/dist
  echo "widget/dist differs from a fresh build of the sources: run bash widget/build.sh and commit" >&2
  exit 1
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "starting ClickHouse (also behind TLS) and PostgreSQL for the backend conformance suites"
engines=$(mktemp -d)
trap 'for e in clickhouse clickhouse-tls postgres; do bash tests/engines/engines.sh stop "$engines/$e"; done; rm -rf "$engines"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
clickhouse_port=$(free_port)
bash tests/engines/engines.sh start clickhouse "$engines/clickhouse" "$clickhouse_port"
export TEST_SATISFY_CLICKHOUSE_URL="http://127.0.0.1:$clickhouse_port"
# The same ClickHouse behind TLS with a private authority, and its password-protected user
# (tests/engines/clickhouse.py), for the tests of credentials and https.
clickhouse_tls_port=$(free_port)
bash tests/engines/engines.sh start tls-proxy "$engines/clickhouse-tls" "$clickhouse_tls_port" "$clickhouse_port"
export TEST_SATISFY_CLICKHOUSE_TLS_URL="https://localhost:$clickhouse_tls_port"
export TEST_SATISFY_CLICKHOUSE_CA="$engines/clickhouse-tls/ca.pem"
postgres_port=$(free_port)
bash tests/engines/engines.sh start postgres "$engines/postgres" "$postgres_port"
export TEST_SATISFY_POSTGRES_URL="postgres://satisfy@127.0.0.1:$postgres_port/postgres"

step "cargo test (unit, integration, end-to-end; distributed mode on real engines)"
cargo test --workspace --locked

step "fuzzing, a short run of every target (tests/fuzz.sh; the figures' run is longer)"
bash tests/fuzz.sh 20000

step "a flood at 20 times the limit and 1,000 slow connections beside 50 well-behaved clients (tests/bench/abuse.sh, short)"
bash tests/bench/abuse.sh target/debug/satisfy 5 1000

step "browser end-to-end tests (headless Chromium)"
# cargo test built target/debug/satisfy for the end-to-end suites: the browser tests reuse it
# (a separate cargo build would resolve features without the dev-dependencies and rebuild).
test -x target/debug/satisfy
(cd tests/browser && TEST_SATISFY_BIN="$PWD/../../target/debug/satisfy" npm test)

step "the REST API against its OpenAPI document (schemathesis: no 5xx, statuses, types and bodies as documented)"
TEST_SATISFY_BIN="$PWD/target/debug/satisfy" bash tests/api/schemathesis.sh 40

step "widget size budget"
bash widget/size.sh

step "deploy/ validation (hadolint, compose schema, Kubernetes schemas)"
bash deploy/validate.sh
