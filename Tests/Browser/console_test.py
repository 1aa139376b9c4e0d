#!/usr/bin/env python3
"""The web console in a real browser: Debian's Chromium driven by Playwright.

Starts `orchestrator serve` (the debug build, its embedded PostgreSQL in a temporary folder) with
a payments stub that answers 404, seeds three workflows that dead-letter on it and three `sleep`
workflows behind an activity limit of 1 (two of them late), then checks, as an on-call would:
  1. with an ops key, the overview shows the late tasks with why they are late, and the dead
     letters grouped by cause;
  2. once the stub answers 200, "Retry group…" (dry-run count, a reason, progress) resumes the
     three workflows to completion, a workflow's page draws its state machine with where it went
     (zoomable), and the workflow search finds them by type, status and start time;
  3. with a monitor key there is no action button, and the action request it could forge is 403.
Screenshots go to $CONSOLE_SCREENSHOTS when set (not kept in the repository).

Usage: Tests/Browser/console_test.py (run by scripts/test.sh with .build/venv's python).
"""
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PaymentsStub(http.server.BaseHTTPRequestHandler):
    """404 until `fixed`, then 200: the outage ops wait out before retrying."""
    fixed = False

    def do_GET(self):
        status, body = (200, b'{"paid": true}') if PaymentsStub.fixed else (404, b"no such payment")
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


WORKFLOWS = {
    "pay": """
type: pay
start: charge
retry: {max_attempts: 1}
states:
  charge: {task: http, input: {url: $.input.url}, timeout: 5s, next: done}
  done: {succeed: true}
""",
    "slow": """
type: slow
start: work
states:
  work: {task: sleep, input: {duration: 60s}, timeout: 120s, next: done}
  done: {succeed: true}
""",
}


