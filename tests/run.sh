#!/usr/bin/env bash
# Runs every test of Satisfy: formatting and lints, the Rust unit, integration and
# end-to-end suites, and the browser end-to-end tests in headless Chromium.
# Installs what the browser tests need (Debian's chromium, npm packages) when missing.
# Usage: bash tests/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

need_chromium() { ! command -v chromium >/dev/null 2>&1; }
if need_chromium; then
  step "installing Debian's chromium for the browser tests"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi

if [ ! -d tests/browser/node_modules/playwright-core ]; then
  step "installing the browser test driver (npm ci)"
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (unit, integration, end-to-end)"
cargo test --workspace --locked

step "browser end-to-end tests (headless Chromium)"
cargo build --locked --bin satisfy
(cd tests/browser && SATISFY_BIN="$PWD/../../target/debug/satisfy" npm test)
