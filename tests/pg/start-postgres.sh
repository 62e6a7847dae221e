#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the test suite and print the shell lines that point
# the tests at it. Usage (CI and developers alike):
#
#     eval "$(tests/pg/start-postgres.sh)"      # exports PAPERFEED_TEST_POSTGRES_URL and _PID
#     python -m pytest ...
#     tests/pg/stop-postgres.sh                 # or: kill -INT "$PAPERFEED_TEST_POSTGRES_PID"
#
# `--install-only` installs the server binaries if missing and starts nothing (CI runs it before
# anything else uses apt, so two apt-gets never race for the dpkg lock).
#
# The server lives in a fresh temporary directory with its own port and socket, so it never
# touches a cluster the machine already runs (Debian's 15/main stays as it was). It runs as the
# `postgres` user, because PostgreSQL refuses to run as root; root gets a superuser role of its
# own so tests can CREATE DATABASE. Durability is switched off: the data is thrown away anyway.
# Installs Debian's `postgresql` first if no server binaries are found (needs root and apt).
# Everything but the final export lines goes to stderr, so `eval` sees only those.
set -euo pipefail

log() { echo "start-postgres: $*" >&2; }

find_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n "$dir" && -x "$dir/initdb" ]]; then echo "$dir"; fi
}

bindir=$(find_bindir)
if [[ -z "$bindir" ]]; then
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        log "no PostgreSQL server found; install Debian's postgresql package (as root)"
        exit 1
    fi
    log "installing postgresql from Debian"
    export DEBIAN_FRONTEND=noninteractive
    # Wait for the dpkg lock rather than fail if another apt is running (CI's container step).
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends postgresql >&2
    bindir=$(find_bindir)
fi
if [[ "${1:-}" == --install-only ]]; then exit 0; fi

# Whoever runs the server: `postgres` when we are root, ourselves otherwise.
as_server() {
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

base=$(mktemp -d "${TMPDIR:-/tmp}/paperfeed-pg.XXXXXX")
chmod 755 "$base"
datadir="$base/data"
sockdir="$base"
if [[ $(id -u) -eq 0 ]]; then chown postgres: "$base"; fi
# A free TCP port on loopback (the kernel picks one), so parallel runs never collide.
port=${PAPERFEED_TEST_POSTGRES_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

as_server "$bindir/initdb" -D "$datadir" -U postgres --auth=trust --encoding=UTF8 \
    --locale=C.UTF-8 --no-sync >/dev/null
cat >>"$datadir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sockdir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 128MB
log_min_messages = warning
CONF
as_server "$bindir/pg_ctl" -D "$datadir" -l "$base/server.log" -w -t 60 start >/dev/null
# From here on a failure must not leave a server behind.
trap 'as_server "$bindir/pg_ctl" -D "$datadir" -m fast stop >/dev/null 2>&1 || true' ERR
pid=$(head -n 1 "$datadir/postmaster.pid")
me=$(id -un)
if [[ "$me" != postgres ]]; then
    as_server "$bindir/psql" -h "$sockdir" -p "$port" -U postgres -d postgres -qAt \
        -c "CREATE ROLE \"$me\" SUPERUSER LOGIN" >/dev/null
fi
log "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on port $port (pid $pid, dir $base)"

echo "export PAPERFEED_TEST_POSTGRES_URL='postgresql://$me@127.0.0.1:$port/postgres'"
echo "export PAPERFEED_TEST_POSTGRES_PID=$pid"
echo "export PAPERFEED_TEST_POSTGRES_DIR='$base'"
