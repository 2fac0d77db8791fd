#!/usr/bin/env bash
# `make demo-stop`: stop every process of the demo, all parts at once, within 20 s: airflow
# (standalone with its scheduler, DAG processor, API server, triggerer and task processes, orphaned
# ones included), the sandbox (the plugin server, which stops the apps it deployed as it shuts
# down, and those apps), prometheus and alertmanager. SIGTERM first, SIGKILL to what still runs after
# DEMO_STOP_GRACE seconds (14). A process belongs to the demo by the WECUBE_DEMO_PART marker
# scripts/demo.sh gives each part, or by the process group and session in .demo/NAME.pgid
# (see scripts/demo-lib.sh).
# State (.demo/airflow, the registry, the sandbox DB, Prometheus and Alertmanager data) is kept for the next `make demo`.
# DEMO_DIR (default .demo) names the demo's folder.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO="${DEMO_DIR:-$REPO/.demo}"
GRACE="${DEMO_STOP_GRACE:-14}"
# shellcheck source=scripts/demo-lib.sh
. "$REPO/scripts/demo-lib.sh"

shopt -s nullglob
parts=(airflow sandbox prometheus alertmanager)
for file in "$DEMO"/*.pgid; do
    name="$(basename "$file" .pgid)"
    [[ " ${parts[*]} " == *" $name "* ]] || parts+=("$name")
done

if ! _demo_procs list 0 "${parts[@]}" >/dev/null; then
    echo "demo-stop: no process of the demo in $DEMO is running; nothing to stop"
    rm -f "$DEMO"/*.pgid "$DEMO"/*.ready
    exit 0
fi
stop_parts "$GRACE" "${parts[@]}"
status=$?
rm -f "$DEMO"/*.pgid "$DEMO"/*.ready
exit $status
