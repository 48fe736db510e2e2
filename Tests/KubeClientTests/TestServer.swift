import FoundationEssentials
import Providers
#if canImport(Glibc)
import Glibc
#endif

/// A real HTTP server for the client tests: Python's `http.server` on a TCP
/// port, a unix socket, or TLS (optionally demanding a client certificate),
/// started through `ProcessRunner` and killed by `stop()`.
///
/// Routes: `/echo` answers the request as JSON; `/status/N` answers N with an
/// `{"error"}` body; `/slow` answers after 10 s; `/chunks` sends "first\n",
/// waits for `/release`, then sends "second\n" (or "no-release\n" after 30 s);
/// `/forever` streams a line every 50 ms until the client goes away, which
/// `/disconnected` then reports. `/create`, `/status`, `/getLogs`, `/delete`
/// and `/pinglink` stand in for the interLink API (pods kept in memory; the
/// annotation `interlink.mock/exit-code` makes containers terminated), and
/// `/_recorded/<route>` tells what the last call to a route carried.
final class TestServer: Sendable {
    let port: Int
    let socketPath: String?
    private let pid: pid_t

    var baseURL: String { socketPath == nil ? "http://127.0.0.1:\(port)" : "http://localhost" }
    var httpsURL: String { "https://127.0.0.1:\(port)" }

    private init(port: Int, socketPath: String?, pid: pid_t) {
        self.port = port; self.socketPath = socketPath; self.pid = pid
    }

    func stop() { kill(pid, SIGKILL) }

    /// With a token, the interLink routes answer 401 unless `Authorization: Bearer <token>` comes.
    static func tcp(token: String? = nil) async throws -> TestServer { try await start(["tcp"], token: token) }

    static func unix(_ path: String) async throws -> TestServer { try await start(["unix", path]) }

    static func tls(cert: String, key: String, requireClientCA: String? = nil) async throws -> TestServer {
        try await start(["tls", cert, key] + (requireClientCA.map { [$0] } ?? []))
    }

    /// The script forks: the parent prints "READY <port|path> <pid>" once the
    /// server listens and exits, so no test thread stays blocked on the child
    /// (a long-running `ProcessRunner.stream` holds a Dispatch worker, which on
    /// Linux is also what Swift's cooperative pool runs on). The server exits
    /// by itself when this test process is gone.
    private static func start(_ args: [String], token: String? = nil) async throws -> TestServer {
        var env = ProcessInfo.processInfo.environment
        env["STUB_TOKEN"] = token ?? ""
        let result = try await ProcessRunner.run("python3", ["-c", script, String(getpid())] + args, environment: env, timeout: 30)
        let line = result.stdoutText.trimmed
        let parts = line.split(separator: " ").map(String.init)
        guard parts.count == 3, parts[0] == "READY", let pid = pid_t(parts[2]) else {
            throw TestServerError(message: "test server did not start: \(line) \(result.stderrText)")
        }
        if args[0] == "unix" { return TestServer(port: 0, socketPath: parts[1], pid: pid) }
        return TestServer(port: Int(parts[1]) ?? 0, socketPath: nil, pid: pid)
    }

    struct TestServerError: Error, CustomStringConvertible { var message: String; var description: String { message } }

