# Functions shared by scripts/demo.sh, scripts/demo-stop.sh and scripts/cluster.sh (sourced; the tests
# source it too).
#
# Needs DEMO (the demo's state folder). A part (airflow, sandbox, prometheus, alertmanager) is every process that
# carries WECUBE_DEMO_PART=$DEMO/<part> in its environment (set by demo.sh when it starts the part,
# inherited by everything the part starts: Airflow's task processes in their own process groups,
# the apps the sandbox deploys in their own sessions), plus the members of the process group and
# session recorded in $DEMO/<part>.pgid (demos started before the marker existed).

# _demo_procs MODE GRACE PART...: MODE "list" prints "PART PID" per live process and fails when there
# is none; MODE "stop" sends SIGTERM to them all at once, SIGKILL after GRACE seconds to what is left,
# and prints one line per part. The children of a supervising part (DEMO_SUPERVISORS, default
# "sandbox": it stops the apps it deployed and records them as stopped by its shutdown, to start them
# again with it) are left to their parent: they get SIGTERM once their parent is gone.
_demo_procs() {
    python3 - "$DEMO" "$@" <<'EOF'
import os, signal, sys, time

demo, mode, grace, names = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
markers = {f"WECUBE_DEMO_PART={demo}/{n}".encode(): n for n in names}
groups = {}
for n in names:
    try:
        with open(f"{demo}/{n}.pgid") as fh:
            g = int(fh.read().strip())
    except (OSError, ValueError):
        continue
    if g > 1:
        groups[g] = n
skip, pid = set(), os.getpid()
while pid > 1:  # never this helper or the shell that runs it
    skip.add(pid)
    try:
        with open(f"/proc/{pid}/stat") as fh:
            pid = int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        break


supervisors = set((os.environ.get("DEMO_SUPERVISORS") or "sandbox").split())
parents = {}


def members():
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in skip:
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/stat") as fh:
                state, ppid, pgrp, session = fh.read().rsplit(")", 1)[1].split()[:4]
        except (OSError, ValueError):
            continue
        parents[pid] = int(ppid)
        if state in ("Z", "X"):  # exited, waiting to be reaped: nothing left to stop
            continue
        name = groups.get(int(pgrp)) or groups.get(int(session))
        if name is None:
            try:
                with open(f"/proc/{pid}/environ", "rb") as fh:
                    env = fh.read().split(b"\0")
            except OSError:  # another user's process
                continue
            name = next((markers[e] for e in env if e in markers), None)
        if name is not None:
            found[pid] = name
    return found


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


procs = members()
if mode == "list":
    for pid, name in sorted(procs.items()):
        print(name, pid)
    sys.exit(0 if procs else 1)

def left_to_parent(procs):
    """Children of a live process of the same supervising part: that parent stops them."""
    return {pid for pid, name in procs.items() if name in supervisors and procs.get(parents.get(pid)) == name}


ran = {}
for pid, name in procs.items():
    ran[name] = ran.get(name, 0) + 1
termed, deadline = set(procs) - left_to_parent(procs), time.monotonic() + grace
signal_all(termed, signal.SIGTERM)
while procs and time.monotonic() < deadline:
    time.sleep(0.2)
    procs = members()
    # started while the others shut down, or left by a parent that is gone
    new = set(procs) - termed - left_to_parent(procs)
    signal_all(new, signal.SIGTERM)
    termed |= new
killed = {}
for pid, name in procs.items():
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            args = fh.read().decode(errors="replace").split("\0")
        if len(args) > 1 and os.path.basename(args[0]).startswith("python"):
            args = args[1:]  # "python3 /path/bin/airflow triggerer": show "airflow triggerer"
        cmd = " ".join([os.path.basename(args[0]), *args[1:]]).strip()[:60]
    except OSError:
        cmd = "?"
    killed.setdefault(name, []).append(f"{pid} {cmd}")
signal_all(procs, signal.SIGKILL)
deadline = time.monotonic() + 3
while procs and time.monotonic() < deadline:
    time.sleep(0.1)
    procs = members()
prefix = os.environ.get("DEMO_LOG_PREFIX") or "demo-stop"
for name in names:
    if name in killed:
        print(f"{prefix}: {name} killed: {len(killed[name])} of its {ran.get(name, 0)} processes still ran {grace:g}s"
              f" after SIGTERM ({'; '.join(killed[name][:3])})")
    elif name in ran:
        print(f"{prefix}: {name} stopped ({ran[name]} process{'' if ran[name] == 1 else 'es'})")
    else:
        print(f"{prefix}: {name} was not running")
sys.exit(1 if procs else 0)
EOF
}

