#!/usr/bin/env python3
"""make bench: API server requests of `interlink vk` (virtual-kubelet mode).

Starts the contract API server (--graceful-delete) on HTTPS with a throwaway
PKI and `interlink vk` on the mock provider pointed at it. Part 1: N pods
bound to the node run to Succeeded and are deleted by their owner; every
request the node made is counted per pod lifecycle. Part 2: IDLE/10, then
IDLE pods run (long), and the requests of a quiet window at each size are
scaled to a minute: the goal is lease renewals plus node status only, the same
however many pods run (the last line says whether it stayed flat).

Usage: vk.py BINARY [PODS] [IDLE_PODS] [WINDOW_SECONDS]
"""
import json, os, shutil, subprocess, sys, tempfile, time, uuid
from contract import ContractServer

binary = sys.argv[1]
pods = int(sys.argv[2]) if len(sys.argv) > 2 else 50
idle = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
window = float(sys.argv[4]) if len(sys.argv) > 4 else 30
work = tempfile.mkdtemp(prefix="vk-bench-")
api = None


def main():
    global api
    api = ContractServer(work, graceful_delete=True)
    call = api.call

    def seed(prefix, n, seconds, start=0):
        """Pods prefix-start .. prefix-(n-1), bound to the node."""
        call("/_control/pods", [{"metadata": {"name": "%s-%d" % (prefix, i), "namespace": "default", "uid": str(uuid.uuid4()),
                                              "annotations": {"interlink.mock/run-seconds": str(seconds)}},
                                 "spec": {"nodeName": "vk-bench", "restartPolicy": "Never",
                                          "containers": [{"name": "main", "image": "busybox"}]}} for i in range(start, n)])

    def phases(prefix):
        return [(p.get("status") or {}).get("phase") for p in call("/_control/pods")
                if p["metadata"]["name"].startswith(prefix + "-")]

    def counts(reqs):
        kinds = {}
        for r in reqs:
            parts = r["path"].split("/")
            res = "pods/status" if r["path"].endswith("/pods/" + parts[-2] + "/status") or ("/pods/" in r["path"] and r["path"].endswith("/status")) else None
            if res is None:
                res = "nodes/status" if "/nodes/" in r["path"] and r["path"].endswith("/status") else None
            if res is None:
                for name in ("leases", "pods", "nodes", "events", "configmaps", "secrets", "serviceaccounts"):
                    if "/" + name in r["path"]:
                        res = name; break
            verb = r["method"]
            if verb == "GET" and (r.get("query") or {}).get("watch") in ("1", "true"):
                verb = "WATCH"
            key = "%s %s" % (verb, res)
            kinds[key] = kinds.get(key, 0) + 1
        return kinds

    cfg = os.path.join(work, "config.yaml")
    open(cfg, "w").write("""InterlinkAddress: unix://%s/il.sock
DataRootFolder: %s/data
Provider: mock
ReconcileIntervalSeconds: 0.5
InstanceName: vk-bench
%sVirtualKubelet:
  NodeName: vk-bench
  KubeletListenAddress: 127.0.0.1
  KubeletPort: 0
  LeaderElection: false
""" % (work, work, api.kubernetes_yaml(100, 200)))
    log = open(os.path.join(work, "vk.log"), "w")
    vk = subprocess.Popen([binary, "vk", "--config", cfg], stderr=log)
    for _ in range(100):
        if call("/_control/nodes"):
            break
        time.sleep(0.1)
    time.sleep(1)
    call("/_control/reset", {})

    # Part 1: lifecycles.
    start = time.time()
    seed("life", pods, 2)
    while time.time() - start < 180 and phases("life").count("Succeeded") < pods:
        time.sleep(0.5)
    ok = phases("life").count("Succeeded") == pods
    for i in range(pods):
        call("/api/v1/namespaces/default/pods/life-%d" % i, {"gracePeriodSeconds": 30}, method="DELETE", auth=True)
    while time.time() - start < 240 and phases("life"):
        time.sleep(0.5)
    time.sleep(2)
    reqs = [r for r in call("/_control/requests") if r["auth"]]  # the node's, not this script's control calls
    mine = [r for r in reqs if not (r["method"] == "DELETE" and '"gracePeriodSeconds": 30' in r["body"])]
    kinds = counts(mine)
    print("pods: %d, each created in the API server, run to Succeeded, deleted by its owner; %s in %.1f s"
          % (pods, "all done" if ok and not phases("life") else "NOT all done", time.time() - start))
    print("%-22s %8s %10s" % ("call (node -> API)", "total", "per pod"))
    for k in sorted(kinds):
        print("%-22s %8d %10.2f" % (k, kinds[k], kinds[k] / pods))
    print("%-22s %8d %10.2f   (lease and node status included: %.0f s of heartbeats)"
          % ("all requests", len(mine), len(mine) / pods, time.time() - start))
    # A status write is redundant when it writes what the pod's previous one wrote.
    last, redundant = {}, 0
    for r in mine:
        if r["method"] == "PATCH" and "/pods/" in r["path"] and r["path"].endswith("/status") and r.get("status") == 200:
            st = json.loads(r["body"]).get("status", {})
            key = json.dumps([st.get(k) for k in ("phase", "containerStatuses", "initContainerStatuses")]
                             + [[c.get("type"), c.get("status")] for c in st.get("conditions") or []], sort_keys=True)
            redundant += last.get(r["path"]) == key
            last[r["path"]] = key
    print("status writes only on change: %d redundant of %d (goal 0)" % (redundant, kinds.get("PATCH pods/status", 0)))

    # Part 2: idle pods, measured at two sizes (a tenth of IDLE, then IDLE) so
    # that flatness shows: the per-minute figures must not grow with pods.
    def quiet_minute(n):
        seed("idle", n, 3600, start=len(phases("idle")))
        t0 = time.time()
        while time.time() - t0 < 300 and phases("idle").count("Running") < n:
            time.sleep(1)
        running, started = phases("idle").count("Running"), time.time() - t0
        time.sleep(3)  # the last status writes of the intake land before the window
        call("/_control/reset", {})
        time.sleep(window)
        reqs = [r for r in call("/_control/requests") if r["auth"]]
        return running, started, {k: v * 60.0 / window for k, v in counts(reqs).items()}, len(reqs) * 60.0 / window

    sizes = sorted({max(1, idle // 10), idle})
    results = [quiet_minute(n) for n in sizes]
    print()
    print("idle pods Running, requests of a %.0f s quiet window scaled to one minute"
          " (all Running %s after being added)" % (window, ", ".join("%d pods %.0f s" % (r[0], r[1]) for r in results)))
    print("%-22s" % "call (node -> API)" + "".join("%14s" % ("%d pods" % r[0]) for r in results))
    for k in sorted(set().union(*[r[2] for r in results])):
        print("%-22s" % k + "".join("%14.1f" % r[2].get(k, 0) for r in results))
    print("%-22s" % "all requests" + "".join("%14.1f" % r[3] for r in results))
    small, large = results[0][3], results[-1][3]
    # Lease every 10 s, node status at least once a minute, a watch re-opened when
    # the server ends it: a window sees each of them once more or once less, so the
    # noise is three requests scaled to a minute. Growth with pods would be ~10x.
    noise = 3 * 60.0 / window
    flat = large <= small + noise
    print("per minute at %d pods vs %d: %s (goal: lease every 10 s + node status at least every 60 s = ~7,"
          " the same at any number of pods)" % (results[-1][0], results[0][0], "flat" if flat else "GROWS WITH PODS"))
    vk.terminate(); vk.wait(timeout=30)


try:
    main()
finally:
    if api:
        api.stop()
    shutil.rmtree(work, ignore_errors=True)
