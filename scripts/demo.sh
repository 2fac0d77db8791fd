#!/usr/bin/env bash
# `make demo`: airflow standalone + the sandbox WeCube plugin server + Prometheus, on this machine.
#
# Project-local state in .demo/: airflow/ (AIRFLOW_HOME, SQLite), wecube_plugins/ (the plugin
# registry), sandbox.db, capacity/ (the capacity model store), prometheus/ (prometheus.yml,
# file_sd/, rules/, data/), *.log, *.pgid (one process group each, for scripts/demo-stop.sh) and
# env (AIRFLOW_URL, AIRFLOW_USER, AIRFLOW_PASSWORD, PROMETHEUS_URL, SANDBOX_URL, ... for scripts, and
# the exported WECUBE_AIRFLOW_URL/_USER/_PASSWORD that `wecube approvals list` and AirflowClient read).
# Running it again while the demo is up starts nothing and prints the same details.
#
# Settings: DEMO_AIRFLOW_PORT (8080), DEMO_SANDBOX_PORT (19090), DEMO_PROMETHEUS_PORT (9090),
# PROMETHEUS_BIN (/usr/bin/prometheus), WECUBE_SANDBOX_TOKEN (sandbox-token), DEMO_UNPAUSE_DAGS
# (space-separated DAG ids to unpause; default the examples below), DEMO_TIMEOUT
# (seconds to wait for health, 240).
#
# docker-compose.yaml carries the same settings for a multi-machine stack; keep them in step
# (tests/unit/deploy/test_docker_compose.py compares the two).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO="$REPO/.demo"
PROM="$DEMO/prometheus"
AIRFLOW_PORT="${DEMO_AIRFLOW_PORT:-8080}"
SANDBOX_PORT="${DEMO_SANDBOX_PORT:-19090}"
PROMETHEUS_PORT="${DEMO_PROMETHEUS_PORT:-9090}"
SANDBOX_TOKEN="${WECUBE_SANDBOX_TOKEN:-sandbox-token}"
TIMEOUT="${DEMO_TIMEOUT:-240}"
AIRFLOW_URL="http://localhost:$AIRFLOW_PORT"
SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT"
PROMETHEUS_URL="http://127.0.0.1:$PROMETHEUS_PORT"
# the example DAGs unpaused once parsed (those not in dags/ are skipped). wecube_capacity_refit
# stays paused: it needs a window of history first (run a rollout, then trigger it by hand).
EXAMPLE_DAGS="${DEMO_UNPAUSE_DAGS:-wecube_hello wecube_monitoring_example wecube_network_build wecube_app_rollout}"

# The Makefile puts the virtualenv first on PATH; when run by hand, fall back to .venv.
if ! command -v airflow >/dev/null 2>&1 && [ -x "$REPO/.venv/bin/airflow" ]; then
    export PATH="$REPO/.venv/bin:$PATH"
fi
for tool in python airflow wecube setsid; do
    command -v "$tool" >/dev/null 2>&1 || { echo "demo: '$tool' not found on PATH (run 'make demo')" >&2; exit 1; }
done
# Debian's prometheus package (2.42; the Makefile's `prometheus` target installs it when missing)
PROMETHEUS_BIN="${PROMETHEUS_BIN:-/usr/bin/prometheus}"
if [ ! -x "$PROMETHEUS_BIN" ]; then
    PROMETHEUS_BIN="$(command -v prometheus || true)"
fi
if [ -z "$PROMETHEUS_BIN" ]; then
    echo "demo: prometheus not found; 'make demo' installs it, or by hand:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y prometheus" >&2
    exit 1
fi

