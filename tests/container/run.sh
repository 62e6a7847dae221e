#!/usr/bin/env bash
# The container test's engine (issue 18): start a private Docker engine, give it the base image
# the Dockerfile names, then run tests/container with it. `.ci/run` calls this script.
#
#   bash tests/container/run.sh [PYTEST ARGS...]
#   bash tests/container/run.sh --prepare    # only install the tools and make the base (no
#                                             # engine): .ci/run does this in the background
#
# - Needs dockerd (Debian's docker.io: its /usr/bin/docker has BuildKit built in) and, where
#   Docker Hub cannot be reached, mmdebstrap and root. With CI set, or
#   PAPERFEED_CONTAINER_INSTALL=1, missing packages are installed with apt-get.
# - Without an engine it prints one line and exits 0; with CI set that is a failure (exit 1).
# - The engine is this script's own (data under a temporary folder, host networking only) and
#   is stopped by its pid on exit, whatever happens.
# - The base: the Dockerfile's `ARG PYTHON_IMAGE` is pulled when Docker Hub answers; otherwise a
#   stand-in with the same Python and Debian release is made with mmdebstrap (about 2 minutes),
#   cached under $PAPERFEED_CI_CACHE (default /var/cache/paperfeed-ci) by a hash of everything
#   that makes it, imported and tagged with the Dockerfile's name for it.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
CACHE=${PAPERFEED_CI_CACHE:-/var/cache/paperfeed-ci}
DOCKER=/usr/bin/docker # Debian's CLI: BuildKit built in (a newer CLI elsewhere on PATH may lack buildx)
started=$SECONDS
mode=test
if [ "${1:-}" = --prepare ]; then
    mode=prepare
    shift
fi

say() { echo "container: $*" >&2; }
unavailable() {
    [ "$mode" = prepare ] && [ -z "${CI:-}" ] && exit 0 # the test step says it, once
    if [ -n "${CI:-}" ]; then
        say "FAILED: $* (CI needs the container test)"
        exit 1
    fi
    echo "container test skipped: $*"
    exit 0
}