# alive PART: some process of the part still runs.
alive() { _demo_procs list 0 "$1" >/dev/null; }

# stop_parts GRACE PART...: stop every process of these parts (SIGTERM, SIGKILL after GRACE seconds).
stop_parts() { _demo_procs stop "$@"; }

# wait_for NAME: poll the part's health check (the caller's `check NAME`), bounded by $TIMEOUT, until
# it passes, then the caller's `part_ready NAME`; the caller's `fail NAME WHY` when the part exits
# first or is not healthy in time.
wait_for() {
    local name="$1" deadline=$((SECONDS + TIMEOUT))
    until check "$name" 2>/dev/null; do
        alive "$name" || fail "$name" "$name exited before it was healthy"
        [ "$SECONDS" -lt "$deadline" ] || fail "$name" "$name not healthy after ${TIMEOUT}s"
        sleep 1
    done
    part_ready "$name"
}

# listening PORT: a program accepts connections on 127.0.0.1:PORT. A connect, not a bind: sockets in
# TIME_WAIT after a stop are nobody's, and the demo's servers bind with SO_REUSEADDR.
listening() {
    python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except ConnectionRefusedError:
    sys.exit(1)  # nobody listens
except OSError:
    pass  # no answer in time: count it as taken
finally:
    s.close()
EOF
}

# demo_connections SANDBOX_URL SANDBOX_TOKEN PROMETHEUS_URL FILE_SD_DIR RULES_DIR [ALERTMANAGER_URL
# WEBHOOK_SECRET]: the connections wecube_default, prometheus_default (and alertmanager_default, whose
# password is the webhook's shared secret) in Airflow's metadata DB ($AIRFLOW_HOME), created or updated
# in place (`airflow connections import --overwrite` keeps the row): a running task that looks one
# up never finds it missing.
demo_connections() {
    local file="$DEMO/connections.json"
    (umask 077 && python3 - "$file" "$@" <<'EOF'
import json, sys
path, sandbox_url, token, prometheus_url, file_sd_dir, rules_dir = sys.argv[1:7]
connections = {
    "wecube_default": {"conn_type": "wecube", "host": sandbox_url, "password": token},
    "prometheus_default": {
        "conn_type": "prometheus",
        "host": prometheus_url,
        "extra": {"file_sd_dir": file_sd_dir, "rules_dir": rules_dir},
    },
}
if len(sys.argv) > 7:
    alertmanager_url, webhook_secret = sys.argv[7:9]
    connections["alertmanager_default"] = {"conn_type": "alertmanager", "host": alertmanager_url, "password": webhook_secret}
with open(path, "w") as fh:
    json.dump(connections, fh, indent=2)
EOF
    ) || return 1
    if ! airflow connections import "$file" --overwrite >"$DEMO/connections.log" 2>&1; then
        rm -f "$file"
        return 1
    fi
    rm -f "$file"
    grep -q "^Imported connection wecube_default" "$DEMO/connections.log" \
        && grep -q "^Imported connection prometheus_default" "$DEMO/connections.log" \
        && { [ $# -lt 7 ] || grep -q "^Imported connection alertmanager_default" "$DEMO/connections.log"; }
}
