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
#   FOREWARN_MQTT_WAIT       seconds to wait for the broker (30)
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

store="$data/store.duckdb"
if [ -n "${FOREWARN_STORE:-}" ]; then
    store="$FOREWARN_STORE"
fi

set -- --store "$store" --create --models "$data/models" \
    --host "${FOREWARN_HOST:-0.0.0.0}" --port "${FOREWARN_PORT:-8000}" "$@"
if [ -n "$stream" ]; then
    set -- --stream "$stream" "$@"
fi
# launch.py: `forewarn serve "$@"` once the broker (FOREWARN_MQTT_HOST) and a postgresql:// store answer; it
# imports the service's modules while they start
exec python3 /usr/local/lib/forewarn/launch.py "$@"
