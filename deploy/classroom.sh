#!/usr/bin/env bash
# A classroom on one machine: N Streamlit replicas of the explorer behind nginx (issue 12).
#
#   deploy/classroom.sh [--replicas N] [--port P] [--address A] [--first-replica-port Q] [--run-dir DIR]
#
# Starts N `streamlit run explorer/app.py` processes on 127.0.0.1:Q..Q+N-1 (each uses at
# most one core, so N defaults to the core count) and nginx in front on A:P, with sticky
# sessions (a cookie), websocket upgrade, long read timeouts and health checks: a replica
# that exits is restarted, one that refuses connections is skipped by nginx meanwhile.
# Stays in the foreground; Ctrl-C or SIGTERM stops everything it started. nginx runs as the
# invoking user from a run directory of its own (config, pid, logs, temp files): no root,
# no system nginx config. The config comes from deploy/nginx.conf.template. docs/serving.md.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
REPLICAS="$(nproc 2>/dev/null || echo 2)"
PORT=8501
ADDRESS=0.0.0.0
FIRST=""
RUN=""
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "classroom.sh: $*" >&2; exit 2; }
is_int() { [[ "$1" =~ ^[0-9]+$ ]]; }

while [ $# -gt 0 ]; do
    case "$1" in
        --replicas) REPLICAS="${2:-}"; shift 2 || die "--replicas needs a number" ;;
        --port) PORT="${2:-}"; shift 2 || die "--port needs a number" ;;
        --address) ADDRESS="${2:-}"; shift 2 || die "--address needs an address" ;;
        --first-replica-port) FIRST="${2:-}"; shift 2 || die "--first-replica-port needs a number" ;;
        --run-dir) RUN="${2:-}"; shift 2 || die "--run-dir needs a directory" ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (allowed: --replicas N --port P --address A --first-replica-port Q --run-dir DIR)" ;;
    esac
done
is_int "$REPLICAS" && [ "$REPLICAS" -ge 1 ] && [ "$REPLICAS" -le 64 ] \
    || die "--replicas must be a whole number from 1 to 64, got '$REPLICAS'"
is_int "$PORT" && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "--port must be 1-65535, got '$PORT'"
FIRST="${FIRST:-$((PORT + 1))}"
is_int "$FIRST" && [ "$FIRST" -ge 1024 ] && [ $((FIRST + REPLICAS - 1)) -le 65535 ] \
    || die "--first-replica-port must leave room for $REPLICAS ports in 1024-65535, got '$FIRST'"
ADDRESS_RE='^[][0-9A-Za-z.:-]+$'
[[ "$ADDRESS" =~ $ADDRESS_RE ]] || die "--address must be a host name or IP address, got '$ADDRESS'"

NGINX="${CLASSROOM_NGINX:-$(command -v nginx || true)}"  # CLASSROOM_NGINX: another nginx binary
[ -n "$NGINX" ] || { [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx; }
[ -n "$NGINX" ] && [ -x "$NGINX" ] || die "nginx is not installed. On Debian/Ubuntu: sudo apt-get install nginx-light
  (or nginx); only the binary is used: classroom.sh writes its own config and never touches /etc/nginx."

[ -n "$PYTHON" ] || die "no python on PATH (set PYTHON=/path/to/python)"
"$PYTHON" -c "import importlib.util as u, sys; sys.exit(u.find_spec('streamlit') is None)" 2>/dev/null \
    || die "$PYTHON cannot import streamlit: pip install -r requirements.txt"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for ((k = 0; k < REPLICAS; k++)); do
    port_busy $((FIRST + k)) && die "port $((FIRST + k)) is in use; choose --first-replica-port"
done
port_busy "$PORT" && die "port $PORT is in use; choose --port"

if [ -z "$RUN" ]; then
    RUN="$(mktemp -d "${TMPDIR:-/tmp}/classroom.XXXXXX")" || die "cannot create a run directory"
    OWN_RUN=1
else
    mkdir -p "$RUN" || die "cannot create --run-dir $RUN"
    OWN_RUN=0
fi
mkdir -p "$RUN"/tmp/{body,proxy,fastcgi,uwsgi,scgi}

# One cookie secret for all replicas: a cookie signed by one replica is valid on the others.
SECRET="$("$PYTHON" -c 'import secrets; print(secrets.token_hex(32))')"
declare -a PIDS=()
NGINX_PID=""

start_replica() {  # $1 = index
    local port=$((FIRST + $1))
    (cd "$ROOT" && exec env LSTM_EXPLORER_THREADS="${LSTM_EXPLORER_THREADS:-1}" STREAMLIT_SERVER_COOKIE_SECRET="$SECRET" "$PYTHON" -m streamlit run \
        explorer/app.py --server.port "$port" --server.address 127.0.0.1 --server.headless true \
        --browser.gatherUsageStats false) >>"$RUN/replica-$port.log" 2>&1 &
    PIDS[$1]=$!
}

healthy() (  # $1 = port: /_stcore/health answers 200 within 2 s (a subshell: its fd stays its own)
    exec 4<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET /_stcore/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&4
    read -r -t 2 line <&4 || exit 1
    [[ "$line" == *" 200 "* ]]
) 2>/dev/null

STOPPING=0
stop_all() {
    [ "$STOPPING" = 1 ] && return
    STOPPING=1
    trap '' INT TERM
    echo "classroom.sh: stopping nginx and ${#PIDS[@]} replica(s)"
    local p
    [ -n "$NGINX_PID" ] && kill -TERM "$NGINX_PID" 2>/dev/null
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 30); do  # up to 3 s to finish (sessions live in memory: nothing to save), then killed
        local alive=0
        for p in "${PIDS[@]}" $NGINX_PID; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for p in "${PIDS[@]}" $NGINX_PID; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ "$OWN_RUN" = 1 ] && rm -rf "$RUN"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

