#!/usr/bin/env bash
# `make demo-stop`: stop every process group that scripts/demo.sh recorded in .demo/*.pgid
# (airflow: standalone with its scheduler, DAG processor, API server and task processes; sandbox:
# the plugin server, which stops the apps it deployed as it shuts down; prometheus).
# State (.demo/airflow, the registry, the sandbox DB, Prometheus data) is kept for the next `make demo`.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO="$REPO/.demo"

shopt -s nullglob
files=("$DEMO"/*.pgid)
if [ ${#files[@]} -eq 0 ]; then
    echo "demo-stop: nothing recorded in .demo/*.pgid; nothing to stop"
    exit 0
fi

group_alive() { kill -0 -- "-$1" 2>/dev/null; }

for file in "${files[@]}"; do
    name="$(basename "$file" .pgid)"
    pgid="$(cat "$file" 2>/dev/null || true)"
    if ! [[ "$pgid" =~ ^[0-9]+$ ]] || [ "$pgid" -le 1 ]; then
        echo "demo-stop: $file does not hold a process group id; removed"
        rm -f "$file"
        continue
    fi
    if group_alive "$pgid"; then
        kill -TERM -- "-$pgid" 2>/dev/null || true
        for _ in $(seq 100); do group_alive "$pgid" || break; sleep 0.2; done
        if group_alive "$pgid"; then
            kill -KILL -- "-$pgid" 2>/dev/null || true
            echo "demo-stop: $name (process group $pgid) killed"
        else
            echo "demo-stop: $name (process group $pgid) stopped"
        fi
    else
        echo "demo-stop: $name (process group $pgid) was not running"
    fi
    rm -f "$file"
done
