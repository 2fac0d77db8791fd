#!/usr/bin/env bash
# `make cluster-stop`: stop every process of `make cluster` (scripts/cluster.sh). Airflow, the sandbox
# (and the apps it deployed) and Prometheus first, all at once (SIGTERM, SIGKILL after
# CLUSTER_STOP_GRACE s, 14), then PostgreSQL (fast shutdown: its clients are gone) and Redis (which
# writes its append-only file as it stops). A process belongs to a part by the WECUBE_DEMO_PART marker
# cluster.sh gives it (scripts/demo-lib.sh). State in .cluster/ is kept for the next `make cluster`;
# `rm -rf .cluster` after the stop starts afresh (new DB, new secrets).
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${CLUSTER_DIR:-$REPO/.cluster}"
DEMO="$CLUSTER"
GRACE="${CLUSTER_STOP_GRACE:-14}"
# shellcheck source=scripts/demo-lib.sh
. "$REPO/scripts/demo-lib.sh"
export DEMO_LOG_PREFIX=cluster-stop

first=(apiserver scheduler dag-processor triggerer worker1 worker2 sandbox prometheus alertmanager)
if ! _demo_procs list 0 "${first[@]}" postgres redis >/dev/null; then
    echo "cluster-stop: no process of the cluster in $CLUSTER is running; nothing to stop"
    rm -f "$CLUSTER"/*.pgid "$CLUSTER"/*.ready
    exit 0
fi
status=0
stop_parts "$GRACE" "${first[@]}" || status=1
# PostgreSQL: SIGINT is its fast shutdown (SIGTERM would wait for every client to leave)
if pgid="$(cat "$CLUSTER/postgres.pgid" 2>/dev/null)" && [[ "$pgid" =~ ^[0-9]+$ ]] \
        && pkill -INT -g "$pgid" -x postgres 2>/dev/null; then
    for _ in $(seq "$((GRACE * 10))"); do alive postgres || break; sleep 0.1; done
    alive postgres || echo "cluster-stop: postgres stopped (fast shutdown)"
fi
alive postgres && { stop_parts "$GRACE" postgres || status=1; }
stop_parts "$GRACE" redis || status=1
rm -f "$CLUSTER"/*.pgid "$CLUSTER"/*.ready
exit $status
