#!/usr/bin/env bash
# Runs the whole test suite (Swift tests, the OpenAPI conformance run, the README walk-through, the console in Chromium) against a throwaway PostgreSQL cluster on a free loopback port.
# Installs what is missing, and stops the cluster even when tests fail. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/postgres.sh

pg_ensure_binaries
source scripts/python-tools.sh
# promtool checks and unit-tests the alert rules in deploy/prometheus (MonitoringTests); Chromium
# runs the console test. Both from Debian, installed when missing.
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
workdir=$(mktemp -d /tmp/orchestrator-test.XXXXXX)
chmod 755 "$workdir"
port=$(pg_free_port)
cleanup() {
    pg_stop_cluster "$workdir/data"
    rm -rf "$workdir"
}
trap cleanup EXIT INT TERM

pg_start_cluster "$workdir/data" "$port" max_connections=400 fsync=off synchronous_commit=off full_page_writes=off
export ORCHESTRATOR_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "test cluster on 127.0.0.1:$port"

swift build --build-tests
# A test that hangs fails the run after 30 minutes (the whole suite takes a few), with the
# process tree killed, instead of holding CI until its own limit.
status=0
timeout --kill-after=30s 30m swift test --skip-build "$@" || status=$?
if [ "$status" -eq 124 ]; then
    echo "the Swift tests did not finish within 30 minutes: a test that started above and never passed hangs" >&2
    # swift test runs the test binary in a process group of its own, which timeout does not reach.
    for pid in $(pgrep -f "$(pwd)/.build/.*PackageTests.xctest"); do
        pkill -KILL -P "$pid" || true
        kill -KILL "$pid" || true
    done
fi
[ "$status" -eq 0 ] || exit "$status"
# The HTTP contract: schemathesis against the live server; the README's "Try it" section run as
# written against a server started by scripts/run.sh; the web console in Chromium (all three
# skipped when a filter selects tests).
if [ $# -eq 0 ]; then
    scripts/conformance.sh "$ORCHESTRATOR_TEST_DATABASE_URL"
    python3 Tests/Walkthrough/readme_walkthrough.py
    "$ORCHESTRATOR_TEST_PYTHON" Tests/Browser/console_test.py
fi