mkdir -p "$DEMO/airflow" "$DEMO/wecube_plugins" "$DEMO/capacity" "$PROM/file_sd" "$PROM/rules" "$PROM/data"
export AIRFLOW_HOME="$DEMO/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$REPO/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__PARALLELISM=4
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin"
export AIRFLOW__API__PORT="$AIRFLOW_PORT"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://localhost:$AIRFLOW_PORT/execution/"
export WECUBE_REGISTRY_PATH="$DEMO/wecube_plugins"
export WECUBE_SANDBOX_TOKEN="$SANDBOX_TOKEN"
# folders the PrometheusHook writes to when a connection names none, and the capacity model store
export AIRFLOW__WECUBE__FILE_SD_DIR="$PROM/file_sd"
export AIRFLOW__WECUBE__RULES_DIR="$PROM/rules"
export AIRFLOW__WECUBE__CAPACITY_STORE="$DEMO/capacity"
PASSWORDS="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"

log() { printf 'demo: %s\n' "$*" >&2; }

# A process group recorded in .demo/NAME.pgid that still has a live member.
alive() {
    local file="$DEMO/$1.pgid" pgid
    [ -s "$file" ] || return 1
    pgid="$(cat "$file")"
    [[ "$pgid" =~ ^[0-9]+$ ]] && kill -0 -- "-$pgid" 2>/dev/null
}

