#!/usr/bin/env bash
# `make cluster`: docker-compose.yaml's CeleryExecutor layout as processes on this machine (no
# container engine needed): PostgreSQL and Redis (Debian's packages), `airflow db migrate`, then
# api-server, scheduler, dag-processor, triggerer and two `airflow celery worker`s, the sandbox
# plugin server, Prometheus and Alertmanager, each part in its own process group.
#
# Settings: docker-compose.yaml's, mapped to this machine by scripts/cluster_env.py (the one source).
# State in .cluster/ (CLUSTER_DIR): secrets.env (throwaway PostgreSQL and Redis passwords, sandbox
# token, fernet key, jwt secret: generated once, given to every component), postgres/ and redis/
# (data, loopback only), shared/ (what hosts of a real cluster share: the plugin registry, Prometheus
# file_sd and rules, the capacity store, locks, task logs, the admin password; docs/cluster.md),
# <part>/ (each Airflow component's own AIRFLOW_HOME and working directory), <part>.log, env.
#
# Running it again judges each part by its health check: healthy parts are left alone, parts that are
# down (a killed worker, a stopped Redis) are started, parts that run unhealthy are restarted.
# Ports (CLUSTER_*_PORT, see scripts/cluster_env.py): Airflow 28080, sandbox 29090, Prometheus 29091,
# Alertmanager 29093,
# PostgreSQL 28432, Redis 28379. Stop with `make cluster-stop` (scripts/cluster-stop.sh).
# CLUSTER_PARTS (default: all) starts only some parts, e.g. "redis" to bring Redis back.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="$(mkdir -p "${CLUSTER_DIR:-$REPO/.cluster}" && cd "${CLUSTER_DIR:-$REPO/.cluster}" && pwd)"
DEMO="$CLUSTER" # scripts/demo-lib.sh finds a part's processes by WECUBE_DEMO_PART=$DEMO/<part>
TIMEOUT="${CLUSTER_TIMEOUT:-240}"
WORKERS=(worker1 worker2)
AIRFLOW_PARTS=(apiserver scheduler dag-processor triggerer "${WORKERS[@]}")
ALL_PARTS=(postgres redis sandbox prometheus alertmanager "${AIRFLOW_PARTS[@]}")
read -r -a PARTS <<<"${CLUSTER_PARTS:-${ALL_PARTS[*]}}"
EXAMPLE_DAGS="${CLUSTER_UNPAUSE_DAGS:-wecube_hello wecube_network_build wecube_app_rollout}"

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

if ! command -v airflow >/dev/null 2>&1 && [ -x "$REPO/.venv/bin/airflow" ]; then
    export PATH="$REPO/.venv/bin:$PATH"
fi
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
for tool in python airflow wecube setsid runuser redis-server redis-cli "$PG_BIN/initdb" "$PG_BIN/postgres"; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (run 'make cluster': it installs postgresql and redis-server)"
done
python -c "import airflow.providers.celery, psycopg2, psycopg, asyncpg" 2>/dev/null \
    || die "the cluster extra is missing: pip install -e '.[cluster]' (make cluster does it)"
PROMETHEUS_BIN="${PROMETHEUS_BIN:-$(command -v prometheus || echo /usr/bin/prometheus)}"
[ -x "$PROMETHEUS_BIN" ] || die "prometheus not found (make cluster installs it)"
ALERTMANAGER_BIN="${ALERTMANAGER_BIN:-$(command -v prometheus-alertmanager || echo /usr/bin/prometheus-alertmanager)}"
[ -x "$ALERTMANAGER_BIN" ] || die "prometheus-alertmanager not found (make cluster installs it)"
PG_USER="${CLUSTER_PG_USER:-postgres}" # PostgreSQL refuses to run as root
id "$PG_USER" >/dev/null 2>&1 || die "no user $PG_USER to run PostgreSQL as (set CLUSTER_PG_USER)"

# alive, stop_parts, listening, wait_for
# shellcheck source=scripts/demo-lib.sh
. "$REPO/scripts/demo-lib.sh"

