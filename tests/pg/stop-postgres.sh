#!/usr/bin/env bash
# Stop the server tests/pg/start-postgres.sh started (by its pid) and remove its directory.
# Usage: tests/pg/stop-postgres.sh, with the variables start-postgres.sh exported.
set -uo pipefail
pid=${PAPERFEED_TEST_POSTGRES_PID:-}
dir=${PAPERFEED_TEST_POSTGRES_DIR:-}
# The reliability drill restarts the server, so its pid file knows better than the variable.
if [[ -n "$dir" && -f "$dir/data/postmaster.pid" ]]; then
    pid=$(head -n 1 "$dir/data/postmaster.pid")
fi
if [[ -n "$pid" ]] && kill -INT "$pid" 2>/dev/null; then
    # SIGINT is PostgreSQL's "fast shutdown": it ends sessions and exits within a moment.
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi
if [[ -n "$dir" && -d "$dir" && "$(basename "$dir")" == paperfeed-pg.* ]]; then
    rm -rf -- "$dir"
fi
