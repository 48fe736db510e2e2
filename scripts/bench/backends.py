#!/usr/bin/env python3
"""Backend benchmarks for `make bench`: InterLink against a plain CLI loop on
the same machine in the same run, so the ratio is the figure.

  docker: 50 pods, create -> Running (pods/s), vs `docker run -d` x 50
  slurm:  200 pods, create -> job submitted and -> started (pods/s), vs a plain
          `sbatch` loop of the same 200 scripts; squeue calls per reconcile tick

Needs the test services (scripts/dockerd.sh, scripts/slurm.sh) and the release
binary. Usage: backends.py docker|slurm
"""
import json, os, subprocess, sys, tempfile, time, uuid, http.client, socket, re

BIN = os.path.abspath(".build/release/interlink")


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


class InterLink:
    def __init__(self, provider, extra, env=None):
        self.dir = tempfile.mkdtemp(prefix="il-bench-")
        self.port = free_port()
        cfg = os.path.join(self.dir, "config.yaml")
        with open(cfg, "w") as f:
            f.write(f"InterlinkAddress: http://127.0.0.1\nInterlinkPort: {self.port}\n"
                    f"DataRootFolder: {self.dir}/data\nProvider: {provider}\n"
                    f"ReconcileIntervalSeconds: 1\nErrorsOnlyLogging: true\n{extra}\n")
        e = dict(os.environ); e.update(env or {})
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen([BIN, "serve", "--config", cfg], stdout=self.log, stderr=self.log, env=e)
        for _ in range(200):
            try:
                if self.call("GET", "/readyz")[0] == 200: return
            except OSError: pass
            time.sleep(0.05)
        raise SystemExit("interlink did not start; see " + self.log.name)

    def call(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, path, body=data, headers={"Content-Type": "application/json"})
        r = c.getresponse(); out = r.read(); c.close()
        return r.status, out

    def statuses(self, pods):
        st, out = self.call("GET", "/status", pods)
        return json.loads(out)

    def metrics(self):
        return self.call("GET", "/metrics")[1].decode()

    def stop(self):
        self.proc.terminate(); self.proc.wait(60)


def pod(name, image, script, annotations=None):
    return {"metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4()), "annotations": annotations or {}},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": image, "command": ["/bin/sh", "-c"], "args": [script]}]}}


def wait_all(il, pods, pred, timeout=600):
    start = time.time(); pending = list(pods)
    while pending and time.time() - start < timeout:
        done = set()
        for i in range(0, len(pending), 50):
            for s in il.statuses(pending[i:i + 50]):
                if pred(s): done.add(s["UID"])
        pending = [p for p in pending if p["metadata"]["uid"] not in done]
        if pending: time.sleep(0.2)
    if pending: raise SystemExit(f"{len(pending)} pods did not get there in {timeout}s")
    return time.time()


def running_or_done(s):
    cs = s.get("containers") or []
    return bool(cs) and all(c.get("state", {}).get("running") or c.get("state", {}).get("terminated") for c in cs)


def docker_bench(n=50):
    host = os.environ["INTERLINK_TEST_DOCKER_HOST"]; image = os.environ["INTERLINK_TEST_IMAGE"]
    env = dict(os.environ, DOCKER_HOST=host)
    # Baseline: a plain `docker run -d` loop of the same containers.
    t0 = time.time()
    ids = [subprocess.check_output(["docker", "run", "-d", "--network", "none", "--label", "bench=plain", image,
                                    "/bin/sh", "-c", "sleep 60"], env=env).decode().strip() for _ in range(n)]
    plain = time.time() - t0
    subprocess.run(["docker", "rm", "-f", *ids], env=env, stdout=subprocess.DEVNULL, check=True)

    il = InterLink("docker", f"DockerHost: {host}\nDockerNetwork: none")
    try:
        pods = [pod(f"bench-{i}", image, "sleep 60") for i in range(n)]
        t0 = time.time()
        for p in pods: assert il.call("POST", "/create", {"pod": p})[0] == 200
        t1 = wait_all(il, pods, running_or_done)
        ours = t1 - t0
        for p in pods: il.call("DELETE", "/delete", p)
        print(f"{'docker, ' + str(n) + ' pods':<28} {'create->Running':<22} {n/ours:8.2f} pods/s   "
              f"plain `docker run -d` loop {n/plain:8.2f}/s   ratio {plain/ours:5.2f}")
    finally:
        il.stop()


def slurm_bench(n=200):
    conf = os.environ["INTERLINK_TEST_SLURM_CONF"]
    env = dict(os.environ, SLURM_CONF=conf)
    work = tempfile.mkdtemp(prefix="il-bench-slurm-")
    # Baseline: the same number of trivial batch scripts through a plain sbatch loop.
    script = os.path.join(work, "job.sh")
    with open(script, "w") as f: f.write("#!/bin/sh\n#SBATCH --output=/dev/null\ntrue\n")
    t0 = time.time()
    for i in range(n):
        subprocess.run(["sbatch", "--job-name=bench-plain", "--chdir", work, script], env=env, stdout=subprocess.DEVNULL, check=True)
    t_submit_plain = time.time() - t0
    while subprocess.run(["squeue", "-h", "-n", "bench-plain", "-t", "PD"], env=env, capture_output=True).stdout.strip():
        time.sleep(0.2)
    t_start_plain = time.time() - t0
    subprocess.run(["scancel", "-n", "bench-plain"], env=env)

    # A squeue wrapper counts the calls the provider makes.
    count_file = os.path.join(work, "squeue-calls")
    wrapper = os.path.join(work, "squeue")
    real = subprocess.check_output(["sh", "-c", "command -v squeue"]).decode().strip()
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\necho x >> {count_file}\nexec {real} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    il = InterLink("slurm", f"ContainerRuntime: none\nSqueuePath: {wrapper}", env={"SLURM_CONF": conf})
    try:
        pods = [pod(f"bench-{i}", "none", "true") for i in range(n)]
        t0 = time.time()
        for p in pods: assert il.call("POST", "/create", {"pod": p})[0] == 200
        t_sub = wait_all(il, pods, lambda s: bool(s.get("JID"))) - t0
        t_run = wait_all(il, pods, running_or_done) - t0
        m0 = il.metrics(); c0 = sum(1 for _ in open(count_file))
        time.sleep(5)
        m1 = il.metrics(); c1 = sum(1 for _ in open(count_file))
        ticks = lambda m: float((re.search(r"^interlink_reconcile_tick_seconds_count\S*\s+(\S+)", m, re.M) or [0, 0])[1])
        dt = ticks(m1) - ticks(m0)
        per_tick = (c1 - c0) / dt if dt else float("nan")
        print(f"{'slurm, ' + str(n) + ' pods':<28} {'create->submitted':<22} {n/t_sub:8.2f} pods/s   "
              f"plain `sbatch` loop {n/t_submit_plain:8.2f}/s   ratio {t_submit_plain/t_sub:5.2f}")
        print(f"{'':<28} {'create->started':<22} {n/t_run:8.2f} pods/s   "
              f"plain `sbatch` loop {n/t_start_plain:8.2f}/s   ratio {t_start_plain/t_run:5.2f}")
        print(f"{'':<28} {'squeue calls per tick':<22} {per_tick:8.2f}   (over {dt:.0f} ticks, {n} pods; must be 1)")
        for p in pods: il.call("DELETE", "/delete", p)
    finally:
        il.stop()


if __name__ == "__main__":
    {"docker": docker_bench, "slurm": slurm_bench}[sys.argv[1]]()
