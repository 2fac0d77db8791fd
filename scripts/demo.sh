#!/usr/bin/env bash
# `make demo`: airflow standalone + the sandbox WeCube plugin server + Prometheus + Alertmanager, on this machine.
#
# Project-local state in .demo/: airflow/ (AIRFLOW_HOME, SQLite), wecube_plugins/ (the plugin
# registry), sandbox.db, capacity/ (the capacity model store), prometheus/ (prometheus.yml,
# file_sd/, rules/, data/), alertmanager/ (alertmanager.yml, webhook-secret, data/), *.log, *.pgid (one process group each, for scripts/demo-stop.sh) and
# env (AIRFLOW_URL, AIRFLOW_USER, AIRFLOW_PASSWORD, PROMETHEUS_URL, ALERTMANAGER_URL, SANDBOX_URL, ... for scripts, and
# the exported WECUBE_AIRFLOW_URL/_USER/_PASSWORD that `wecube approvals list` and AirflowClient read).
#
# Running it again judges each part by its health check (sandbox /health, Prometheus and Alertmanager
# /-/ready, Airflow /api/v2/monitor/health: metadatabase, scheduler, triggerer and DAG processor healthy): a
# healthy part is left alone, a part that is down is started, a part that runs unhealthy (say its
# scheduler died) is stopped and started again, unless it started less than DEMO_TIMEOUT seconds
# ago (then it is still starting and is waited for). With all four healthy it starts nothing and
# prints the same details. The connections are updated in place, never deleted and re-added.
#
# Settings: DEMO_DIR (the state folder, .demo), DEMO_AIRFLOW_PORT (8080), DEMO_AIRFLOW_HOST (the address
# Airflow's API server listens on, 127.0.0.1: loopback only like every other part; 0.0.0.0 to let other
# machines in), DEMO_WORKER_LOG_SERVER_PORT (8793) and DEMO_TRIGGER_LOG_SERVER_PORT (8794: Airflow's log
# servers, of the scheduler's task runs and of the triggerer), DEMO_SANDBOX_PORT (19090), DEMO_PROMETHEUS_PORT (9090),
# PROMETHEUS_BIN (/usr/bin/prometheus), DEMO_ALERTMANAGER_PORT (9093), ALERTMANAGER_BIN
# (/usr/bin/prometheus-alertmanager), WECUBE_ALERTMANAGER_SECRET (the webhook's shared secret; default a
# random one made once and kept in .demo/alertmanager/webhook-secret), WECUBE_SANDBOX_TOKEN (sandbox-token),
# AIRFLOW__WECUBE__CALLBACK_BASE_URL (where plugins POST the callbacks of async interfaces, such as
# taskman's manual tasks; default the Airflow URL), DEMO_UNPAUSE_DAGS
# (space-separated DAG ids to unpause; default the examples below), DEMO_TIMEOUT
# (seconds to wait for health, 240). A second demo on one machine needs its own DEMO_DIR and ports.
#
# docker-compose.yaml carries the same settings for a multi-machine stack; keep them in step
# (tests/unit/deploy/test_docker_compose.py compares the two).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO="${DEMO_DIR:-$REPO/.demo}"
PROM="$DEMO/prometheus"
AM="$DEMO/alertmanager"
AIRFLOW_PORT="${DEMO_AIRFLOW_PORT:-8080}"
AIRFLOW_HOST="${DEMO_AIRFLOW_HOST:-127.0.0.1}"
WORKER_LOG_PORT="${DEMO_WORKER_LOG_SERVER_PORT:-8793}"
TRIGGER_LOG_PORT="${DEMO_TRIGGER_LOG_SERVER_PORT:-8794}"
SANDBOX_PORT="${DEMO_SANDBOX_PORT:-19090}"
PROMETHEUS_PORT="${DEMO_PROMETHEUS_PORT:-9090}"
ALERTMANAGER_PORT="${DEMO_ALERTMANAGER_PORT:-9093}"
SANDBOX_TOKEN="${WECUBE_SANDBOX_TOKEN:-sandbox-token}"
TIMEOUT="${DEMO_TIMEOUT:-240}"
# the URL names the API server's address, unless it listens on loopback or on every address
URL_HOST=localhost
case "$AIRFLOW_HOST" in
    127.0.0.1 | localhost | 0.0.0.0 | :: | ::1) ;;
    *:*) URL_HOST="[$AIRFLOW_HOST]" ;;
    *) URL_HOST="$AIRFLOW_HOST" ;;
