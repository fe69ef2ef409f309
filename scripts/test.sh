#!/usr/bin/env bash
# Run the test suite against real servers, and stop whatever this script started.
#
#   scripts/test.sh [pytest args...]        (what `make test` runs)
#
# Kafka: GREENSHIELD_TEST_KAFKA if set (with GREENSHIELD_TEST_KAFKA_CREDENTIALS, its
#   super user's credentials file, when it is a secure broker); else a fresh secure broker
#   via `greenshield kafka up --secure` (SASL/SCRAM, the StandardAuthorizer, ACLs) on
#   127.0.0.1:19092 (another free port pair if 19092 is taken), data in a new
#   var/test-kafka.* dir that is deleted afterwards. The tests log in as its super user
#   and make their own principals for the authority tests.
# PostgreSQL: GREENSHIELD_TEST_PG_URL if set; else a fresh server via scripts/pg.sh
#   on 127.0.0.1:15432 (another free port if taken), installing the `postgresql`
#   package first when running as root and it is absent.
# With CI=true a server that cannot be started is fatal; otherwise its tests skip.
set -uo pipefail
cd "$(dirname "$0")/.."

# GREENSHIELD_CLI overrides the command that runs `kafka up/down`, e.g.
# ".venv/bin/python -m greenshield.commands.kafka" (the kafka command alone)
GS=${GREENSHIELD_CLI:-.venv/bin/greenshield}
PY=.venv/bin/python
is_ci() { case "${CI:-}" in 1|true|TRUE|True|yes|on) return 0 ;; *) return 1 ;; esac; }
say() { echo "test.sh: $*" >&2; }
unavailable() {
    if is_ci; then say "$* (CI=true: fatal)"; exit 1; fi
    say "$* -- those tests will be skipped"
}

# the preferred ports if all are free on 127.0.0.1, else as many free ones
pick_ports() {
    $PY - "$@" <<'PYEOF'
import socket, sys
wanted = [int(p) for p in sys.argv[1:]]
def free(p):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            return False
    return True
if all(free(p) for p in wanted):
    print(*wanted)
else:
    socks = [socket.socket() for _ in wanted]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    print(*(s.getsockname()[1] for s in socks))
    for s in socks:
        s.close()
PYEOF
}

kafka_dir=""
kafka_started=0
pg_started=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$kafka_started" = 1 ]; then
        $GS kafka down --data-dir "$kafka_dir" || rc=1
    fi
    if [ -n "$kafka_dir" ] && [ -d "$kafka_dir" ]; then
        # keep the broker log of a failed run for a look
        if [ "$rc" != 0 ] && [ -f "$kafka_dir/broker.log" ]; then
            mkdir -p var && cp "$kafka_dir/broker.log" var/test-kafka-last-failure.log
            say "broker log kept in var/test-kafka-last-failure.log"
        fi
        rm -rf "$kafka_dir"
    fi
    if [ "$pg_started" = 1 ]; then
        scripts/pg.sh down || rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- Kafka
if [ -n "${GREENSHIELD_TEST_KAFKA:-}" ]; then
    say "using Kafka at GREENSHIELD_TEST_KAFKA=$GREENSHIELD_TEST_KAFKA"
else
    # 19092/19093 unless taken (e.g. by a dev broker from `make kafka-up`)
    read -r kport cport < <(pick_ports 19092 19093)
    [ "$kport" = 19092 ] || say "127.0.0.1:19092 is taken; the test broker uses port $kport"
    mkdir -p var
    kafka_dir=$(mktemp -d "$PWD/var/test-kafka.XXXXXX")
    if addr=$($GS kafka up --secure --fresh --data-dir "$kafka_dir" --port "$kport" --controller-port "$cport"); then
        kafka_started=1
        export GREENSHIELD_TEST_KAFKA="$addr" GREENSHIELD_TEST_KAFKA_CREDENTIALS="$kafka_dir/credentials/admin.json"
    else
        unavailable "could not start the local Kafka broker"
    fi
fi

# ---- PostgreSQL: a server of this run's own (a shared one could be stopped under us)
if [ -n "${GREENSHIELD_TEST_PG_URL:-}" ]; then
    say "using PostgreSQL at GREENSHIELD_TEST_PG_URL"
else
    if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        scripts/pg.sh install || true
    fi
    read -r pgport < <(pick_ports 15432)
    [ "$pgport" = 15432 ] || say "127.0.0.1:15432 is taken; the test PostgreSQL uses port $pgport"
    export GREENSHIELD_PG_PORT="$pgport" GREENSHIELD_PG_DIR="/tmp/greenshield-pg-$pgport"
    pg_started=1  # even a half-started server in our dir is ours to stop
    if url=$(scripts/pg.sh up); then
        export GREENSHIELD_TEST_PG_URL="$url"
    else
        unavailable "could not start PostgreSQL (install it with: sudo apt-get install -y postgresql, or set GREENSHIELD_TEST_PG_URL)"
    fi
fi

# ---- the tests (not exec: the EXIT trap must stop the servers)
.venv/bin/pytest "$@"
