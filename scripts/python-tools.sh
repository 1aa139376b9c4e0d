#!/usr/bin/env bash
# The Python tools the tests use, from PyPI, in one virtual environment (.build/venv):
# schemathesis (the OpenAPI conformance run), localstripe (Stripe's API for the commerce tests)
# and Playwright (drives Debian's Chromium in the console test; it downloads no browser).
# Sourced by scripts/test.sh; installs only what is missing, so running it twice is cheap.
venv="$(pwd)/.build/venv"
python_tools=("schemathesis==4.32.5" "localstripe==1.15.10" "playwright==1.49.1")
if [ ! -x "$venv/bin/python3" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python3" -c "import schemathesis, localstripe, playwright" 2>/dev/null; then
    "$venv/bin/pip" install -q "${python_tools[@]}"
fi
# The commerce tests start localstripe with this interpreter.
export ORCHESTRATOR_TEST_PYTHON="$venv/bin/python3"
