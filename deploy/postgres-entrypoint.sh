#!/bin/sh
# Run Debian's PostgreSQL 15 for the Forewarn stack's server store (deploy/compose.postgres.yaml).
#
# First start (an empty volume): `initdb` makes the cluster in $PGDATA (UTF-8, checksums on; the superuser
# `postgres` logs in only over the container's Unix socket, as that system user: peer authentication), then
# the role $POSTGRES_USER and its database $POSTGRES_DB are created. Every start gives that role the password
# of the first line of $POSTGRES_PASSWORD_FILE (a secret: change the file and restart to change the password),
# through a server listening on the Unix socket only, then starts the real one on $PG_BIND:$PG_PORT. TCP
# clients log in with scram-sha-256, never without a password. The password is read by the server from a copy
# readable by `postgres` alone, deleted at once; it never passes through a command line, the environment or a log.
#
# Environment:
#   POSTGRES_PASSWORD_FILE   the application role's password (default /run/secrets/forewarn_db_password)
#   POSTGRES_USER / _DB      the application role and its database (default forewarn / forewarn)
#   PG_BIND / PG_PORT        where the server listens (default 127.0.0.1:5432)
# Arguments are passed on to `postgres` (e.g. -c shared_buffers=1GB).
# Started as root (to read the secret, whoever owns it on the host), the server runs as `postgres`.
set -eu

bin=/usr/lib/postgresql/15/bin
data="${PGDATA:-/var/lib/postgresql/data}"
socket=/run/postgresql
secret="${POSTGRES_PASSWORD_FILE:-/run/secrets/forewarn_db_password}"
role="${POSTGRES_USER:-forewarn}"
db="${POSTGRES_DB:-forewarn}"
port="${PG_PORT:-5432}"

say() { echo "postgres-entrypoint: $*" >&2; }
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

if [ "$(id -u)" != 0 ]; then
    say "start the container as root (it reads the secret, then runs the server as postgres)"
    exit 2
fi
if [ ! -r "$secret" ]; then
    say "no password file at $secret (POSTGRES_PASSWORD_FILE): mount the secret forewarn_db_password"
    exit 2
fi
if [ -z "$(head -n 1 "$secret" | tr -d '\r\n\t ')" ]; then
    say "the password file $secret is empty"
    exit 2
fi

mkdir -p "$data" "$socket"
chown postgres:postgres "$data" "$socket"
chmod 700 "$data"

if [ ! -s "$data/PG_VERSION" ]; then
    say "no cluster in $data: initdb"
    as_postgres "$bin/initdb" --pgdata="$data" --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
        --data-checksums --auth-local=peer --auth-host=scram-sha-256 >/dev/null
    # TCP logins from any address, always with a password (PG_BIND decides who can reach the port)
    printf '%s\n' 'host all all 0.0.0.0/0 scram-sha-256' 'host all all ::/0 scram-sha-256' >> "$data/pg_hba.conf"
fi

# the role, its database and its password, on a server that only listens on the Unix socket
pwcopy="$socket/.password"
trap 'rm -f "$pwcopy"' EXIT
(umask 077 && head -n 1 "$secret" | tr -d '\r\n' > "$pwcopy")
chown postgres:postgres "$pwcopy"
as_postgres "$bin/pg_ctl" --pgdata="$data" --silent --wait --timeout=60 \
    -o "-c listen_addresses='' -c unix_socket_directories=$socket -c port=$port -c jit=off" start >/dev/null
as_postgres "$bin/psql" --quiet --no-psqlrc --host="$socket" --port="$port" --username=postgres --dbname=postgres \
    --set=ON_ERROR_STOP=1 --set=role="$role" --set=db="$db" --set=pwfile="$pwcopy" >/dev/null <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')
\gexec
SELECT set_config('forewarn.role', :'role', false), set_config('forewarn.pwfile', :'pwfile', false);
DO $$ BEGIN
    EXECUTE format('ALTER ROLE %I PASSWORD %L', current_setting('forewarn.role'),
                   pg_read_file(current_setting('forewarn.pwfile')));
END $$;
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec
SQL
as_postgres "$bin/pg_ctl" --pgdata="$data" --silent --wait --mode=fast stop >/dev/null
rm -f "$pwcopy"
trap - EXIT
say "role $role and database $db ready; listening on ${PG_BIND:-127.0.0.1}:$port"

exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$bin/postgres" -D "$data" \
    -c listen_addresses="${PG_BIND:-127.0.0.1}" -c port="$port" -c unix_socket_directories="$socket" -c jit=off "$@"