port_free() {
    python - "$1" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

# start NAME CMD...: in a new session (its own process group), output to .demo/NAME.log
start() {
    local name="$1"; shift
    rm -f "$DEMO/$name.pgid"
    # the inner shell is the session leader, so its pid is the process group id
    setsid bash -c 'echo $$ > "$0"; exec "$@"' "$DEMO/$name.pgid" "$@" \
        >"$DEMO/$name.log" 2>&1 </dev/null &
    for _ in $(seq 50); do [ -s "$DEMO/$name.pgid" ] && break; sleep 0.1; done
    log "started $name (process group $(cat "$DEMO/$name.pgid"), log .demo/$name.log)"
}

stop_started() {
    local name
    for name in "${STARTED[@]}"; do
        if alive "$name"; then kill -TERM -- "-$(cat "$DEMO/$name.pgid")" 2>/dev/null || true; fi
        rm -f "$DEMO/$name.pgid"
    done
}

fail() {
    local name="$1"; shift
    echo "demo: $*" >&2
    if [ -f "$DEMO/$name.log" ]; then
        echo "---- last lines of .demo/$name.log ----" >&2
        tail -n 40 "$DEMO/$name.log" >&2
        echo "----" >&2
    fi
    stop_started
    exit 1
}

# wait_for NAME PYTHON-CHECK: poll (bounded by $TIMEOUT) until the check exits 0
wait_for() {
    local name="$1" check="$2" deadline=$((SECONDS + TIMEOUT))
    until python -c "$check" 2>/dev/null; do
        alive "$name" || fail "$name" "$name exited before it was healthy"
        [ "$SECONDS" -lt "$deadline" ] || fail "$name" "$name not healthy after ${TIMEOUT}s"
        sleep 1
    done
}

print_details() {
    # shellcheck disable=SC1091
    . "$DEMO/env"
    cat <<EOF

  Airflow UI     $AIRFLOW_URL
  login          $AIRFLOW_USER / $AIRFLOW_PASSWORD
  WeCube page    $AIRFLOW_URL/wecube/   (registered plugins and their interfaces)
  Prometheus     $PROMETHEUS_URL   (targets $PROMETHEUS_URL/targets, rules $PROMETHEUS_URL/rules)
  sandbox        $SANDBOX_URL  (token $SANDBOX_TOKEN; API docs $SANDBOX_URL/docs)
  details        .demo/env      logs .demo/*.log      stop with: make demo-stop

  What to click, after logging in (walkthrough: docs/demo.md):
    1. Dags > wecube_hello > Trigger: one call to a sandbox plugin, green in seconds.
    2. Dags > wecube_network_build > Trigger: VPC, subnets per zone, route tables, security groups.
    3. Dags > wecube_app_rollout > Trigger, then Browse > Required Actions > Approve: hosts,
       deploy, a Prometheus target and alert rule (see $PROMETHEUS_URL/targets), a PromQL gate.

EOF
}

if alive airflow && alive sandbox && alive prometheus && grep -q '^export WECUBE_AIRFLOW_URL=' "$DEMO/env" 2>/dev/null; then
    log "already running"
    print_details
    exit 0
fi

STARTED=()

# 1. the sandbox plugin server
if ! alive sandbox; then
    port_free "$SANDBOX_PORT" || fail sandbox "port $SANDBOX_PORT is in use by another program (set DEMO_SANDBOX_PORT)"
    start sandbox python -m airflow_wecube.sandbox --host 127.0.0.1 --port "$SANDBOX_PORT" \
        --db "$DEMO/sandbox.db" --token "$SANDBOX_TOKEN"
    STARTED+=(sandbox)
fi

# 2. Prometheus: a file_sd job over file_sd/*.json, rule files rules/*.yml, lifecycle API on (the
#    PrometheusHook reloads it after writing a rule group); the config is rewritten on every start.
cat >"$PROM/prometheus.yml.tmp" <<EOF
# written by scripts/demo.sh; edit the script, not this file
global:
  scrape_interval: 5s
  scrape_timeout: 5s
  evaluation_interval: 5s
rule_files:
  - $PROM/rules/*.yml
scrape_configs:
  # targets registered by the DAGs (PrometheusHook.register_targets): one JSON file per job,
  # the job label comes from each target group's labels
  - job_name: file_sd
    file_sd_configs:
      - files:
          - $PROM/file_sd/*.json
        refresh_interval: 5s
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:$PROMETHEUS_PORT"]
EOF
mv -f "$PROM/prometheus.yml.tmp" "$PROM/prometheus.yml"
if ! alive prometheus; then
    port_free "$PROMETHEUS_PORT" || fail prometheus "port $PROMETHEUS_PORT is in use by another program (set DEMO_PROMETHEUS_PORT)"
    start prometheus "$PROMETHEUS_BIN" --config.file="$PROM/prometheus.yml" --storage.tsdb.path="$PROM/data" \
        --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle --log.level=warn
    STARTED+=(prometheus)
fi

wait_for sandbox "
import json, urllib.request
assert json.load(urllib.request.urlopen('$SANDBOX_URL/health', timeout=2)) == {'status': 'ok'}"
log "sandbox healthy at $SANDBOX_URL"
wait_for prometheus "
import urllib.request
assert urllib.request.urlopen('$PROMETHEUS_URL/-/ready', timeout=2).status == 200"
log "prometheus ready at $PROMETHEUS_URL"

# 3. the sandbox's plugins in the registry the DAGs read
while IFS= read -r manifest; do
    wecube plugins register "$manifest" --registry "$WECUBE_REGISTRY_PATH" --replace >&2 \
        || fail sandbox "could not register $manifest"
done < <(python -c "from airflow_wecube.sandbox import manifest_paths; print(*manifest_paths(), sep='\n')")

# 4. Airflow: metadata DB, the wecube_default and prometheus_default connections, then standalone
if ! alive airflow; then
    port_free "$AIRFLOW_PORT" || fail airflow "port $AIRFLOW_PORT is in use by another program (set DEMO_AIRFLOW_PORT)"
    airflow db migrate >"$DEMO/migrate.log" 2>&1 || fail migrate "airflow db migrate failed"
fi
airflow connections delete wecube_default >/dev/null 2>&1 || true
airflow connections add wecube_default --conn-type wecube --conn-host "$SANDBOX_URL" \
    --conn-password "$SANDBOX_TOKEN" >/dev/null || fail airflow "could not create connection wecube_default"
log "connection wecube_default -> $SANDBOX_URL"
PROMETHEUS_EXTRA="$(python -c 'import json, sys; print(json.dumps({"file_sd_dir": sys.argv[1], "rules_dir": sys.argv[2]}))' \
    "$PROM/file_sd" "$PROM/rules")"
airflow connections delete prometheus_default >/dev/null 2>&1 || true
airflow connections add prometheus_default --conn-type prometheus --conn-host "$PROMETHEUS_URL" \
    --conn-extra "$PROMETHEUS_EXTRA" >/dev/null || fail airflow "could not create connection prometheus_default"
log "connection prometheus_default -> $PROMETHEUS_URL (file_sd .demo/prometheus/file_sd, rules .demo/prometheus/rules)"
if ! alive airflow; then
    start airflow airflow standalone
    STARTED+=(airflow)
fi
wait_for airflow "
import json, urllib.request
h = json.load(urllib.request.urlopen('$AIRFLOW_URL/api/v2/monitor/health', timeout=3))
assert all((h.get(k) or {}).get('status') == 'healthy' for k in ('metadatabase', 'scheduler', 'dag_processor'))"
deadline=$((SECONDS + 60))
until [ -s "$PASSWORDS" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail airflow "no admin password in $PASSWORDS"
    sleep 1
done
AIRFLOW_PASSWORD="$(python -c "import json, sys; print(json.load(open(sys.argv[1]))['admin'])" "$PASSWORDS")"
log "airflow healthy at $AIRFLOW_URL"

cat >"$DEMO/env.tmp" <<EOF
AIRFLOW_URL=$AIRFLOW_URL
AIRFLOW_USER=admin
AIRFLOW_PASSWORD=$AIRFLOW_PASSWORD
PROMETHEUS_URL=$PROMETHEUS_URL
PROMETHEUS_FILE_SD_DIR=$PROM/file_sd
PROMETHEUS_RULES_DIR=$PROM/rules
SANDBOX_URL=$SANDBOX_URL
SANDBOX_TOKEN=$SANDBOX_TOKEN
export WECUBE_AIRFLOW_URL=$AIRFLOW_URL
export WECUBE_AIRFLOW_USER=admin
export WECUBE_AIRFLOW_PASSWORD=$AIRFLOW_PASSWORD
EOF
mv -f "$DEMO/env.tmp" "$DEMO/env"

# 5. the example DAGs parsed, then unpaused (a report, not a failure: the UI shows import errors too),
#    through airflow_wecube.airflow_api.AirflowClient with the WECUBE_AIRFLOW_* settings of .demo/env
( . "$DEMO/env" && python - "$REPO/dags" "$EXAMPLE_DAGS" <<'EOF' ) || true
import sys, time
from pathlib import Path

from airflow_wecube.airflow_api import AirflowAPIError, AirflowClient
from airflow_wecube.exceptions import WeCubeError

dags, examples = Path(sys.argv[1]), sys.argv[2].split()
wanted = {p.stem for p in dags.glob("wecube_*.py")} if dags.is_dir() else set()
try:
    with AirflowClient.from_env() as client:
        deadline, found, errors = time.monotonic() + 90, set(), []
        while wanted - found and time.monotonic() < deadline:
            found = {d["dag_id"] for d in client.request("GET", "/api/v2/dags", params={"limit": 1000})["dags"]}
            errors = client.request("GET", "/api/v2/importErrors").get("import_errors", [])
            if errors:
                break
            time.sleep(2)
        print(f"demo: DAGs in Airflow: {', '.join(sorted(found)) or 'none yet'}", file=sys.stderr)
        if wanted - found:
            print(f"demo: not parsed yet: {', '.join(sorted(wanted - found))}", file=sys.stderr)
        for e in errors:
            print(f"demo: import error in {e.get('filename')}:\n{e.get('stack_trace')}", file=sys.stderr)
        for dag_id in examples:
            if dag_id not in found:
                print(f"demo: {dag_id} not in Airflow (not in dags/ or not parsed): left alone", file=sys.stderr)
                continue
            try:  # what `airflow dags unpause` does, without starting a CLI per DAG
                client.unpause(dag_id)
                print(f"demo: unpaused {dag_id}", file=sys.stderr)
            except AirflowAPIError as exc:
                print(f"demo: could not unpause {dag_id}: HTTP {exc.status} {str(exc.detail)[:300]}", file=sys.stderr)
except WeCubeError as exc:
    print(f"demo: could not list or unpause the example DAGs: {exc}", file=sys.stderr)
    sys.exit(1)
EOF

print_details
