#!/usr/bin/env python3
"""The newcomer's first hour, as a test: starts the server with scripts/run.sh (the debug build,
a private data folder and port), pastes the banner's next steps, then every shell block of the
README's "Try it" section as written, from another folder, the way a person would: one block at a
time, waiting until no workflow is running before the next. Only `localhost:8080` is rewritten to
the port in use.

Fails when a command exits non-zero or answers a problem (an error), when a workflow ends failed
or dead-lettered, or when the server does not stop cleanly on SIGTERM (embedded PostgreSQL stopped,
discovery file removed).

Usage: Tests/Walkthrough/readme_walkthrough.py (run by scripts/test.sh).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBLEM = "urn:orchestrator:problem:"


def fail(message, log=None):
    print(f"walkthrough: FAILED: {message}", file=sys.stderr)
    if log is not None and log.exists():
        print("--- server output (last 60 lines) ---", file=sys.stderr)
        print("\n".join(log.read_text(errors="replace").splitlines()[-60:]), file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_blocks():
    """The ```sh blocks of the README's "Try it" section, in order."""
    text = (ROOT / "README.md").read_text()
    start = text.index("## Try it")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```sh\n(.*?)```", text[start:end], flags=re.S)


class Walk:
    def __init__(self):
        self.work = Path(tempfile.mkdtemp(prefix="orchestrator-walkthrough."))
        os.chmod(self.work, 0o755)  # the embedded PostgreSQL runs as the postgres user when we are root
        self.port = free_port()
        self.log = self.work / "server.log"
        self.elsewhere = self.work / "elsewhere"  # not the repository: the CLI must find the server by itself
        self.elsewhere.mkdir()
        bin_dir = self.work / "bin"
        base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ORCHESTRATOR_DATA_DIR", "ORCHESTRATOR_WORKFLOWS_DIR")}
        base["PATH"] = f"{bin_dir}:{base.get('PATH', '')}"
        base["XDG_STATE_HOME"] = str(self.work / "state")
        self.shell_env = dict(base)
        self.server_env = dict(base, ORCHESTRATOR_BUILD="debug", ORCHESTRATOR_BIN_DIR=str(bin_dir))
        self.keys = {}
        self.server = None

    def start(self):
        with open(self.log, "wb") as out:
            self.server = subprocess.Popen(
                ["scripts/run.sh", "--data-dir", str(self.work / "data"), "--port", str(self.port)],
                cwd=ROOT, env=self.server_env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.time() + 1200  # the first run may build
        while time.time() < deadline:
            text = self.log.read_text(errors="replace")
            if "More: README.md" in text:
                return text
            if self.server.poll() is not None:
                fail(f"scripts/run.sh exited with {self.server.returncode} before serving", self.log)
            time.sleep(0.5)
        fail("the server did not print its banner in time", self.log)

    def api(self, path):
        name, value = self.keys["OPS"].split(": ", 1)  # the banner's variables hold whole headers
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers={name: value})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def settle(self, timeout=90):
        """Waits until no workflow is running (each has finished or waits for something)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.api("/v1/workflows?status=running&limit=1")["items"]:
                return
            time.sleep(0.2)
        fail(f"workflows still running after {timeout}s: {[w['id'] for w in self.api('/v1/workflows?status=running')['items']]}", self.log)

    def run(self, commands, prelude):
        script = "set -euo pipefail\n" + prelude + "\n" + commands.replace("localhost:8080", f"localhost:{self.port}")
        print(f"$ {commands.strip()}", flush=True)
        done = subprocess.run(["bash", "-c", script], cwd=self.elsewhere, env=self.shell_env, capture_output=True, text=True, timeout=120)
        output = done.stdout + done.stderr
        print(output.rstrip(), flush=True)
        if done.returncode != 0:
            fail(f"exit status {done.returncode}", self.log)
        if PROBLEM in output:
            fail("the API answered a problem", self.log)
        self.settle()
        return output

    def stop(self):
        self.server.send_signal(signal.SIGTERM)
        try:
            status = self.server.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.server.kill()
            fail("the server did not stop within 90 s of SIGTERM", self.log)
        if status != 0:
            fail(f"the server exited with {status} on SIGTERM", self.log)
        if (self.work / "data/postgres/postmaster.pid").exists():
            fail("the embedded PostgreSQL still runs after the server stopped", self.log)
        if (self.work / "state/orchestrator/server.json").exists() or (self.work / "data/server.json").exists():
            fail("the discovery file outlived the server", self.log)


def main():
    walk = Walk()
    try:
        banner = walk.start()
        # The banner: the keys as an export line, then commands to paste.
        steps = banner[banner.index("Next steps"):].splitlines()
        export = next((line.strip() for line in steps if line.strip().startswith("export CLIENT=")), None)
        if export is None:
            fail("the banner has no export line for the keys", walk.log)
        walk.keys = dict(re.findall(r"(\w+)='([^']*)'", export))
        commands = [line.strip() for line in steps if line.startswith("  ") and not line.strip().startswith("export ")]
        if not any(c.startswith("orchestrator ") for c in commands):
            fail("the banner does not name the ops CLI as `orchestrator` although it is on the PATH", walk.log)
        for command in commands:
            walk.run(command, export)
        first = walk.api("/v1/workflows/first-order")
        if first["status"] != "completed":
            fail(f"the banner's sample workflow is {first['status']}, not completed: {first}", walk.log)

        blocks = readme_blocks()
        if len(blocks) < 5:
            fail(f"found only {len(blocks)} shell blocks in the README's Try it section")
        for block in blocks:
            walk.run(block, export)

        for status in ("failed", "dead_lettered"):
            bad = walk.api(f"/v1/workflows?status={status}")["items"]
            if bad:
                fail(f"{status} workflows after the walk-through: {[(w['id'], w['error']) for w in bad]}", walk.log)
        for order in ("A-1", "A-2", "A-3"):
            checkout = walk.api(f"/v1/workflows/checkout:{order}")
            if checkout["status"] != "completed":
                fail(f"checkout:{order} is {checkout['status']} in state {checkout['state']}", walk.log)
        walk.stop()
        print(f"walkthrough: the banner's {len(commands)} steps and the README's {len(blocks)} blocks ran as written")
    finally:
        if walk.server is not None and walk.server.poll() is None:
            walk.server.kill()
            walk.server.wait()
            subprocess.run(["bash", "-c", f"source scripts/postgres.sh && pg_stop_cluster {walk.work}/data/postgres"], cwd=ROOT,
                           capture_output=True)
        shutil.rmtree(walk.work, ignore_errors=True)


if __name__ == "__main__":
    main()