for ((k = 0; k < REPLICAS; k++)); do start_replica "$k"; done

# nginx's config, from the template: readable on its own in deploy/.
SERVERS="" LIST=""
for ((k = 0; k < REPLICAS; k++)); do
    SERVERS+="        server 127.0.0.1:$((FIRST + k)) max_fails=1 fail_timeout=10s;"$'\n'
    LIST+="127.0.0.1:$((FIRST + k)) "
done
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;  # started as root: workers stay root rather than 'nobody'"
LISTEN="$PORT"
[ "$ADDRESS" != 0.0.0.0 ] && LISTEN="$ADDRESS:$PORT"
[[ "$ADDRESS" == *:* && "$ADDRESS" != \[* ]] && LISTEN="[$ADDRESS]:$PORT"
"$PYTHON" - "$HERE/nginx.conf.template" "$RUN/nginx.conf" "$RUN" "$LISTEN" "$USER_LINE" "$SERVERS" "${LIST% }" <<'PY' \
    || die "could not write $RUN/nginx.conf"
import sys
src, dst, run, listen, user, servers, replicas = sys.argv[1:]
text = open(src).read()
for k, v in {"RUN": run, "LISTEN": listen, "USER": user, "SERVERS": servers.rstrip("\n"),
             "REPLICA_LIST": replicas}.items():
    text = text.replace(f"@@{k}@@", v)
open(dst, "w").write(text)
PY
"$NGINX" -t -q -p "$RUN" -c "$RUN/nginx.conf" -e "$RUN/error.log" 2>"$RUN/nginx-test.log" \
    || die "nginx rejected $RUN/nginx.conf: $(cat "$RUN/nginx-test.log")"

echo "classroom.sh: starting $REPLICAS replica(s) on 127.0.0.1:$FIRST-$((FIRST + REPLICAS - 1)) (logs in $RUN)"
for ((t = 0; t < 120; t++)); do  # the first start imports torch: allow a minute
    ready=0
    for ((k = 0; k < REPLICAS; k++)); do
        kill -0 "${PIDS[$k]}" 2>/dev/null || die "replica on port $((FIRST + k)) exited at start:
$(tail -n 20 "$RUN/replica-$((FIRST + k)).log")"
        healthy $((FIRST + k)) && ready=$((ready + 1))
    done
    [ "$ready" = "$REPLICAS" ] && break
    sleep 0.5
done
[ "$ready" = "$REPLICAS" ] || die "only $ready of $REPLICAS replicas answered /_stcore/health within 60 s (logs in $RUN)"

# Warm each replica with one session: its first script run imports torch and the app (seconds
# of CPU) and should not land on the first student.
declare -a WARM=()
for ((k = 0; k < REPLICAS; k++)); do
    "$PYTHON" "$ROOT/benchmarks/classroom_load.py" --url "http://127.0.0.1:$((FIRST + k))/" --sessions 1 \
        --changes 0 --think 0-0 --timeout 120 --no-warmup >>"$RUN/warmup.log" 2>&1 &
    WARM+=($!)
done
for p in "${WARM[@]}"; do wait "$p" || echo "classroom.sh: a warm-up run failed (see $RUN/warmup.log); going on"; done

"$NGINX" -p "$RUN" -c "$RUN/nginx.conf" -e "$RUN/error.log" &
NGINX_PID=$!
for ((t = 0; t < 50; t++)); do port_busy "$PORT" && break; sleep 0.1; done
kill -0 "$NGINX_PID" 2>/dev/null || die "nginx exited at start: $(tail -n 5 "$RUN/error.log")"

SHOWN="$ADDRESS"
[ "$ADDRESS" = 0.0.0.0 ] && SHOWN="$(hostname -I 2>/dev/null | awk '{print $1}')"
echo "classroom.sh: ready: http://${SHOWN:-localhost}:$PORT/ ($REPLICAS replicas behind nginx; Ctrl-C stops)"
[ "$ADDRESS" = 0.0.0.0 ] && echo "classroom.sh: listening on every interface; --address 127.0.0.1 keeps it on this machine"

# Health: restart a replica whose process exited; report one that stops answering.
declare -a SICK=()
while true; do
    kill -0 "$NGINX_PID" 2>/dev/null || { echo "classroom.sh: nginx exited: $(tail -n 3 "$RUN/error.log")" >&2; exit 1; }
    for ((k = 0; k < REPLICAS; k++)); do
        port=$((FIRST + k))
        if ! kill -0 "${PIDS[$k]}" 2>/dev/null; then
            echo "classroom.sh: replica on port $port exited; restarting it (its students get a new session on reload)"
            start_replica "$k"
        elif ! healthy "$port"; then
            SICK[$k]=$(( ${SICK[$k]:-0} + 1 ))
            [ "${SICK[$k]}" = 3 ] && echo "classroom.sh: replica on port $port has not answered /_stcore/health for 3 checks"
        else
            SICK[$k]=0
        fi
    done
    sleep 2 &
    wait $! 2>/dev/null
done
