#!/bin/sh
# Run mosquitto with deploy/mosquitto.conf and one listener on MQTT_BIND:MQTT_PORT (default 127.0.0.1:1883).
# Anonymous clients are allowed unless MQTT_PASSWORD_FILE names a mosquitto_passwd file (mounted in).
# Started as root, mosquitto drops to the `mosquitto` user after reading its configuration.
set -eu
conf=/tmp/mosquitto.conf
{
    cat /etc/mosquitto/forewarn.conf
    echo "listener ${MQTT_PORT:-1883} ${MQTT_BIND:-127.0.0.1}"
    if [ -n "${MQTT_PASSWORD_FILE:-}" ]; then
        echo "allow_anonymous false"
        echo "password_file $MQTT_PASSWORD_FILE"
    else
        echo "allow_anonymous true"
    fi
} > "$conf"
exec mosquitto -c "$conf"
