"""The contract API server for the `make bench` scripts (kube.py, vk.py).

One place that makes the throwaway PKI, starts scripts/kube-contract-server.py
on HTTPS bound to loopback, and talks to it; the scripts only say what they
count. The server is a daemon of its own (it exits once this process is gone);
`stop` kills it.
"""
import json, os, ssl, subprocess, sys, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "bench-token"


def _sh(work, *args):
    subprocess.run(args, cwd=work, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class ContractServer:
    """Starts the server under `work` (ca.crt, server.crt/key and the token file land there)."""

    def __init__(self, work, graceful_delete=False):
        self.work = work
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        _sh(work, "openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=bench-ca")
        with open(os.path.join(work, "server.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        _sh(work, "openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
        _sh(work, "openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "1", "-extfile", "server.ext")
        self.ca_file = os.path.join(work, "ca.crt")
        self.token_file = os.path.join(work, "token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")
        cmd = [sys.executable, os.path.join(HERE, "..", "kube-contract-server.py"),
               "--cert", os.path.join(work, "server.crt"), "--key", os.path.join(work, "server.key"),
               "--token-file", self.token_file, "--parent-pid", str(os.getpid())]
        if graceful_delete:
            cmd.append("--graceful-delete")
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()  # READY <port> <pid>
        self.port, self.pid = int(out[1]), int(out[2])
        self.url = "https://127.0.0.1:%d" % self.port
        self.ctx = ssl.create_default_context(cafile=self.ca_file)

    def call(self, path, body=None, method=None, auth=False):
        """One request; `auth` adds the node's token (control calls need none and are not recorded)."""
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode() if body is not None else None,
                                     method=method or ("POST" if body is not None else "GET"))
        req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", "Bearer " + TOKEN)
        with urllib.request.urlopen(req, context=self.ctx) as r:
            return json.load(r)

    def kubernetes_yaml(self, qps, burst):
        """The `Kubernetes:` section of an InterLink config pointing at this server."""
        return ("Kubernetes:\n  Server: %s\n  TokenFile: %s\n  CAFile: %s\n  QPS: %d\n  Burst: %d\n"
                % (self.url, self.token_file, self.ca_file, qps, burst))

    def stop(self):
        try:
            os.kill(self.pid, 9)
        except OSError:
            pass
