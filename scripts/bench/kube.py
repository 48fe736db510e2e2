#!/usr/bin/env python3
"""make bench: API server requests per pod lifecycle with Kubernetes.PatchStatus.

Starts the contract API server (scripts/kube-contract-server.py) on HTTPS with
a throwaway PKI, seeds N pods, runs `interlink serve` on the mock provider
with the status patcher pointed at it, creates the same pods through
/create, waits until the API server shows every pod Succeeded, and counts
what reached the API server. A pod's real status changes here are three
(Pending/ContainerCreating -> Running -> Succeeded): the goal is one status
patch per change, plus one read per pod (UID check) and nothing else.

Usage: kube.py BINARY [PODS]
"""
import json, os, shutil, subprocess, sys, tempfile, time, uuid
from contract import ContractServer

binary = sys.argv[1]
pods = int(sys.argv[2]) if len(sys.argv) > 2 else 50
work = tempfile.mkdtemp(prefix="kube-bench-")
api = None


def main():
    global api
    api = ContractServer(work)
    control = api.call

    objs = []
    for i in range(pods):
        objs.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": "bench-%d" % i, "namespace": "default", "uid": str(uuid.uuid4())},
                     "spec": {"nodeName": "interlink-vk", "restartPolicy": "Never",
                              "containers": [{"name": "main", "image": "busybox"}]},
                     "status": {"phase": "Pending", "qosClass": "BestEffort"}})
    control("/_control/pods", objs)

    sock = os.path.join(work, "il.sock")
    cfg = os.path.join(work, "config.yaml")
    open(cfg, "w").write("""InterlinkAddress: unix://%s
DataRootFolder: %s/data
Provider: mock
MockRunSeconds: 2
ReconcileIntervalSeconds: 0.5
InstanceName: kube-bench
%s  PatchStatus: true
""" % (sock, work, api.kubernetes_yaml(50, 100)))
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen([binary, "serve", "--config", cfg], stderr=log)
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.1)
    start = time.time()
    for p in objs:
        body = json.dumps({"pod": {k: v for k, v in p.items() if k != "status"}}).encode()
        subprocess.run(["curl", "-fsS", "--unix-socket", sock, "-H", "Content-Type: application/json",
                        "-d", body.decode(), "http://localhost/create"], check=True, stdout=subprocess.DEVNULL)
    done = False
    while time.time() - start < 120:
        phases = [((p.get("status") or {}).get("phase")) for p in control("/_control/pods")]
        if phases.count("Succeeded") == pods:
            done = True
            break
        time.sleep(0.5)
    time.sleep(2)  # anything sent after the last change would show up now
    elapsed = time.time() - start
    server.terminate(); server.wait(timeout=30)
    reqs = [r for r in control("/_control/requests")]
    kinds = {}
    for r in reqs:
        sub = "pods/status" if r["path"].endswith("/status") else r["path"].split("/")[-2]
        key = "%s %s" % (r["method"], sub)
        kinds[key] = kinds.get(key, 0) + 1
    patches = kinds.get("PATCH pods/status", 0)
    conns = len({r["conn"] for r in reqs})
    print("pods: %d, each Pending -> Running -> Succeeded (3 real status changes); %s in %.1f s"
          % (pods, "all Succeeded" if done else "NOT all Succeeded", elapsed))
    print("%-22s %8s %10s" % ("call", "total", "per pod"))
    for k in sorted(kinds):
        print("%-22s %8d %10.2f" % (k, kinds[k], kinds[k] / pods))
    print("%-22s %8d %10.2f" % ("all requests", len(reqs), len(reqs) / pods))
    print("%-22s %8d" % ("connections opened", conns))
    # A patch is redundant when it writes what the pod's previous patch wrote.
    last, redundant = {}, 0
    for r in reqs:
        if r["method"] == "PATCH" and r["path"].endswith("/status") and r.get("status") == 200:
            st = json.loads(r["body"]).get("status", {})
            key = json.dumps([st.get("phase"), st.get("containerStatuses")], sort_keys=True)
            redundant += last.get(r["path"]) == key
            last[r["path"]] = key
    print("status patches per pod: %.2f for 3 real changes (goal: at most 1 per change; fewer when"
          " changes inside one poll coalesce); redundant patches: %d (goal 0)" % (patches / pods, redundant))


try:
    main()
finally:
    if api:
        api.stop()
    shutil.rmtree(work, ignore_errors=True)