# -- secrets (once) and the environment of every component --------------------------------------
umask 077
# each secret made once; one added by a newer version of this script is made on the next start
python - "$CLUSTER/secrets.env" <<'EOF'
import base64, os, secrets, sys
path = sys.argv[1]
have = dict(l.split("=", 1) for l in open(path).read().splitlines() if "=" in l) if os.path.exists(path) else {}
make = {
    "POSTGRES_PASSWORD": lambda: secrets.token_hex(16),
    "REDIS_PASSWORD": lambda: secrets.token_hex(16),
    "SANDBOX_TOKEN": lambda: secrets.token_urlsafe(24),
    "FERNET_KEY": lambda: base64.urlsafe_b64encode(os.urandom(32)).decode(),
    "JWT_SECRET": lambda: secrets.token_urlsafe(32),
    "API_SECRET_KEY": lambda: secrets.token_urlsafe(32),
    "ALERTMANAGER_SECRET": lambda: secrets.token_urlsafe(24),
}
missing = {k: f() for k, f in make.items() if not have.get(k)}
if missing:
    with open(path + ".tmp", "w") as fh:
        fh.writelines(f"{k}={v}\n" for k, v in {**have, **missing}.items())
    os.replace(path + ".tmp", path)
EOF
umask 022
# shellcheck disable=SC1091
. "$CLUSTER/secrets.env"
eval "$(python "$REPO/scripts/cluster_env.py" "$CLUSTER")"
SHARED="$CLUSTER/shared"
AIRFLOW_URL="http://localhost:$CLUSTER_AIRFLOW_PORT"
SANDBOX_URL="http://127.0.0.1:$CLUSTER_SANDBOX_PORT"
PROMETHEUS_URL="http://127.0.0.1:$CLUSTER_PROMETHEUS_PORT"
export REDISCLI_AUTH="$REDIS_PASSWORD" PGPASSWORD="$POSTGRES_PASSWORD"
mkdir -p "$SHARED"/{wecube_plugins,capacity,locks,logs,config} "$SHARED"/prometheus/{file_sd,rules} \
    "$CLUSTER"/{redis,prometheus-data,alertmanager/data}
ALERTMANAGER_URL="http://127.0.0.1:$CLUSTER_ALERTMANAGER_PORT"

# -- parts -------------------------------------------------------------------------------------
# start NAME CMD...: in a new session, from the part's own folder (its working directory and, for
# Airflow, its AIRFLOW_HOME: one "host" each), output to .cluster/NAME.log, marked WECUBE_DEMO_PART
start() {
    local name="$1"; shift
    mkdir -p "$CLUSTER/$name"
    rm -f "$CLUSTER/$name.pgid" "$CLUSTER/$name.ready"
    # the subshell execs the part, so nothing of this script stays behind holding its output
    (cd "$CLUSTER/$name" && exec env AIRFLOW_HOME="$CLUSTER/$name" WECUBE_DEMO_PART="$CLUSTER/$name" \
        setsid bash -c 'echo $$ > "$0"; exec "$@"' "$CLUSTER/$name.pgid" "$@") >>"$CLUSTER/$name.log" 2>&1 </dev/null &
    for _ in $(seq 50); do [ -s "$CLUSTER/$name.pgid" ] && break; sleep 0.1; done
    log "started $name (process group $(cat "$CLUSTER/$name.pgid" 2>/dev/null || echo ?), log .cluster/$name.log)"
}

airflow_health() {
    python - "$AIRFLOW_URL" "$1" <<'EOF'
import json, sys, urllib.request
h = json.load(urllib.request.urlopen(f"{sys.argv[1]}/api/v2/monitor/health", timeout=3))
part = sys.argv[2]
status = (h.get(part) or {}).get("status") or "not reported"
assert status == "healthy", f"{part} {status}"
EOF
}

