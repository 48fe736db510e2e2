#!/usr/bin/env python3
"""make bench: API server requests of `interlink vk` (virtual-kubelet mode).

Starts the contract API server (--graceful-delete) on HTTPS with a throwaway
PKI and `interlink vk` on the mock provider pointed at it. Part 1: N pods
bound to the node run to Succeeded and are deleted by their owner; every
request the node made is counted per pod lifecycle. Part 2: IDLE pods run
(long), and the requests of a quiet window are scaled to a minute: the goal is
lease renewals plus node status only, flat however many pods run.

Usage: vk.py BINARY [PODS] [IDLE_PODS] [WINDOW_SECONDS]
"""
import json, os, shutil, ssl, subprocess, sys, tempfile, time, urllib.request, uuid

here = os.path.dirname(os.path.abspath(__file__))
binary = sys.argv[1]
pods = int(sys.argv[2]) if len(sys.argv) > 2 else 50
idle = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
window = float(sys.argv[4]) if len(sys.argv) > 4 else 20
work = tempfile.mkdtemp(prefix="vk-bench-")
procs = []


def sh(*args):
    subprocess.run(args, cwd=work, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    sh("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=bench-ca")
    open(os.path.join(work, "server.ext"), "w").write("subjectAltName=IP:127.0.0.1\n")
    sh("openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    sh("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
       "-out", "server.crt", "-days", "1", "-extfile", "server.ext")
    token = os.path.join(work, "token")
    open(token, "w").write("bench-token\n")
    out = subprocess.run([sys.executable, os.path.join(here, "..", "kube-contract-server.py"), "--cert",
                          os.path.join(work, "server.crt"), "--key", os.path.join(work, "server.key"),
                          "--token-file", token, "--graceful-delete", "--parent-pid", str(os.getpid())],
                         capture_output=True, text=True, check=True).stdout.split()
    api_port = int(out[1]); procs.append(int(out[2]))
    ctx = ssl.create_default_context(cafile=os.path.join(work, "ca.crt"))
    api = "https://127.0.0.1:%d" % api_port

    def call(path, body=None, method=None, auth=False):
        req = urllib.request.Request(api + path, data=json.dumps(body).encode() if body is not None else None,
                                     method=method or ("POST" if body is not None else "GET"))
        req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", "Bearer bench-token")
        return json.load(urllib.request.urlopen(req, context=ctx))

    def seed(prefix, n, seconds):
        call("/_control/pods", [{"metadata": {"name": "%s-%d" % (prefix, i), "namespace": "default", "uid": str(uuid.uuid4()),
                                              "annotations": {"interlink.mock/run-seconds": str(seconds)}},
                                 "spec": {"nodeName": "vk-bench", "restartPolicy": "Never",
                                          "containers": [{"name": "main", "image": "busybox"}]}} for i in range(n)])

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
Kubernetes:
  Server: %s
  TokenFile: %s
  CAFile: %s/ca.crt
  QPS: 100
  Burst: 200
VirtualKubelet:
  NodeName: vk-bench
  KubeletListenAddress: 127.0.0.1
  KubeletPort: 0
  LeaderElection: false
""" % (work, work, api, token, work))
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

    # Part 2: idle pods.
    seed("idle", idle, 3600)
    t0 = time.time()
    while time.time() - t0 < 300 and phases("idle").count("Running") < idle:
        time.sleep(1)
    running = phases("idle").count("Running")
    time.sleep(3)
    call("/_control/reset", {})
    time.sleep(window)
    reqs = [r for r in call("/_control/requests") if r["auth"]]
    kinds = counts(reqs)
    scale = 60.0 / window
    print()
    print("idle: %d pods Running; requests in a %.0f s quiet window, scaled to one minute" % (running, window))
    print("%-22s %10s" % ("call (node -> API)", "per minute"))
    for k in sorted(kinds):
        print("%-22s %10.1f" % (k, kinds[k] * scale))
    print("%-22s %10.1f   (goal: lease every 10 s + node status at least every 60 s = ~7, flat in pods)"
          % ("all requests", len(reqs) * scale))
    vk.terminate(); vk.wait(timeout=30)


try:
    main()
finally:
    for pid in procs:
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    shutil.rmtree(work, ignore_errors=True)
