#!/usr/bin/env bash
# Builds (release) and starts `orchestrator serve` on 127.0.0.1:8080 with the shipped workflows.d.
# Without DATABASE_URL it runs a private PostgreSQL cluster under ./data (created on first run,
# reused after, stopped with the server). Installs the PostgreSQL server first if it is missing.
# Safe to run again; extra arguments go to `orchestrator serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/postgres.sh

if [ -z "${DATABASE_URL:-}" ]; then
    pg_ensure_binaries
    if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
fi
swift build -c release --product orchestrator
exec "$(swift build -c release --show-bin-path)/orchestrator" serve "$@"
