#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests, on loopback only.
#
#   scripts/pg.sh up       start it (idempotent), create database greenshield_test, print its URL
#   scripts/pg.sh down     stop it by its pid and delete its data dir
#   scripts/pg.sh url      print the SQLAlchemy URL
#   scripts/pg.sh status   exit 0 when it answers
#   scripts/pg.sh install  apt-get install postgresql (root only) when it is absent
#
# Uses Debian's `postgresql` package (binaries under /usr/lib/postgresql/<version>/bin).
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres`
# user. Auth is `trust`, on 127.0.0.1 only: this server holds nothing but test data.
# Environment: GREENSHIELD_PG_PORT (default 15432), GREENSHIELD_PG_DIR (default
# /tmp/greenshield-pg-<port>).
set -euo pipefail

PORT=${GREENSHIELD_PG_PORT:-15432}
DIR=${GREENSHIELD_PG_DIR:-/tmp/greenshield-pg-$PORT}
DB=greenshield_test
DBUSER=greenshield
URL="postgresql+psycopg://$DBUSER@127.0.0.1:$PORT/$DB"

die() { echo "pg.sh: $*" >&2; exit "${2:-1}"; }

pgbin() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$d" ] && [ -x "$d/pg_ctl" ] && echo "$d"
}

# run a command as the server's owner
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

server_pid() {
    [ -f "$DIR/postmaster.pid" ] || return 1
    local pid
    pid=$(head -n 1 "$DIR/postmaster.pid")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # a zombie is dead; make sure the pid is a postgres of this data dir
    grep -q '^State:[[:space:]]*[ZX]' "/proc/$pid/status" 2>/dev/null && return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$DIR" || return 1
    echo "$pid"
}

# remove the data dir, but only if it is one of ours (a cluster dir, or empty)
wipe() {
    [ -e "$DIR" ] || return 0
    if [ -f "$DIR/PG_VERSION" ] || [ -z "$(ls -A "$DIR")" ]; then
        rm -rf "$DIR"
    else
        die "$DIR exists but is not a PostgreSQL data dir; not deleting it (set GREENSHIELD_PG_DIR)"
    fi
}

ready() {
    local bin=$1
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d postgres -U "$DBUSER" -t 2
}

cmd_install() {
    if pgbin >/dev/null; then
        echo "pg.sh: PostgreSQL is installed ($(pgbin))" >&2
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed; install it with: sudo apt-get install -y postgresql" 2
    command -v apt-get >/dev/null || die "PostgreSQL is not installed and apt-get is not available" 2
    echo "pg.sh: installing PostgreSQL (apt-get install -y postgresql)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2
    pgbin >/dev/null || die "apt-get installed postgresql but no /usr/lib/postgresql/*/bin/pg_ctl exists"
}

cmd_up() {
    local bin pid
    bin=$(pgbin) || die "PostgreSQL is not installed; install it with: sudo apt-get install -y postgresql (or: scripts/pg.sh install as root)" 2
    if pid=$(server_pid) && ready "$bin"; then
        echo "pg.sh: PostgreSQL already running (pid $pid) on 127.0.0.1:$PORT" >&2
        echo "$URL"
        return 0
    fi
    wipe  # a leftover of a crashed run: it is throwaway
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
    as_owner "$bin/initdb" -D "$DIR" -U "$DBUSER" --auth=trust -E UTF8 --locale=C.UTF-8 >"$DIR.initdb.log" 2>&1 \
        || { cat "$DIR.initdb.log" >&2; die "initdb failed"; }
    rm -f "$DIR.initdb.log"
    # speed over durability: nothing here must survive a crash
    as_owner "$bin/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50" \
        start >/dev/null || { tail -n 30 "$DIR/server.log" >&2; die "PostgreSQL did not start"; }
    pid=$(server_pid) || die "PostgreSQL started but no live postmaster.pid in $DIR"
    "$bin/psql" -q -h 127.0.0.1 -p "$PORT" -U "$DBUSER" -d postgres -v ON_ERROR_STOP=1 \
        -c "CREATE DATABASE $DB" >/dev/null
    echo "pg.sh: PostgreSQL $(basename "$(dirname "$bin")") running (pid $pid) on 127.0.0.1:$PORT, data $DIR" >&2
    echo "$URL"
}

cmd_down() {
    local pid i
    if ! pid=$(server_pid); then
        echo "pg.sh: no PostgreSQL running in $DIR" >&2
        wipe
        return 0
    fi
    kill -INT "$pid"            # fast shutdown: roll back open transactions, disconnect
    for i in $(seq 1 300); do   # up to 30 s
        server_pid >/dev/null || break
        sleep 0.1
    done
    if server_pid >/dev/null; then
        echo "pg.sh: PostgreSQL pid $pid ignored SIGINT; sending SIGQUIT" >&2
        kill -QUIT "$pid" 2>/dev/null || true
        sleep 2
        server_pid >/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "pg.sh: PostgreSQL pid $pid stopped" >&2
    wipe
}

cmd_status() {
    local bin pid
    bin=$(pgbin) || { echo "not installed"; return 1; }
    if pid=$(server_pid) && ready "$bin"; then
        echo "running pid $pid at 127.0.0.1:$PORT ($URL)"
    else
        echo "stopped"
        return 1
    fi
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    url) echo "$URL" ;;
    status) cmd_status ;;
    install) cmd_install ;;
    *) echo "usage: $0 up|down|url|status|install" >&2; exit 2 ;;
esac
