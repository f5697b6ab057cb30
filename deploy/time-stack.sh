#!/bin/sh
# Time the stack from `podman-compose up -d` to a healthy service (GET /healthz answers 200 with the MQTT
# connector running): RUNS first starts on empty volumes (a new store; with postgres, initdb too) and RUNS
# restarts (`down` keeping the volumes, then `up`), each printed, then the medians. Uses the images as they are
# (`make image` first) under a project of its own (fwtime) on ports 18000, 11883, 19090, 15432 by default, with
# throw-away secrets; removes its containers and volumes at the end.
# Usage: deploy/time-stack.sh [duckdb|postgres] [RUNS]   (default duckdb 3)
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
store="${1:-duckdb}"
runs="${2:-3}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/deploy/containers.conf}"
export FOREWARN_PORT="${FOREWARN_PORT:-18000}" MQTT_PORT="${MQTT_PORT:-11883}" PROM_PORT="${PROM_PORT:-19090}"
export PG_PORT="${PG_PORT:-15432}"
python="${PYTHON:-$root/.venv/bin/python}"
files="-f deploy/compose.yaml"
case "$store" in
    duckdb) ;;
    postgres) files="$files -f deploy/compose.postgres.yaml" ;;
    *) echo "time-stack.sh: STORE $store: duckdb or postgres" >&2; exit 2 ;;
esac
secrets="$(mktemp -d)"
for name in token db_password; do
    (umask 077 && "$python" -c "import secrets; print(secrets.token_urlsafe(24))" > "$secrets/$name")
    chown 10001 "$secrets/$name"
done
export FOREWARN_TOKEN_FILE="$secrets/token" FOREWARN_DB_PASSWORD_FILE="$secrets/db_password"
# shellcheck disable=SC2086
compose() { "$root/.venv/bin/podman-compose" -p fwtime $files "$@" >/dev/null 2>&1; }
cleanup() { compose down -v || true; rm -rf "$secrets"; }
trap cleanup EXIT

healthy() {  # seconds from `up -d` to a healthy service (at most 120)
    "$python" - "$FOREWARN_PORT" <<'EOF'
import json, subprocess, sys, time, urllib.request

start = time.monotonic()
while time.monotonic() - start < 120:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=2) as answer:
            if answer.status == 200 and json.load(answer).get("stream", {}).get("running"):
                break
    except OSError:
        pass
    time.sleep(0.25)
else:
    sys.exit("not healthy in 120 s")
print(f"{time.monotonic() - start:.1f}")
EOF
}

up() { started="$(date +%s.%N)"; compose up -d; healthy >/dev/null; echo "$started $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}'; }

first=""; again=""
for i in $(seq 1 "$runs"); do
    compose down -v || true
    a="$(up)"
    compose down
    b="$(up)"
    echo "run $i ($store): first start $a s, restart $b s (load $(cut -d' ' -f1 /proc/loadavg))"
    first="$first $a"; again="$again $b"
done
median() { echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
echo "$store: first start median $(median $first) s ($first ), restart median $(median $again) s ($again )"
