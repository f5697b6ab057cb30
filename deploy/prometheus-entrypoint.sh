#!/bin/sh
# Run Debian's prometheus on PROM_BIND:PROM_PORT (default 127.0.0.1:9090), scraping FOREWARN_TARGET
# (default 127.0.0.1:8000) with deploy/prometheus.yml; its time series stay in the prometheus-data volume.
set -eu
listen="${PROM_BIND:-127.0.0.1}:${PROM_PORT:-9090}"
self="127.0.0.1:${PROM_PORT:-9090}"
sed -e "s/@FOREWARN_TARGET@/${FOREWARN_TARGET:-127.0.0.1:8000}/" -e "s/@PROMETHEUS_SELF@/$self/" \
    /etc/prometheus/forewarn.yml > /tmp/prometheus.yml
exec prometheus --config.file=/tmp/prometheus.yml --storage.tsdb.path=/var/lib/prometheus/metrics2 \
    --storage.tsdb.retention.time="${PROM_RETENTION:-30d}" --web.listen-address="$listen" "$@"