# ---- tools -------------------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null && [ -x "$DOCKER" ] || missing+=(docker.io)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
command -v docker-compose >/dev/null || missing+=(docker-compose)
if ((${#missing[@]})); then
    if [ -n "${CI:-}${PAPERFEED_CONTAINER_INSTALL:-}" ] && [ "$(id -u)" = 0 ] &&
        command -v apt-get >/dev/null; then
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } &>/dev/null \
            || unavailable "apt-get could not install ${missing[*]}"
    elif ! command -v dockerd >/dev/null || [ ! -x "$DOCKER" ]; then
        unavailable "no Docker engine (as root: PAPERFEED_CONTAINER_INSTALL=1 bash $0)"
    fi
fi
[ "$(id -u)" = 0 ] || unavailable "starting a private Docker engine needs root"

# ---- the base image ------------------------------------------------------------------------
BASE=$(sed -n 's/^ARG PYTHON_IMAGE=\(.*\)$/\1/p' Dockerfile)
[ -n "$BASE" ] || {
    say "FAILED: no ARG PYTHON_IMAGE=... in the Dockerfile"
    exit 1
}
SUITE=${BASE##*-} # python:3.11.13-slim-bookworm -> bookworm
# What the real base has: Python 3 (the suite's), pip, CA certificates, `python`, passwd.
# The host's extra CA certificates and pip settings go in, for a package index that may sit
# behind a proxy; pip may install into the system Python, as in the real image.
hooks=(
    --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED'
    --customize-hook='if [ -d /usr/local/share/ca-certificates ]; then cp -a /usr/local/share/ca-certificates/. "$1/usr/local/share/ca-certificates/"; chroot "$1" update-ca-certificates >/dev/null 2>&1; fi'
    --customize-hook='if [ -f /etc/pip.conf ]; then cp /etc/pip.conf "$1/etc/pip.conf"; fi'
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*'
)
make=(mmdebstrap --quiet --mode=root --variant=minbase
    --include=python3,python3-pip,python-is-python3,ca-certificates,passwd
    --aptopt='APT::Install-Recommends "false"'
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/locale/*'
    "${hooks[@]}" "$SUITE")
key=$({
    printf '%s\n' "${make[@]}"
    cat /usr/local/share/ca-certificates/* /etc/pip.conf 2>/dev/null || true
} | sha256sum | cut -c1-16)
tarball=$CACHE/base-$SUITE-$key.tar

# The stand-in's root file system as a tarball, made once per machine and set of inputs; a
# second caller (the test step while the background --prepare runs) waits for the first.
make_stand_in() {
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9
    if [ ! -s "$tarball" ]; then
        command -v mmdebstrap >/dev/null || unavailable "no $BASE and no mmdebstrap to make a stand-in"
        say "making the stand-in base ($SUITE, key $key): about 2 minutes, once per machine"
        rm -f "$CACHE"/partial-*.tar
        local t0=$SECONDS partial=$CACHE/partial-$$.tar # a .tar name: mmdebstrap writes a tarball
        "${make[@]}" "$partial" || {
            rm -f "$partial"
            say "FAILED: mmdebstrap"
            exit 1
        }
        mv "$partial" "$tarball"
        say "stand-in base made in $((SECONDS - t0)) s"
    fi
    exec 9>&-
}

if [ "$mode" = prepare ]; then
    # No engine yet to ask Docker Hub: make the stand-in unless the registry's name resolves.
    getent hosts registry-1.docker.io >/dev/null 2>&1 || make_stand_in
    exit 0
fi

# ---- a private engine ----------------------------------------------------------------------
STATE=$(mktemp -d /var/tmp/paperfeed-docker.XXXXXX)
RUNDIR=$(mktemp -d /tmp/pfd.XXXXXX) # short: the socket path must stay under 108 bytes
export DOCKER_HOST=unix://$RUNDIR/docker.sock
DOCKERD_PID=
stop_engine() {
    local code=$?
    if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
        kill -TERM "$DOCKERD_PID" 2>/dev/null || true
        for _ in $(seq 1 150); do
            kill -0 "$DOCKERD_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$DOCKERD_PID" 2>/dev/null || true
    fi
    umount -l "$RUNDIR"/exec/netns/* 2>/dev/null || true
    rm -rf "$STATE" "$RUNDIR" || true
    exit "$code"
}
trap stop_engine EXIT
trap 'exit 130' INT TERM

dockerd --data-root "$STATE/data" --exec-root "$RUNDIR/exec" --pidfile "$RUNDIR/dockerd.pid" \
    --host "$DOCKER_HOST" --storage-driver=overlay2 --iptables=false --ip6tables=false \
    --bridge=none >"$STATE/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 1 300); do
    "$DOCKER" version >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.1
done
if ! "$DOCKER" version >/dev/null 2>&1; then
    tail -5 "$STATE/dockerd.log" >&2 || true
    unavailable "the Docker engine did not start"
fi
say "engine up in $((SECONDS - started)) s"

base_from=pulled
if ! timeout 60 "$DOCKER" pull -q "$BASE" >/dev/null 2>&1; then
    base_from=stand-in
    make_stand_in
    "$DOCKER" import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
        "$tarball" "$BASE" >/dev/null
fi
say "base $BASE ($base_from) ready at $((SECONDS - started)) s"

# ---- the test ------------------------------------------------------------------------------
export PAPERFEED_CONTAINER_DOCKER=$DOCKER PAPERFEED_CONTAINER_BASE_FROM=$base_from
status=0
"$PYTHON" -m pytest -q -p no:cacheprovider tests/container "$@" || status=$?
say "step took $((SECONDS - started)) s"
exit "$status"
