#!/usr/bin/env bash
# Orchestrator side by side with the peer harness (../shared/peers, its `ext` mode), in one sitting:
# the same PostgreSQL (stock durability), the same procedures and counting, the same RESULT lines.
#   starts    through the HTTP API (`orchestrator serve --workers 0`, 8 client threads)
#   workers   separate `orchestrator worker` processes (EXT_PROCS, default 1; 16 slots each for W1, 64 for W2)
#   completed counted from orchestrator.workflows
#   latency   POST /v1/workflows?wait=30s: the answer is the completed workflow (no polling)
# Usage: scripts/bench-peers.sh [baseline…] — baselines default to "dbos:w1 celery:w1 pgqueuer:w2";
#   PEERS (default ../shared/peers), PEERS_REPS (3), EXT_PROCS (1), ORCHESTRATOR_SLOTS (16 for W1 and 64 for W2 unless set),
#   EXT_WORKLOADS (all; or one of w1tput, w1lat, w2),
#   ORCHESTRATOR_LAT_SERVE_WORKERS=N: W1 latency once more with the API server running N workers
#   itself and no worker process (the default `orchestrator serve`), reported as peer orchestrator-in-server.
# Prints every RESULT line at the end; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
peers=$(cd "${PEERS:-../shared/peers}" && pwd)

swift build -c release --product orchestrator
binary="$(swift build -c release --show-bin-path)/orchestrator"

work=$(mktemp -d /tmp/orchestrator-peers.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/workflows.d" "$work/state"
"$binary" bench --print-workflow chain3 > "$work/workflows.d/chain3.yaml"
"$binary" bench --print-workflow job > "$work/workflows.d/job.yaml"
key="client_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
printf 'client:bench:%s\n' "$key" > "$work/keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

# `with_server CMD…`: runs CMD while an API server (no workers) serves the rep's database.
cat > "$work/with-server.sh" <<SCRIPT
#!/usr/bin/env bash
set -euo pipefail
XDG_STATE_HOME="$work/state" "$binary" serve --workers \${SERVE_WORKERS:-0} --database-url "\$PEERS_DB_URL" --workflows-dir "$work/workflows.d" \
    --api-keys-file "$work/keys" --data-dir "$work/data" --port $port --rate-limits off --log-level warning > "$work/serve.log" 2>&1 &
server=\$!
trap 'kill \$server 2>/dev/null; wait \$server 2>/dev/null || true' EXIT
for _ in \$(seq 1 300); do
    curl -sf "http://127.0.0.1:$port/readyz" > /dev/null && break
    sleep 0.1
done
ORCHESTRATOR_URL="http://127.0.0.1:$port" ORCHESTRATOR_KEY="$key" "\$@"
SCRIPT
chmod +x "$work/with-server.sh"

export EXT_NAME=orchestrator
export EXT_PROCS=${EXT_PROCS:-1}
export EXT_INIT_CMD="\"$binary\" migrate --database-url \"\$PEERS_DB_URL\" > /dev/null"
export EXT_ENQUEUE_CMD="\"$work/with-server.sh\" python3 \"$root/scripts/bench/ext_client.py\" enqueue"
# Slots per worker process: 16 for W1; 64 for W2, the concurrency DBOS runs in the harness (two
# processes of 32; pgqueuer caps nothing). ORCHESTRATOR_SLOTS sets both.
w1_slots=${ORCHESTRATOR_SLOTS:-16}
w2_slots=${ORCHESTRATOR_SLOTS:-64}
export EXT_WORKER_CMD="exec \"$binary\" worker --database-url \"\$PEERS_DB_URL\" --workflows-dir \"$work/workflows.d\" \
    --workers \$([ \"\$PEERS_WORKLOAD\" = w2 ] && echo $w2_slots || echo $w1_slots) --log-level warning"
export EXT_DONE_SQL="SELECT count(*) FROM orchestrator.workflows WHERE status = 'completed'"
export EXT_LAT_CMD="\"$work/with-server.sh\" python3 \"$root/scripts/bench/ext_client.py\" lat"

baselines=("$@")
[ ${#baselines[@]} -gt 0 ] || baselines=(dbos:w1 celery:w1 pgqueuer:w2)
results=()
for baseline in "${baselines[@]}" "ext:${EXT_WORKLOADS:-all}"; do
    log="$work/run-${baseline//:/-}.log"
    "$peers/run.sh" "${baseline%%:*}" "${baseline#*:}" 2>&1 | tee "$log"
    results+=("$(grep -E '^RESULT' "$log" || true)")
done
if [ -n "${ORCHESTRATOR_LAT_SERVE_WORKERS:-}" ]; then
    log="$work/run-ext-w1lat-in-server.log"
    EXT_NAME=orchestrator-in-server SERVE_WORKERS=$ORCHESTRATOR_LAT_SERVE_WORKERS EXT_WORKER_CMD='' "$peers/run.sh" ext w1lat 2>&1 | tee "$log"
    results+=("$(grep -E '^RESULT' "$log" || true)")
fi
echo
echo "=== RESULT lines (one sitting) ==="
printf '%s\n' "${results[@]}"