# check NAME: the part's health check (exit 0 when healthy; the last line of stderr says why not)
check() {
    case "$1" in
        postgres) "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$CLUSTER_POSTGRES_PORT" -U airflow ;;
        redis) [ "$(redis-cli -h 127.0.0.1 -p "$CLUSTER_REDIS_PORT" ping 2>&1)" = PONG ] ;;
        sandbox) python -c "import sys, urllib.request; assert urllib.request.urlopen(sys.argv[1] + '/health', timeout=2).status == 200" "$SANDBOX_URL" ;;
        prometheus) python -c "import sys, urllib.request; assert urllib.request.urlopen(sys.argv[1] + '/-/ready', timeout=2).status == 200" "$PROMETHEUS_URL" ;;
        alertmanager) python -c "import sys, urllib.request; assert urllib.request.urlopen(sys.argv[1] + '/-/ready', timeout=2).status == 200" "$ALERTMANAGER_URL" ;;
        apiserver) airflow_health metadatabase ;;
        scheduler) airflow_health scheduler ;;
        dag-processor) airflow_health dag_processor ;;
        triggerer) airflow_health triggerer ;;
        worker*) python - "$AIRFLOW__CELERY__BROKER_URL" "celery@cluster-$1" <<'EOF'
import sys
from celery import Celery
answer = Celery(broker=sys.argv[1]).control.ping(destination=[sys.argv[2]], timeout=3)
assert answer, f"{sys.argv[2]} does not answer a ping"
EOF
        ;;
    esac
}

fail() {
    local name="$1"; shift
    log "$*"
    if [ -f "$CLUSTER/$name.log" ]; then
        echo "---- last lines of .cluster/$name.log ----" >&2
        tail -n 40 "$CLUSTER/$name.log" >&2
        echo "----" >&2
    fi
    exit 1
}

part_ready() { log "$1 healthy"; }  # after wait_for (demo-lib.sh)

wanted() { [[ " ${PARTS[*]} " == *" $1 "* ]]; }

# ensure NAME PORT CMD...: healthy: left alone; runs but unhealthy for longer than TIMEOUT: restarted;
# down: started. Then waited for.
ensure() {
    local name="$1" port="$2"; shift 2
    wanted "$name" || return 0
    if alive "$name"; then
        if check "$name" 2>/dev/null; then return 0; fi
        local pgid age=""
        pgid="$(cat "$CLUSTER/$name.pgid" 2>/dev/null || true)"
        [[ "$pgid" =~ ^[0-9]+$ ]] && age="$(ps -o etimes= -p "$pgid" 2>/dev/null | tr -d ' ' || true)"
        if [[ "$age" =~ ^[0-9]+$ ]] && [ "$age" -lt "$TIMEOUT" ]; then
            log "$name is still starting: waiting for it"
            wait_for "$name"
            return 0
        fi
        log "$name runs but is not healthy: restarting it"
        DEMO_LOG_PREFIX=cluster stop_parts 14 "$name" >&2 || true
    fi
    if [ -n "$port" ] && listening "$port"; then
        fail "$name" "port $port is in use by another program (set the CLUSTER_*_PORT of $name)"
    fi
    start "$name" "$@"
    wait_for "$name"
}