    static let script = #"""
import os, sys, json, time, threading, ssl, socketserver
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

released = threading.Event()
state = {"disconnected": False}
pods = {}
recorded = {}
token = os.environ.get("STUB_TOKEN", "")

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def address_string(self): return "test"
    def send_json(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Test-Server", "python")
        self.end_headers()
        self.wfile.write(data)
    def chunk(self, b):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b)); self.wfile.flush()
    def start_chunked(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
    def any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        p = self.path
        if p.startswith("/echo"):
            self.send_json(200, {"method": self.command, "path": p,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body.decode("utf-8", "replace")})
        elif p.startswith("/status/"):
            code = int(p.split("/")[2])
            self.send_json(code, {"error": "asked for %d" % code})
        elif p == "/slow":
            time.sleep(10); self.send_json(200, {"ok": True})
        elif p == "/release":
            released.set(); self.send_json(200, {"ok": True})
        elif p == "/chunks":
            self.start_chunked()
            self.chunk(b"first\n")
            self.chunk(b"second\n" if released.wait(30) else b"no-release\n")
            self.chunk(b"")
        elif p == "/forever":
            self.start_chunked()
            try:
                i = 0
                while True:
                    self.chunk(b"tick %d\n" % i); i += 1; time.sleep(0.05)
            except OSError:
                state["disconnected"] = True
                self.close_connection = True
        elif p in ("/create", "/status", "/getLogs", "/delete", "/pinglink"):
            self.interlink(p, body)
        elif p.startswith("/_recorded"):
            self.send_json(200, recorded.get(p[len("/_recorded"):], {}))
        elif p == "/disconnected":
            self.send_json(200, {"disconnected": state["disconnected"]})
        else:
            self.send_json(404, {"error": "no route " + p})
    def interlink(self, p, body):
        # A stand-in for the interLink API, enough for `interlink ctl`.
        recorded[p] = {"method": self.command, "body": body.decode("utf-8", "replace"),
                       "headers": [[k, v] for k, v in self.headers.items()]}
        if token and self.headers.get("Authorization") != "Bearer " + token:
            return self.send_json(401, {"error": "missing or wrong bearer token"})
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            return self.send_json(400, {"error": "invalid JSON"})
        if p == "/create":
            pod = doc["pod"]
            pods[pod["metadata"]["uid"]] = pod
            self.send_json(200, {"PodUID": pod["metadata"]["uid"], "PodJID": "job-1"})
        elif p == "/status":
            out = []
            for q in doc:
                pod = pods.get(q["metadata"]["uid"])
                if pod is None: continue
                code = (pod["metadata"].get("annotations") or {}).get("interlink.mock/exit-code")
                cs = []
                for c in pod["spec"]["containers"]:
                    if code is None:
                        cs.append({"name": c["name"], "image": c["image"], "imageID": "", "ready": True, "restartCount": 0,
                                   "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}, "lastState": {}})
                    else:
                        cs.append({"name": c["name"], "image": c["image"], "imageID": "", "ready": False, "restartCount": 0,
                                   "state": {"terminated": {"exitCode": int(code), "reason": "Error" if int(code) else "Completed"}},
                                   "lastState": {}})
                out.append({"name": pod["metadata"]["name"], "namespace": pod["metadata"]["namespace"],
                            "UID": pod["metadata"]["uid"], "JID": "job-1", "containers": cs, "initContainers": []})
            self.send_json(200, out)
        elif p == "/getLogs":
            if doc["PodUID"] not in pods:
                return self.send_json(404, {"error": "pod %s is not known" % doc["PodUID"]})
            if doc["Opts"].get("Follow"):
                self.start_chunked()
                self.chunk(("log of %s\n" % doc["ContainerName"]).encode())
                self.chunk(b"followed line\n")
                self.chunk(b"")
            else:
                data = ("log of %s\n" % doc["ContainerName"]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
        elif p == "/delete":
            if pods.pop(doc["metadata"]["uid"], None) is None:
                return self.send_json(404, {"error": "pod %s is not known" % doc["metadata"]["uid"]})
            self.send_json(200, {})
        elif p == "/pinglink":
            self.send_json(200, {"status": "ok", "resources": {"cpu": "4", "memory": "8Gi", "pods": "110"}})
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = any

class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

owner = int(sys.argv[1])
args = sys.argv[2:]
r, w = os.pipe()
child = os.fork()
if child > 0:
    os.close(w)
    print(os.read(r, 4096).decode(), flush=True)
    sys.exit(0)
os.close(r)
os.setsid()

def watchdog():
    # Exit with the test process, and never outlive a stuck run by long.
    deadline = time.time() + 300
    while time.time() < deadline:
        try: os.kill(owner, 0)
        except OSError: break
        time.sleep(1)
    os._exit(0)
threading.Thread(target=watchdog, daemon=True).start()

mode = args[0]
if mode == "unix":
    srv = UnixServer(args[1], H)
    where = args[1]
else:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    if mode == "tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args[1], args[2])
        if len(args) > 3:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args[3])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    where = str(srv.server_address[1])
devnull = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2): os.dup2(devnull, fd)
os.write(w, ("READY %s %d" % (where, os.getpid())).encode())
os.close(w)
srv.serve_forever()
"""#
}

/// What `/echo` answers.
struct Echo: Decodable {
    var method: String
    var path: String
    var headers: [[String]]
    var body: String

    func header(_ name: String) -> String? {
        headers.first { $0.first?.lowercased() == name.lowercased() }.flatMap { $0.count > 1 ? $0[1] : nil }
    }
}

/// A fresh directory under /tmp, short enough for a unix socket path.
func makeTempDir() -> String {
    let path = "/tmp/kct-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
