# Sourced by the benchmark scripts that load the embedded product (abuse.sh, memory.sh).
# start_embedded NAME [SERVE FLAGS...] starts `satisfy serve` ($bin) on a free port with a
# fresh data directory and the given extra flags, trusting X-Forwarded-For; creates the
# entrypoint NAME for $origin through the API with a token of tenant "comune"; and waits
# until ingest accepts ratings for it. It sets work, port, server, auth, origin and ep; at
# exit the server is stopped and the directory removed.
start_embedded() {
  local name=$1
  shift
  work=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  SATISFY_ADMIN_PASSWORD=benchmark-password RUST_LOG=warn "$bin" serve --listen "127.0.0.1:$port" \
    --data-dir "$work/data" --demo-data false --trust-forwarded-for "$@" >"$work/log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  auth="Authorization: Bearer $("$bin" admin --data-dir "$work/data" tokens create --tenant comune --name "$name" --scopes read,write)"
  origin="https://www.comune.example.it"
  ep=$(curl -sf -H "$auth" -X POST -H 'content-type: application/json' \
    -d "{\"name\":\"$name\",\"kind\":\"pagina_web\",\"allowed_origins\":[\"$origin\"]}" \
    "http://127.0.0.1:$port/api/v1/entrypoints" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  sleep 2.5  # ingest's entrypoint directory refreshes every 2 s
}
