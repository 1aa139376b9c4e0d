#!/usr/bin/env bash
# Runs schemathesis (from PyPI) against a live `orchestrator serve` to prove the server conforms to
# openapi.yaml with zero server errors. Usage: scripts/conformance.sh POSTGRES_SERVER_URL
# (a server URL whose user may create databases; the script makes its own database).
set -euo pipefail
cd "$(dirname "$0")/.."
server_url="$1"

source scripts/python-tools.sh

workdir=$(mktemp -d /tmp/orchestrator-conformance.XXXXXX)
database="conformance_$$"
psql_url="${server_url%/*}"
psql "$psql_url/postgres" -qc "CREATE DATABASE $database" >/dev/null
key="ops-key-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
printf 'ops:conformance:%s\n' "$key" > "$workdir/keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

.build/debug/orchestrator serve --port "$port" --database-url "$psql_url/$database" --api-keys-file "$workdir/keys" \
    --data-dir "$workdir/data" --log-level warning > "$workdir/server.log" 2>&1 &
server=$!
cleanup() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -rf "$workdir"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.1
done
# A few instances so lookups by id find something.
for i in 1 2 3; do
    curl -sf -X POST "http://127.0.0.1:$port/v1/workflows" -H "Authorization: Bearer $key" \
        -d "{\"type\": \"order_fulfillment\", \"input\": {\"order_id\": \"C-$i\", \"lines\": [{\"sku\": \"tea\"}]}}" >/dev/null
done

"$venv/bin/schemathesis" run openapi.yaml --url "http://127.0.0.1:$port" -H "Authorization: Bearer $key" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
    --max-examples "${CONFORMANCE_EXAMPLES:-50}" --seed 1