esac
AIRFLOW_URL="http://$URL_HOST:$AIRFLOW_PORT"
SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT"
PROMETHEUS_URL="http://127.0.0.1:$PROMETHEUS_PORT"
ALERTMANAGER_URL="http://127.0.0.1:$ALERTMANAGER_PORT"
# Alertmanager's webhook receiver: the provider's FastAPI app in Airflow's API server
ALERTS_WEBHOOK_URL="$AIRFLOW_URL/wecube/alerts"
# the example DAGs unpaused once parsed (those not in dags/ are skipped). wecube_capacity_refit
# stays paused: it needs a window of history first (run a rollout, then trigger it by hand). The
# runbooks are unpaused so that an alert starts them without anyone touching Airflow.
EXAMPLE_DAGS="${DEMO_UNPAUSE_DAGS:-wecube_hello wecube_monitoring_example wecube_network_build wecube_app_rollout wecube_remediate_instance wecube_scale_out wecube_manual_task wecube_host_inventory wecube_reconcile wecube_proc_subnet_inventory wecube_proc_host_audit wecube_proc_host_review}"

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
# Debian's prometheus-alertmanager package (0.25; the Makefile's `alertmanager` target installs it)
ALERTMANAGER_BIN="${ALERTMANAGER_BIN:-/usr/bin/prometheus-alertmanager}"
if [ ! -x "$ALERTMANAGER_BIN" ]; then
    ALERTMANAGER_BIN="$(command -v prometheus-alertmanager || true)"
fi
if [ -z "$ALERTMANAGER_BIN" ]; then
    echo "demo: prometheus-alertmanager not found; 'make demo' installs it, or by hand:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y prometheus-alertmanager" >&2
    exit 1
fi

mkdir -p "$DEMO/airflow" "$DEMO/wecube_plugins" "$DEMO/capacity" "$PROM/file_sd" "$PROM/rules" "$PROM/data" "$AM/data"
# the webhook's shared secret: Alertmanager sends it as its bearer token (credentials_file), the
# alertmanager_default connection holds it as its password; made once, kept across restarts
if [ -n "${WECUBE_ALERTMANAGER_SECRET:-}" ]; then
    (umask 077 && printf '%s' "$WECUBE_ALERTMANAGER_SECRET" >"$AM/webhook-secret")
elif [ ! -s "$AM/webhook-secret" ]; then
    (umask 077 && python -c "import secrets; print(secrets.token_urlsafe(24), end='')" >"$AM/webhook-secret")
fi
ALERTMANAGER_SECRET="$(cat "$AM/webhook-secret")"
export AIRFLOW_HOME="$DEMO/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$REPO/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__PARALLELISM=4
# a task gives up on the execution API after 5 s by default; on a busy machine it then dies at start
export AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT=30
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin"
export AIRFLOW__API__PORT="$AIRFLOW_PORT"
export AIRFLOW__API__HOST="$AIRFLOW_HOST"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="$AIRFLOW_URL/execution/"
# Airflow's log servers (task logs of running tasks, triggerer logs): ports of their own per demo
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$WORKER_LOG_PORT"
export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="$TRIGGER_LOG_PORT"
# async plugin interfaces (taskman's manual tasks) POST their result here (docs/async-plugins.md)
export AIRFLOW__WECUBE__CALLBACK_BASE_URL="${AIRFLOW__WECUBE__CALLBACK_BASE_URL:-$AIRFLOW_URL}"
export WECUBE_REGISTRY_PATH="$DEMO/wecube_plugins"
export WECUBE_PROCESSES_PATH="$DEMO/wecube_processes"
export WECUBE_SANDBOX_TOKEN="$SANDBOX_TOKEN"
# folders the PrometheusHook writes to when a connection names none, and the capacity model store
export AIRFLOW__WECUBE__FILE_SD_DIR="$PROM/file_sd"
export AIRFLOW__WECUBE__RULES_DIR="$PROM/rules"
export AIRFLOW__WECUBE__CAPACITY_STORE="$DEMO/capacity"
PASSWORDS="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"

log() { printf 'demo: %s\n' "$*" >&2; }

# alive, listening, stop_parts, wait_for, demo_connections
# shellcheck source=scripts/demo-lib.sh
. "$REPO/scripts/demo-lib.sh"

