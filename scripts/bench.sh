#!/usr/bin/env bash
# Benchmarks (release build) on a private PostgreSQL cluster with stock durability settings
# (fsync, synchronous_commit on). Prints RESULT lines; asserts nothing.
# Usage: scripts/bench.sh [w1 w1lat w2] ; WORKERS=16 N=2000 to override; GROWN=1000000 first fills the
# tables with that many finished workflows analyzed while no task is open (plans that flip with statistics).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/postgres.sh

pg_ensure_binaries
workdir=$(mktemp -d /tmp/orchestrator-bench.XXXXXX)
chmod 755 "$workdir"
port=$(pg_free_port)
trap 'pg_stop_cluster "$workdir/data"; rm -rf "$workdir"' EXIT INT TERM
pg_start_cluster "$workdir/data" "$port"

swift build -c release --product orchestrator
binary="$(swift build -c release --show-bin-path)/orchestrator"
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(w1 w1lat w2)
for workload in "${workloads[@]}"; do
    args=(bench --workload "$workload" --workers "${WORKERS:-16}" --database-url "postgres://postgres@127.0.0.1:$port/postgres")
    [ -n "${N:-}" ] && args+=(--n "$N")
    [ -n "${GROWN:-}" ] && args+=(--grown "$GROWN")
    "$binary" "${args[@]}"
done
