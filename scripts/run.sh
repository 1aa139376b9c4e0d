#!/usr/bin/env bash
# Builds (release) and starts `orchestrator serve` on 127.0.0.1:8080 with the shipped workflows.d.
# Without DATABASE_URL it runs a private PostgreSQL cluster under ./data (created on first run,
# reused after, stopped with the server). Installs the PostgreSQL server first if it is missing,
# and puts an `orchestrator` command on the PATH (a link to the binary it built) for the ops
# commands. Safe to run again; extra arguments go to `orchestrator serve`.
#
# ORCHESTRATOR_BIN_DIR: where the `orchestrator` link goes (default /usr/local/bin when writable,
# else ~/.local/bin). ORCHESTRATOR_BUILD=debug builds and runs the debug binary instead (faster to
# build; the README walk-through test uses it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/postgres.sh

if [ -z "${DATABASE_URL:-}" ]; then
    pg_ensure_binaries
    if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
fi
configuration="${ORCHESTRATOR_BUILD:-release}"
swift build -c "$configuration" --product orchestrator
binary="$(swift build -c "$configuration" --show-bin-path)/orchestrator"

# The ops commands (`orchestrator workflows list`, …) from any folder: they find this server.
bin_dir="${ORCHESTRATOR_BIN_DIR:-}"
if [ -z "$bin_dir" ]; then
    if [ -w /usr/local/bin ]; then bin_dir=/usr/local/bin; else bin_dir="$HOME/.local/bin"; fi
fi
mkdir -p "$bin_dir"
if [ -e "$bin_dir/orchestrator" ] && [ ! -L "$bin_dir/orchestrator" ]; then
    echo "note: $bin_dir/orchestrator exists and is not our link; left alone. The ops CLI is $binary" >&2
else
    ln -sfn "$binary" "$bin_dir/orchestrator"
    case ":$PATH:" in
        *":$bin_dir:"*) echo "the ops CLI: orchestrator (a link in $bin_dir to $binary)" >&2 ;;
        *) echo "the ops CLI: $bin_dir/orchestrator; to call it as orchestrator: export PATH=\"$bin_dir:\$PATH\"" >&2 ;;
    esac
fi
exec "$binary" serve "$@"