# start NAME CMD...: in a new session (its own process group), output to .demo/NAME.log; every
# process of the part carries WECUBE_DEMO_PART (how demo-stop finds them all, orphans included)
start() {
    local name="$1"; shift
    rm -f "$DEMO/$name.pgid" "$DEMO/$name.ready"
    # the inner shell is the session leader, so its pid is the process group id
    WECUBE_DEMO_PART="$DEMO/$name" setsid bash -c 'echo $$ > "$0"; exec "$@"' "$DEMO/$name.pgid" "$@" \
        >"$DEMO/$name.log" 2>&1 </dev/null &
    for _ in $(seq 50); do [ -s "$DEMO/$name.pgid" ] && break; sleep 0.1; done
    log "started $name (process group $(cat "$DEMO/$name.pgid"), log .demo/$name.log)"
}

stop_started() {
    local name
    [ ${#STARTED[@]} -gt 0 ] || return 0
    DEMO_LOG_PREFIX=demo stop_parts 14 "${STARTED[@]}" >&2 || true
    for name in "${STARTED[@]}"; do rm -f "$DEMO/$name.pgid"; done
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

# check NAME: the part's health check; exit 0 when healthy, else the last line of stderr says why
check() {
    case "$1" in
        sandbox) python - "$SANDBOX_URL" <<'EOF'
import json, sys, urllib.request
body = json.load(urllib.request.urlopen(f"{sys.argv[1]}/health", timeout=2))
assert body == {"status": "ok"}, body
EOF
        ;;
        prometheus) python - "$PROMETHEUS_URL" <<'EOF'
import sys, urllib.request
assert urllib.request.urlopen(f"{sys.argv[1]}/-/ready", timeout=2).status == 200
EOF
        ;;
        alertmanager) python - "$ALERTMANAGER_URL" <<'EOF'
import sys, urllib.request
assert urllib.request.urlopen(f"{sys.argv[1]}/-/ready", timeout=2).status == 200
EOF
        ;;
        airflow) python - "$AIRFLOW_URL" <<'EOF'
import json, sys, urllib.request
h = json.load(urllib.request.urlopen(f"{sys.argv[1]}/api/v2/monitor/health", timeout=3))
parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
bad = {k: (h.get(k) or {}).get("status") or "not reported" for k in parts}
bad = {k: v for k, v in bad.items() if v != "healthy"}
assert not bad, ", ".join(f"{k} {v}" for k, v in bad.items())
EOF
        ;;
    esac
}

# was_healthy NAME: the part's current process group has passed its health check before
# (.demo/NAME.ready holds that group's id): unhealthy now means broken, not still starting
mark_healthy() { [ -s "$DEMO/$1.pgid" ] && cp "$DEMO/$1.pgid" "$DEMO/$1.ready" || true; }
was_healthy() { [ -s "$DEMO/$1.ready" ] && [ -s "$DEMO/$1.pgid" ] && cmp -s "$DEMO/$1.pgid" "$DEMO/$1.ready"; }

part_ready() { mark_healthy "$1"; }  # after wait_for (demo-lib.sh)

# assess NAME: STATE[NAME] = healthy | starting (runs, never healthy yet, started less than
# $TIMEOUT s ago) | unhealthy (runs, unhealthy: was healthy before, or older) | down (nothing
# runs); WHY[NAME]: why the check failed
declare -A STATE WHY
assess() {
    local name="$1" out age="" pgid=""
    WHY[$name]=""
    if ! alive "$name"; then STATE[$name]=down; return; fi
    if out="$(check "$name" 2>&1)"; then STATE[$name]=healthy; mark_healthy "$name"; return; fi
    WHY[$name]="$(printf '%s\n' "$out" | tail -n 1)"
    if was_healthy "$name"; then STATE[$name]=unhealthy; return; fi
    [ -s "$DEMO/$name.pgid" ] && pgid="$(cat "$DEMO/$name.pgid")"
    if [[ "$pgid" =~ ^[0-9]+$ ]]; then age="$(ps -o etimes= -p "$pgid" 2>/dev/null | tr -d ' ' || true)"; fi
    if [[ "$age" =~ ^[0-9]+$ ]] && [ "$age" -lt "$TIMEOUT" ]; then
        STATE[$name]=starting
    else
        STATE[$name]=unhealthy
    fi
}

