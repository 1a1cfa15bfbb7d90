#!/usr/bin/env bash
# Validates deploy/ without a container engine: the Dockerfile with hadolint, the compose
# file against the Compose Specification schema, the Kubernetes manifests against the
# Kubernetes API schemas, and the example settings against the binary's known settings.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${TEST_SATISFY_ENGINES_VENV:-/opt/satisfy-engines}"
bash tests/engines/install.sh
"$venv/bin/hadolint" --ignore DL3008 deploy/Dockerfile
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/docker-compose.yml
"$venv/bin/kubernetes-validate" --strict --kubernetes-version 1.33 deploy/kubernetes/satisfy.yaml
# No secret ships in deploy/: pods and containers refuse to start until the operator sets
# them (Kubernetes: a Secret created by hand; compose: ${VAR:?} on every secret).
if grep -q '^kind: Secret' deploy/kubernetes/satisfy.yaml; then
  echo "deploy/kubernetes/satisfy.yaml must not ship a Secret" >&2; exit 1
fi
for secret in SATISFY_INTERNAL_TOKEN SATISFY_ADMIN_PASSWORD SATISFY_POSTGRES_PASSWORD; do
  if ! grep -q "\${$secret:?" deploy/docker-compose.yml; then
    echo "deploy/docker-compose.yml must refuse to start without $secret" >&2; exit 1
  fi
done
# Every key of the example file must be a setting the binary knows (it refuses unknown ones).
SATISFY_INTERNAL_TOKEN=x SATISFY_CONSOLE_URL=http://c SATISFY_KAFKA_BROKERS=k:9092 \
  "${TEST_SATISFY_BIN:-target/debug/satisfy}" --config deploy/satisfy.example.toml ingest --help >/dev/null
echo "deploy/ is valid"