# 1. PostgreSQL: a cluster of its own under .cluster/postgres, owned by $PG_USER, TCP on loopback only
PGDATA="$CLUSTER/postgres/data"
if wanted postgres && [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$CLUSTER/postgres"
    chown "$PG_USER" "$CLUSTER/postgres"
    chmod 755 "$CLUSTER"
    printf '%s\n' "$POSTGRES_PASSWORD" >"$CLUSTER/postgres/pwfile"
    chown "$PG_USER" "$CLUSTER/postgres/pwfile"
    runuser -u "$PG_USER" -- "$PG_BIN/initdb" -D "$PGDATA" -U airflow --pwfile="$CLUSTER/postgres/pwfile" \
        --auth=scram-sha-256 -E UTF8 >"$CLUSTER/postgres-initdb.log" 2>&1 || fail postgres-initdb "initdb failed"
    rm -f "$CLUSTER/postgres/pwfile"
fi
ensure postgres "$CLUSTER_POSTGRES_PORT" runuser -u "$PG_USER" -- "$PG_BIN/postgres" -D "$PGDATA" \
    -c listen_addresses=127.0.0.1 -c port="$CLUSTER_POSTGRES_PORT" -c unix_socket_directories= \
    -c max_connections=200
if wanted postgres && ! psql -h 127.0.0.1 -p "$CLUSTER_POSTGRES_PORT" -U airflow -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'airflow'" | grep -q 1; then
    psql -h 127.0.0.1 -p "$CLUSTER_POSTGRES_PORT" -U airflow -d postgres -qc "CREATE DATABASE airflow" >&2
fi

# 2. Redis: the Celery broker, loopback only, password, an append-only file so that queued tasks
#    survive a restart of Redis
ensure redis "$CLUSTER_REDIS_PORT" redis-server --bind 127.0.0.1 --port "$CLUSTER_REDIS_PORT" \
    --requirepass "$REDIS_PASSWORD" --dir "$CLUSTER/redis" --appendonly yes --appendfsync everysec \
    --save "" --protected-mode yes

# 3. the sandbox plugin server and Prometheus (deploy/prometheus/prometheus.yml, docker-compose's,
#    with this machine's folders and port)
ensure sandbox "$CLUSTER_SANDBOX_PORT" python -m airflow_wecube.sandbox --host 127.0.0.1 \
    --port "$CLUSTER_SANDBOX_PORT" --db "$CLUSTER/sandbox.db" --token "$SANDBOX_TOKEN"
sed -e "s#/opt/wecube/#$SHARED/#g" -e "s#127.0.0.1:9090#127.0.0.1:$CLUSTER_PROMETHEUS_PORT#g" \
    -e "s#alertmanager:9093#127.0.0.1:$CLUSTER_ALERTMANAGER_PORT#g" \
    -e "1i # written by scripts/cluster.sh from deploy/prometheus/prometheus.yml; edit that file" \
    "$REPO/deploy/prometheus/prometheus.yml" >"$CLUSTER/prometheus.yml"
ensure prometheus "$CLUSTER_PROMETHEUS_PORT" "$PROMETHEUS_BIN" --config.file="$CLUSTER/prometheus.yml" \
    --storage.tsdb.path="$CLUSTER/prometheus-data" --web.listen-address="127.0.0.1:$CLUSTER_PROMETHEUS_PORT" \
    --web.enable-lifecycle --log.level=warn

# Alertmanager (deploy/alertmanager/alertmanager.yml, docker-compose's): every alert to the provider's
# webhook on the api-server, the shared secret as bearer token (the alertmanager_default connection's
# password); clustering off
(umask 077 && printf '%s' "$ALERTMANAGER_SECRET" >"$CLUSTER/alertmanager/webhook-secret")
sed -e "s#http://airflow-apiserver:8080#http://127.0.0.1:$CLUSTER_AIRFLOW_PORT#g" \
    -e "s#/alertmanager/webhook-secret#$CLUSTER/alertmanager/webhook-secret#g" \
    -e "1i # written by scripts/cluster.sh from deploy/alertmanager/alertmanager.yml; edit that file" \
    "$REPO/deploy/alertmanager/alertmanager.yml" >"$CLUSTER/alertmanager/alertmanager.yml"
ensure alertmanager "$CLUSTER_ALERTMANAGER_PORT" "$ALERTMANAGER_BIN" --config.file="$CLUSTER/alertmanager/alertmanager.yml" \
    --storage.path="$CLUSTER/alertmanager/data" --web.listen-address="127.0.0.1:$CLUSTER_ALERTMANAGER_PORT" \
    --cluster.listen-address= --log.level=warn

# 4. what docker-compose's airflow-init does: the metadata DB, the sandbox's plugins in the registry
if wanted apiserver; then
    (cd "$CLUSTER" && AIRFLOW_HOME="$CLUSTER/init" airflow db migrate >"$CLUSTER/migrate.log" 2>&1) \
        || fail migrate "airflow db migrate failed"
    while IFS= read -r manifest; do
        wecube plugins register "$manifest" --registry "$WECUBE_REGISTRY_PATH" --replace >>"$CLUSTER/register.log" 2>&1 \
            || fail register "could not register $manifest"
    done < <(python -c "from airflow_wecube.sandbox import manifest_paths; print(*manifest_paths(), sep='\n')")
fi

# 5. Airflow, one process group per component
ensure apiserver "$CLUSTER_AIRFLOW_PORT" airflow api-server --host 127.0.0.1 --port "$CLUSTER_AIRFLOW_PORT"
ensure scheduler "" airflow scheduler
ensure dag-processor "" airflow dag-processor
ensure triggerer "$CLUSTER_TRIGGER_LOG_PORT" airflow triggerer
for worker in "${WORKERS[@]}"; do
    WECUBE_WORKER_HOSTNAME="cluster-$worker" ensure "$worker" "" airflow celery worker \
        --celery-hostname "cluster-$worker" --concurrency 2 --skip-serve-logs
done

PASSWORDS="$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
deadline=$((SECONDS + 60))
until [ -s "$PASSWORDS" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail apiserver "no admin password in $PASSWORDS"
    sleep 1
done
AIRFLOW_PASSWORD="$(python -c "import json, sys; print(json.load(open(sys.argv[1]))['admin'])" "$PASSWORDS")"

umask 077
cat >"$CLUSTER/env.tmp" <<EOF
AIRFLOW_URL=$AIRFLOW_URL
AIRFLOW_USER=admin
AIRFLOW_PASSWORD=$AIRFLOW_PASSWORD
PROMETHEUS_URL=$PROMETHEUS_URL
ALERTMANAGER_URL=$ALERTMANAGER_URL
PROMETHEUS_FILE_SD_DIR=$SHARED/prometheus/file_sd
PROMETHEUS_RULES_DIR=$SHARED/prometheus/rules
SANDBOX_URL=$SANDBOX_URL
SANDBOX_TOKEN=$SANDBOX_TOKEN
export WECUBE_AIRFLOW_URL=$AIRFLOW_URL
export WECUBE_AIRFLOW_USER=admin
export WECUBE_AIRFLOW_PASSWORD=$AIRFLOW_PASSWORD
EOF
mv -f "$CLUSTER/env.tmp" "$CLUSTER/env"
umask 022

# 6. the examples unpaused once parsed (a report, not a failure)
( . "$CLUSTER/env" && python - "$EXAMPLE_DAGS" <<'EOF' ) || true
import sys, time
from airflow_wecube.util.airflow_api import AirflowClient
wanted = set(sys.argv[1].split())
with AirflowClient.from_env() as client:
    deadline, found = time.monotonic() + 90, set()
    while wanted - found and time.monotonic() < deadline:
        found = {d["dag_id"] for d in client.request("GET", "/api/v2/dags", params={"limit": 1000})["dags"]}
        time.sleep(2)
    for dag_id in sorted(wanted & found):
        client.unpause(dag_id)
    print(f"cluster: unpaused {', '.join(sorted(wanted & found)) or 'nothing'}", file=sys.stderr)
    if wanted - found:
        print(f"cluster: not parsed yet: {', '.join(sorted(wanted - found))}", file=sys.stderr)
EOF

cat <<EOF

  Airflow UI     $AIRFLOW_URL   (CeleryExecutor: workers cluster-worker1, cluster-worker2)
  login          admin / $AIRFLOW_PASSWORD
  WeCube page    $AIRFLOW_URL/wecube/
  Prometheus     $PROMETHEUS_URL
  Alertmanager   $ALERTMANAGER_URL   (alerts go to $AIRFLOW_URL/wecube/alerts)
  sandbox        $SANDBOX_URL  (token in .cluster/env)
  PostgreSQL     127.0.0.1:$CLUSTER_POSTGRES_PORT (db airflow)   Redis 127.0.0.1:$CLUSTER_REDIS_PORT
  details        .cluster/env   logs .cluster/*.log   stop with: make cluster-stop

EOF