print_details() {
    # shellcheck disable=SC1091
    . "$DEMO/env"
    cat <<EOF

  Airflow UI     $AIRFLOW_URL
  login          $AIRFLOW_USER / $AIRFLOW_PASSWORD
  WeCube page    $AIRFLOW_URL/wecube/   (registered plugins and their interfaces)
  Prometheus     $PROMETHEUS_URL   (targets $PROMETHEUS_URL/targets, rules $PROMETHEUS_URL/rules)
  Alertmanager   $ALERTMANAGER_URL   (alerts go to $AIRFLOW_URL/wecube/alerts; docs/closed-loop.md)
  sandbox        $SANDBOX_URL  (token $SANDBOX_TOKEN; API docs $SANDBOX_URL/docs)
  task inbox     $SANDBOX_URL/taskman/inbox  (manual tasks: complete or reject them)
  details        .demo/env      logs .demo/*.log      stop with: make demo-stop

  What to click, after logging in (walkthrough: docs/demo.md):
    1. Dags > wecube_hello > Trigger: one call to a sandbox plugin, green in seconds.
    2. Dags > wecube_network_build > Trigger: VPC, subnets per zone, route tables, security groups.
    3. Dags > wecube_app_rollout > Trigger, then Browse > Required Actions > Approve: hosts,
       a canary with a capacity probe (~3 min), deploy, a Prometheus target and alert rule (see
       $PROMETHEUS_URL/targets), a PromQL gate. Then roll out 1.1.0+slowclose: stopped at the canary.
    4. Crash an instance (deploy/app/crash, docs/demo.md): AccountServiceDown fires and
       wecube_remediate_instance brings it back by itself (WeCube > Loop actions shows the run).
    5. Dags > wecube_manual_task > Trigger: a task for a person in the task inbox above; complete
       it there and the run goes on (an async plugin call answered by taskman's callback).

EOF
}

for part in sandbox prometheus alertmanager airflow; do assess "$part"; done
if [ "${STATE[sandbox]}${STATE[prometheus]}${STATE[alertmanager]}${STATE[airflow]}" = healthyhealthyhealthyhealthy ] \
        && grep -q '^export WECUBE_AIRFLOW_URL=' "$DEMO/env" 2>/dev/null; then
    log "already running"
    print_details
    exit 0
fi

STARTED=()
# Airflow's ports are checked before anything starts: a taken one is an error that changes nothing
airflow_ports_free() {
    local port setting port_setting
    for port_setting in "$AIRFLOW_PORT DEMO_AIRFLOW_PORT" "$WORKER_LOG_PORT DEMO_WORKER_LOG_SERVER_PORT" \
            "$TRIGGER_LOG_PORT DEMO_TRIGGER_LOG_SERVER_PORT"; do
        read -r port setting <<<"$port_setting"
        ! listening "$port" || fail airflow "port $port is in use by another program (set $setting)"
    done
}
[ "${STATE[airflow]}" != down ] || airflow_ports_free
for part in sandbox prometheus alertmanager airflow; do
    case "${STATE[$part]}" in
        starting) log "$part is still starting (${WHY[$part]}): waiting for it" ;;
        unhealthy)
            log "$part runs but is not healthy (${WHY[$part]}): restarting it"
            DEMO_LOG_PREFIX=demo stop_parts 14 "$part" >&2 || true
            STATE[$part]=down
            ;;
    esac
done

# 1. the sandbox plugin server
if [ "${STATE[sandbox]}" = down ]; then
    ! listening "$SANDBOX_PORT" || fail sandbox "port $SANDBOX_PORT is in use by another program (set DEMO_SANDBOX_PORT)"
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
# firing and resolved alerts go to Alertmanager
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:$ALERTMANAGER_PORT"]
EOF
mv -f "$PROM/prometheus.yml.tmp" "$PROM/prometheus.yml"

# 2b. Alertmanager: every alert, grouped by alertname, to the provider's webhook with the shared
#     secret as bearer token. group_wait 2s (a new alert is sent 2 s after it arrives), group_interval
#     10s (changes to a group, e.g. resolved, within 10 s), repeat_interval 4h (the webhook records a
#     state change once anyway). Rewritten on every start; a running Alertmanager reloads it.
cat >"$AM/alertmanager.yml.tmp" <<EOF
# written by scripts/demo.sh; edit the script, not this file
route:
  receiver: wecube
  group_by: [alertname]
  group_wait: 2s
  group_interval: 10s
  repeat_interval: 4h
receivers:
  - name: wecube
    webhook_configs:
      - url: $ALERTS_WEBHOOK_URL
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: $AM/webhook-secret
EOF
mv -f "$AM/alertmanager.yml.tmp" "$AM/alertmanager.yml"
if [ "${STATE[alertmanager]}" = down ]; then
    ! listening "$ALERTMANAGER_PORT" || fail alertmanager "port $ALERTMANAGER_PORT is in use by another program (set DEMO_ALERTMANAGER_PORT)"
    # clustering off (--cluster.listen-address=), loopback only
    start alertmanager "$ALERTMANAGER_BIN" --config.file="$AM/alertmanager.yml" --storage.path="$AM/data" \
        --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" --cluster.listen-address= --log.level=warn
    STARTED+=(alertmanager)
else
    python -c "import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1] + '/-/reload', method='POST'), timeout=10)" \
        "$ALERTMANAGER_URL" 2>/dev/null || log "alertmanager did not reload its config (it keeps the one it has)"
fi
if [ "${STATE[prometheus]}" = down ]; then
    ! listening "$PROMETHEUS_PORT" || fail prometheus "port $PROMETHEUS_PORT is in use by another program (set DEMO_PROMETHEUS_PORT)"
    start prometheus "$PROMETHEUS_BIN" --config.file="$PROM/prometheus.yml" --storage.tsdb.path="$PROM/data" \
        --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle --log.level=warn
    STARTED+=(prometheus)
fi

wait_for sandbox
log "sandbox healthy at $SANDBOX_URL"
wait_for prometheus
log "prometheus ready at $PROMETHEUS_URL"
wait_for alertmanager
log "alertmanager ready at $ALERTMANAGER_URL (webhook $ALERTS_WEBHOOK_URL)"

# 3. the sandbox's plugins in the registry the DAGs read
while IFS= read -r manifest; do
    wecube plugins register "$manifest" --registry "$WECUBE_REGISTRY_PATH" --replace >&2 \
        || fail sandbox "could not register $manifest"
done < <(python -c "from airflow_wecube.sandbox import manifest_paths; print(*manifest_paths(), sep='\n')")
# ... and the processes shipped in dags/processes/ (WeCube v4 JSON, BPMN), one DAG each (docs/processes.md)
for process_file in "$REPO"/dags/processes/*; do
    wecube processes import "$process_file" --registry "$WECUBE_REGISTRY_PATH" --replace >&2 \
        || fail processes "could not import $process_file"
done

# 4. Airflow: metadata DB, the wecube_default, prometheus_default and alertmanager_default connections (created, or
#    updated in place: a running task never finds one missing), then standalone
if [ "${STATE[airflow]}" = down ]; then
    airflow_ports_free
    airflow db migrate >"$DEMO/migrate.log" 2>&1 || fail migrate "airflow db migrate failed"
fi
demo_connections "$SANDBOX_URL" "$SANDBOX_TOKEN" "$PROMETHEUS_URL" "$PROM/file_sd" "$PROM/rules" \
    "$ALERTMANAGER_URL" "$ALERTMANAGER_SECRET" \
    || fail connections "could not create or update the connections wecube_default, prometheus_default and alertmanager_default"
log "connection wecube_default -> $SANDBOX_URL"
log "connection prometheus_default -> $PROMETHEUS_URL (file_sd .demo/prometheus/file_sd, rules .demo/prometheus/rules)"
log "connection alertmanager_default -> $ALERTMANAGER_URL (password: the webhook secret in .demo/alertmanager/webhook-secret)"
if [ "${STATE[airflow]}" = down ]; then
    start airflow airflow standalone
    STARTED+=(airflow)
fi
wait_for airflow
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
ALERTMANAGER_URL=$ALERTMANAGER_URL
ALERTS_WEBHOOK_URL=$ALERTS_WEBHOOK_URL
ALERTS_WEBHOOK_SECRET_FILE=$AM/webhook-secret
SANDBOX_URL=$SANDBOX_URL
SANDBOX_TOKEN=$SANDBOX_TOKEN
export WECUBE_AIRFLOW_URL=$AIRFLOW_URL
export WECUBE_AIRFLOW_USER=admin
export WECUBE_AIRFLOW_PASSWORD=$AIRFLOW_PASSWORD
export WECUBE_ENTITY_URL=$SANDBOX_URL
export WECUBE_ENTITY_TOKEN=$SANDBOX_TOKEN
export WECUBE_PROCESSES_PATH=$WECUBE_PROCESSES_PATH
export WECUBE_REGISTRY_PATH=$WECUBE_REGISTRY_PATH
EOF
mv -f "$DEMO/env.tmp" "$DEMO/env"

# 5. the example DAGs parsed, then unpaused (a report, not a failure: the UI shows import errors too),
#    through airflow_wecube.util.airflow_api.AirflowClient with the WECUBE_AIRFLOW_* settings of .demo/env
( . "$DEMO/env" && python - "$REPO/dags" "$EXAMPLE_DAGS" <<'EOF' ) || true
import sys, time
from pathlib import Path

from airflow_wecube.util.airflow_api import AirflowAPIError, AirflowClient
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
