#!/bin/sh
# Start `forewarn serve` on the volume /var/lib/forewarn (FOREWARN_DATA): store.duckdb (created when missing),
# its case book beside it, and the models folder models/ (<model_id>/<version>/ bundles). With FOREWARN_STORE (a
# postgresql:// URL, deploy/compose.postgres.yaml) the store and its case book are in that database instead and
# the volume keeps the models.
#
# Environment:
#   FOREWARN_STORE           postgresql://user@host:port/db: serve that server store (waits up to
#                            FOREWARN_STORE_WAIT, 60 s, for the database to accept the role's login); its password
#                            from FOREWARN_STORE_PASSWORD_FILE (a mounted secret), never in the URL
#   FOREWARN_API_TOKEN       the write token; or FOREWARN_API_TOKEN_FILE (default /run/secrets/forewarn_api_token,
#                            where podman and compose mount a secret) naming a file that holds it
#   FOREWARN_HOST / _PORT    where to listen (default 0.0.0.0:8000)
#   FOREWARN_MQTT_HOST       run the MQTT stream connector inside the service, reading from this broker
#   FOREWARN_MQTT_PORT       (default 1883) with the mapping of /etc/forewarn/stream.toml (topic plant/<asset>/<channel>)
#   FOREWARN_STREAM_CONFIG   a `forewarn stream` TOML config of your own (mounted into the container) instead
# Arguments are passed on to `forewarn serve` (e.g. --model-id, --costs, --log-level).
set -eu

data="${FOREWARN_DATA:-/var/lib/forewarn}"
if [ -z "${FOREWARN_API_TOKEN:-}" ]; then
    secret="${FOREWARN_API_TOKEN_FILE:-/run/secrets/forewarn_api_token}"
    if [ -r "$secret" ]; then
        FOREWARN_API_TOKEN="$(tr -d '\r\n' < "$secret")"
        export FOREWARN_API_TOKEN
    fi
fi
unset FOREWARN_API_TOKEN_FILE

mkdir -p "$data/models"
stream=""
if [ -n "${FOREWARN_STREAM_CONFIG:-}" ]; then
    stream="$FOREWARN_STREAM_CONFIG"
elif [ -n "${FOREWARN_MQTT_HOST:-}" ]; then
    stream=/tmp/forewarn-stream.toml
    sed -e "s/@MQTT_HOST@/${FOREWARN_MQTT_HOST}/" -e "s/@MQTT_PORT@/${FOREWARN_MQTT_PORT:-1883}/" \
        /etc/forewarn/stream.toml > "$stream"
fi

if [ -n "${FOREWARN_MQTT_HOST:-}" ]; then  # the broker may start after the service: wait for it (30 s by default)
    python3 -c 'import socket, sys, time
host, port, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.monotonic() + wait
while True:
    try:
        socket.create_connection((host, port), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > end:
            sys.exit(f"no MQTT broker answers on {host}:{port} after {wait:g} s")
        time.sleep(0.2)' "$FOREWARN_MQTT_HOST" "${FOREWARN_MQTT_PORT:-1883}" "${FOREWARN_MQTT_WAIT:-30}"
fi

store="$data/store.duckdb"
if [ -n "${FOREWARN_STORE:-}" ]; then  # the server store: wait until the database lets the role log in
    store="$FOREWARN_STORE"
    python3 -c 'import os, sys, time
import psycopg
url, wait = sys.argv[1], float(sys.argv[2])
name = os.environ.get("FOREWARN_STORE_PASSWORD_FILE")
kwargs = {}
if name:
    with open(name, encoding="utf-8") as file:
        kwargs["password"] = (file.readline()).strip()
end = time.monotonic() + wait
while True:
    try:
        psycopg.connect(url, connect_timeout=2, **kwargs).close()
        break
    except psycopg.Error as err:
        if time.monotonic() > end:
            reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
            sys.exit(f"the store database does not accept the login after {wait:g} s: {reason}")
        time.sleep(0.25)' "$store" "${FOREWARN_STORE_WAIT:-60}"
fi

set -- --store "$store" --create --models "$data/models" \
    --host "${FOREWARN_HOST:-0.0.0.0}" --port "${FOREWARN_PORT:-8000}" "$@"
if [ -n "$stream" ]; then
    set -- --stream "$stream" "$@"
fi
exec forewarn serve "$@"
