#!/usr/bin/env python3
"""The HTTP client side of `scripts/bench-peers.sh`: Orchestrator as the peers harness's `ext` system.

  ext_client.py enqueue   start $PEERS_N workflows of $PEERS_WORKLOAD (w1: chain3, w2: job) through
                          POST /v1/workflows from 8 threads; prints ENQUEUE_S=<seconds>
  ext_client.py lat       10 unmeasured chain3 workflows, then $PEERS_N one after another, each
                          started with POST /v1/workflows?wait=30s (the answer comes when it has
                          completed); prints LAT_MS <ms> per workflow

The server is at $ORCHESTRATOR_URL with the client key in $ORCHESTRATOR_KEY. Standard library only.
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

URL = urllib.parse.urlparse(os.environ["ORCHESTRATOR_URL"])
HEADERS = {"Authorization": f"Bearer {os.environ['ORCHESTRATOR_KEY']}", "Content-Type": "application/json"}


def connection():
    return http.client.HTTPConnection(URL.hostname, URL.port, timeout=60)


def start(conn, body, wait=None):
    path = "/v1/workflows" + (f"?wait={wait}" if wait else "")
    conn.request("POST", path, body=json.dumps(body), headers=HEADERS)
    response = conn.getresponse()
    payload = response.read()
    if response.status not in (200, 201):
        raise SystemExit(f"POST {path} answered {response.status}: {payload[:300]!r}")
    return json.loads(payload)


def enqueue(workload, n):
    kind = "chain3" if workload == "w1" else "job"
    lanes = 8
    failures = []

    def lane(k):
        try:
            conn = connection()
            for i in range(k, n, lanes):
                start(conn, {"type": kind, "input": {"i": i}})
            conn.close()
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    began = time.perf_counter()
    threads = [threading.Thread(target=lane, args=(k,)) for k in range(lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"enqueue failed: {failures[0]}")
    print(f"ENQUEUE_S={time.perf_counter() - began:.3f}")


def latency(n):
    conn = connection()
    for i in range(-10, n):
        began = time.perf_counter()
        workflow = start(conn, {"type": "chain3", "input": {"i": i}}, wait="30s")
        elapsed = (time.perf_counter() - began) * 1000
        if workflow["status"] != "completed" or workflow["output"] != {"step": 3, "i": i}:
            raise SystemExit(f"workflow {workflow['id']} answered {workflow['status']} with {workflow.get('output')}")
        if i >= 0:
            print(f"LAT_MS {elapsed:.3f}", flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "enqueue":
        enqueue(os.environ["PEERS_WORKLOAD"], int(os.environ["PEERS_N"]))
    elif mode == "lat":
        latency(int(os.environ["PEERS_N"]))
    else:
        raise SystemExit(f"unknown mode {mode}")