def main():
    work = Path(tempfile.mkdtemp(prefix="orchestrator-console."))
    os.chmod(work, 0o755)
    (work / "workflows.d").mkdir()
    for name, text in WORKFLOWS.items():
        (work / "workflows.d" / f"{name}.yaml").write_text(text)
    keys = {role: f"{role}_{secrets.token_hex(16)}" for role in ("client", "ops", "monitor")}
    (work / "keys").write_text("\n".join(f"{role}:{role}-console:{key}" for role, key in keys.items()))
    stub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PaymentsStub)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(work / "server.log", "wb")
    env = dict(os.environ, ORCHESTRATOR_HTTP_ALLOW="127.0.0.1", XDG_STATE_HOME=str(work / "state"))
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen(
        [str(ROOT / ".build/debug/orchestrator"), "serve", "--port", str(port), "--data-dir", str(work / "data"),
         "--workflows-dir", str(work / "workflows.d"), "--api-keys-file", str(work / "keys"),
         "--activity-limits", "sleep=1", "--late-after", "1s", "--rate-limits", "off"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)

    def fail(message):
        print(f"console test: FAILED: {message}", file=sys.stderr)
        print("\n".join((work / "server.log").read_text(errors="replace").splitlines()[-40:]), file=sys.stderr)
        sys.exit(1)

    def api(method, path, body=None, role="ops"):
        request = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"Bearer {keys[role]}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            fail(f"{method} {path}: {error.code} {error.read()[:300]}")

    def wait_for(condition, what, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if condition():
                return
            time.sleep(0.25)
        fail(f"timed out waiting for {what}")

    try:
        def ready():
            try:
                return urllib.request.urlopen(base + "/readyz", timeout=2).status == 200
            except OSError:
                return False
        wait_for(ready, "the server", timeout=120)

        seeded_at = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        paying = [api("POST", "/v1/workflows", {"type": "pay", "input": {"url": f"http://127.0.0.1:{stub.server_port}/payments/{n}"}},
                      role="client")["id"] for n in range(1, 4)]
        for _ in range(3):
            api("POST", "/v1/workflows", {"type": "slow", "input": {}}, role="client")
        wait_for(lambda: api("GET", "/v1/dashboard")["dead_letters"]["open"] == 3, "three dead letters")
        wait_for(lambda: len(api("GET", "/v1/dashboard")["late_tasks"]) >= 2, "two late tasks")

        shots = os.environ.get("CONSOLE_SCREENSHOTS")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

            # 1. Ops: the overview says what is wrong and why.
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            console = page.goto(base + "/ui")
            policy = console.headers.get("content-security-policy", "")
            if "frame-ancestors 'none'" not in policy or "script-src 'self'" not in policy:
                fail(f"the console's Content-Security-Policy is not strict: {policy!r}")
            page.fill("#api-key", keys["ops"])
            page.click("#sign-in-form button")
            expect(page.locator("#who")).to_have_text("signed in with an ops key")
            expect(page.locator("#dead-letter-count .value")).to_have_text("3")
            late = page.locator("table", has=page.locator("th", has_text="Why"))
            expect(late).to_contain_text("the activity limit sleep is full: 1 of 1 running")
            expect(page.locator("#late-count .value")).not_to_have_text("0")
            group = page.locator("tr", has=page.locator("button[data-action=retry-group]"))
            expect(group).to_have_count(1)
            expect(group).to_contain_text("http.404")
            expect(group.locator("td").first).to_have_text("3")
            if shots:
                page.screenshot(path=f"{shots}/overview-ops.png", full_page=True)

            # The dead-letter page: filter by text, inspect one's attempts. The overview's refresh is
            # still loading when ops move on (its dashboard answers late): its answer must not
            # replace the page they went to.
            page.evaluate("""() => {
                window.unslowed = window.fetch;
                window.fetch = (url, init) => String(url).includes("/v1/dashboard")
                    ? new Promise((resolve) => setTimeout(resolve, 1500)).then(() => window.unslowed(url, init))
                    : window.unslowed(url, init);
                window.dispatchEvent(new HashChangeEvent("hashchange"));
                location.hash = "#/dead-letters?text=no%20such%20payment";
            }""")
            expect(page.locator("button[data-action=inspect]")).to_have_count(3)
            page.wait_for_timeout(2500)
            # Counted at once: a later render could hide a page shown meanwhile.
            if page.locator("button[data-action=inspect]").count() != 3 or not page.url.endswith("#/dead-letters?text=no%20such%20payment"):
                fail(f"the overview's late answer replaced the dead-letter page: {page.locator('#view').inner_text()[:200]!r}")
            page.evaluate("() => { window.fetch = window.unslowed; }")
            page.locator("button[data-action=inspect]").first.click()
            expect(page.locator("#inspect-dialog")).to_contain_text("no such payment")
            expect(page.locator("#inspect-dialog table")).to_contain_text("http.404")
            if shots:
                page.screenshot(path=f"{shots}/dead-letter.png", full_page=True)
            page.locator("#inspect-dialog button", has_text="Close").click()
            page.goto(f"{base}/ui#/overview")

            # 2. The payments service is back: retry the whole group from the page.
            PaymentsStub.fixed = True
            group.locator("button[data-action=retry-group]").click()
            expect(page.locator("#resolve-dialog")).to_contain_text("Retry 3 open dead letters")
            page.fill("#resolve-reason", "payments service back after the outage")
            if shots:
                page.screenshot(path=f"{shots}/retry-dialog.png", full_page=True)
            page.click("#resolve-confirm")
            expect(page.locator("#resolve-progress")).to_contain_text("Retried 3 of 3", timeout=30000)
            wait_for(lambda: all(api("GET", f"/v1/workflows/{id}")["status"] == "completed" for id in paying), "the retried workflows to complete")
            retried = [e for e in api("GET", f"/v1/workflows/{paying[0]}/history")["items"] if e["type"] == "dead_letter_retried"]
            if not retried or retried[0]["data"].get("reason") != "payments service back after the outage":
                fail(f"the retry is not in the workflow's history with its reason: {retried}")
            expect(page.locator("#dead-letter-count .value")).to_have_text("0", timeout=15000)
            if shots:
                page.screenshot(path=f"{shots}/overview-after-retry.png", full_page=True)

            # A workflow's page: its state machine drawn from its pinned version, where it went.
            page.goto(f"{base}/ui#/workflows/{paying[0]}")
            expect(page.locator("#state-diagram g[data-state=done]")).to_have_class("current")
            expect(page.locator("#state-diagram g[data-state=charge]")).to_have_class("visited")
            expect(page.locator("table", has=page.locator("th", has_text="Event"))).to_contain_text("dead_letter_retried")
            width = float(page.locator("#state-diagram").get_attribute("width"))
            page.click("button[data-zoom=out]")
            if not float(page.locator("#state-diagram").get_attribute("width")) < width:
                fail("Zoom out did not make the state diagram smaller")
            page.click("button[data-zoom=current]")
            expect(page.locator("#state-diagram")).to_have_attribute("width", str(int(width)))
            if shots:
                page.screenshot(path=f"{shots}/workflow.png", full_page=True)

            # Workflow search by type, status and start time; the form keeps the time it was given.
            page.goto(f"{base}/ui#/workflows?type=pay&created_after={seeded_at}")
            rows = page.locator("table tbody tr")
            expect(rows).to_have_count(3)
            page.select_option("select[name=status]", "completed")
            page.click("form.inline button[type=submit]")
            expect(page).to_have_url(re.compile(r"#/workflows\?type=pay&status=completed&created_after="))
            expect(rows).to_have_count(3)
            page.goto(f"{base}/ui#/workflows?type=pay&created_before={seeded_at}")
            expect(page.locator("main")).to_contain_text("No workflow matches.")

            # 3. Monitor: reads everything, acts on nothing; a forged action is refused.
            watcher = browser.new_page()
            watcher.goto(base + "/ui")
            watcher.fill("#api-key", keys["monitor"])
            watcher.click("#sign-in-form button")
            expect(watcher.locator("#who")).to_have_text("signed in with a monitor key")
            expect(watcher.locator("#late-count")).to_be_visible()
            expect(watcher.locator("button[data-action]")).to_have_count(0)
            expect(watcher.locator("a[href='#/dead-letters']")).to_be_hidden()
            expect(watcher.locator("a[href='#/workflows']")).to_be_hidden()
            status = watcher.evaluate("""async (key) => (await fetch('/v1/dead-letters/retry', {method: 'POST',
                headers: {Authorization: 'Bearer ' + key, 'Content-Type': 'application/json'},
                body: JSON.stringify({filter: {}, reason: 'forged'})})).status""", keys["monitor"])
            if status != 403:
                fail(f"a monitor key's forged bulk retry answered {status}, not 403")
            if shots:
                watcher.screenshot(path=f"{shots}/overview-monitor.png", full_page=True)
            browser.close()
        print("console test: the overview, a group retry from the page, a workflow page and search, and the monitor's read-only view work in Chromium")
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        stub.shutdown()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
