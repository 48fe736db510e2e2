import Foundation
import Config
import HTTPClient
import KubeClient
import Model
import Providers
import Reconciler
import Server
import StatusPatcher
import VirtualKubelet
#if canImport(Glibc)
import Glibc
#endif

struct TestFailure: Error, CustomStringConvertible { var description: String }

func makeTempDir() -> String {
    let path = "/tmp/vkt-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

let opensslAvailable = ProcessRunner.resolve("openssl") != nil && ProcessRunner.resolve("python3") != nil

/// A CA, a server certificate for 127.0.0.1 and a client certificate (openssl CLI).
struct TestPKI: Sendable {
    let dir: String
    var caFile: String { dir + "/ca.crt" }
    var serverCert: String { dir + "/server.crt" }
    var serverKey: String { dir + "/server.key" }
    var clientCert: String { dir + "/client.crt" }
    var clientKey: String { dir + "/client.key" }
    static let shared = Task { try await TestPKI.make() }

    static func make() async throws -> TestPKI {
        let dir = makeTempDir()
        func openssl(_ args: [String]) async throws {
            let r = try await ProcessRunner.run("openssl", args, workingDirectory: dir, timeout: 60)
            guard r.succeeded else { throw TestFailure(description: "openssl \(args.first ?? ""): \(r.stderrText)") }
        }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try await openssl(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=vk-test-ca"])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n".write(toFile: dir + "/server.ext", atomically: true, encoding: .utf8)
        try "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n".write(toFile: dir + "/client.ext", atomically: true, encoding: .utf8)
        for (name, cn) in [("server", "127.0.0.1"), ("client", "kube-apiserver-kubelet-client")] {
            try await openssl(["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(cn)"])
            try await openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                               "-out", "\(name).crt", "-days", "2", "-extfile", "\(name).ext"])
        }
        return TestPKI(dir: dir)
    }
}

/// scripts/kube-contract-server.py with --graceful-delete, over HTTPS with a token.
final class ContractServer: Sendable {
    let port: Int
    let pki: TestPKI
    let tokenFile: String
    private let pid: pid_t
    private let http = HTTPClient()
    var url: String { "https://127.0.0.1:\(port)" }

    private init(port: Int, pki: TestPKI, tokenFile: String, pid: pid_t) {
        self.port = port; self.pki = pki; self.tokenFile = tokenFile; self.pid = pid
    }
    func stop() { kill(pid, SIGKILL) }

    static var scriptPath: String {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/scripts/kube-contract-server.py"
    }

    static func start() async throws -> ContractServer {
        let pki = try await TestPKI.shared.value
        let dir = makeTempDir()
        let tokenFile = dir + "/token"
        try "vk-token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let r = try await ProcessRunner.run("python3", [scriptPath, "--cert", pki.serverCert, "--key", pki.serverKey,
                                                        "--client-ca", pki.caFile, "--token-file", tokenFile, "--graceful-delete",
                                                        "--parent-pid", String(getpid())], timeout: 30)
        let parts = r.stdoutText.trimmed.split(separator: " ").map(String.init)
        guard parts.count == 3, parts[0] == "READY", let port = Int(parts[1]), let pid = pid_t(parts[2]) else {
            throw TestFailure(description: "contract server did not start: \(r.stdoutText) \(r.stderrText)")
        }
        return ContractServer(port: port, pki: pki, tokenFile: tokenFile, pid: pid)
    }

    var connection: KubeConnection { KubeConnection(server: url, caFile: pki.caFile, tokenFile: tokenFile, source: "test") }

    /// A call as a user (kubectl) would make it: with the token.
    func api(_ method: String, _ path: String, _ body: Any? = nil) async throws -> (Int, Any?) {
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let r = try await http.send(HTTPClientRequest(method: method, url: url + path, headers: [("Content-Type", "application/json")],
                                                      body: data, bearerToken: "vk-token", caFile: pki.caFile))
        return (r.status, try? JSONSerialization.jsonObject(with: r.body))
    }

    func control(_ method: String, _ path: String, _ body: Any? = nil) async throws -> Any? {
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let r = try await http.send(HTTPClientRequest(method: method, url: url + path, body: data, caFile: pki.caFile))
        guard r.status == 200 else { throw TestFailure(description: "control \(path) answered \(r.status)") }
        return try JSONSerialization.jsonObject(with: r.body)
    }

    func seed(_ pods: [[String: Any]]) async throws { _ = try await control("POST", "/_control/pods", pods) }
    func seedObjects(_ objs: [[String: Any]]) async throws { _ = try await control("POST", "/_control/objects", objs) }
    func pods() async throws -> [[String: Any]] { try await control("GET", "/_control/pods") as? [[String: Any]] ?? [] }
    func pod(_ name: String) async throws -> [String: Any]? {
        try await pods().first { ($0["metadata"] as? [String: Any])?["name"] as? String == name }
    }
    func nodes() async throws -> [[String: Any]] { try await control("GET", "/_control/nodes") as? [[String: Any]] ?? [] }
    func leases() async throws -> [[String: Any]] { try await control("GET", "/_control/leases") as? [[String: Any]] ?? [] }
    func events() async throws -> [[String: Any]] { try await control("GET", "/_control/events") as? [[String: Any]] ?? [] }
    func tokens() async throws -> [[String: Any]] { try await control("GET", "/_control/tokens") as? [[String: Any]] ?? [] }
    func requests() async throws -> [[String: Any]] { try await control("GET", "/_control/requests") as? [[String: Any]] ?? [] }
    func inject(_ faults: [[String: Any]]) async throws { _ = try await control("POST", "/_control/faults", faults) }
    func compact() async throws { _ = try await control("POST", "/_control/compact") }
}

/// One VK node in process, wired as `interlink vk` wires it (initial sync
/// before the loop, then patcher, reconciler, kubelet API, node, pods), on a
/// mock provider whose jobs live in a state file (a backend outside the node).
final class VKNode: @unchecked Sendable {  // fields set once in start()
    let reconciler: Reconciler
    let node: NodeController
    let pods: PodController
    let kubelet: HTTPServer
    let provider: MockProvider
    var client: KubeClient!
    private var tasks: [Task<Void, Never>] = []

    var kubeletURL: String { "https://127.0.0.1:\(kubelet.boundPort ?? 0)" }

    private init(reconciler: Reconciler, node: NodeController, pods: PodController, kubelet: HTTPServer, provider: MockProvider) {
        self.reconciler = reconciler; self.node = node; self.pods = pods; self.kubelet = kubelet; self.provider = provider
    }

    static func settings(_ nodeName: String, pingSeconds: Double = 0.3) -> VKSettings {
        var c = InterLinkConfig()
        c.virtualKubelet.nodeName = nodeName
        c.virtualKubelet.internalIP = "127.0.0.1"
        c.virtualKubelet.labels = ["site": "test"]
        c.virtualKubelet.taints = ["example.org/gpu=no:PreferNoSchedule"]
        c.virtualKubelet.capacity = ["pods": "42"]
        c.virtualKubelet.nodeLeaseRenewSeconds = 0.5
        c.virtualKubelet.pingIntervalSeconds = pingSeconds
        return VKSettings(c, environment: [:], version: "test")
    }

    static func start(_ server: ContractServer, nodeName: String, dataDir: String, backendState: String,
                      pki: TestPKI, kubeletCA: Bool = false, provider: MockProvider? = nil) async throws -> VKNode {
        let provider = provider ?? MockProvider(runSeconds: 2, statePath: backendState, startDelaySeconds: 0.1)
        let reconciler = try await Reconciler(provider: provider, settings: ReconcilerSettings(interval: 0.2, dataRoot: dataDir))
        let client = KubeClient(connection: server.connection, qps: 200, burst: 200)
        let settings = settings(nodeName)
        let node = NodeController(client: client, core: reconciler, settings: settings)
        try? FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let pods = PodController(client: client, core: reconciler, view: reconciler.statusView, nodeName: nodeName,
                                 hostIP: "127.0.0.1", stateFile: dataDir + "/vk-owned-pods.json")
        var cfg = HTTPServerConfig(listen: .tcp(host: "127.0.0.1", port: 0))
        cfg.tls = try TLSContext(files: .init(certFile: pki.serverCert, keyFile: pki.serverKey, caCertFile: kubeletCA ? pki.caFile : nil))
        let kubelet = HTTPServer(config: cfg, handler: KubeletAPI(core: reconciler, view: reconciler.statusView, nodeName: nodeName).handler)
        try kubelet.start()
        let vk = VKNode(reconciler: reconciler, node: node, pods: pods, kubelet: kubelet, provider: provider)
        vk.client = client
        try await pods.initialSync()
        let patcher = StatusPatcher(client: client, source: reconciler.statusView)
        vk.tasks = [
            Task { await patcher.run() },
            Task { await reconciler.run() },
            Task { await kubelet.run() },
            Task { await node.run() },
            Task { await pods.run() },
        ]
        return vk
    }

    /// Stops everything, the way SIGTERM does (the backend keeps its jobs).
    func stop() async {
        for t in tasks.reversed() { t.cancel() }
        await kubelet.shutdown()
        await reconciler.stop()
        for t in tasks { await t.value }
    }
}

func eventually(_ what: String, timeout: Double = 20, _ check: () async throws -> Bool) async throws {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if (try? await check()) == true { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw TestFailure(description: "timed out waiting for: \(what)")
}

func podObject(_ name: String, node: String, ns: String = "vk", exitCode: Int = 0, runSeconds: Double = 1,
               extraSpec: [String: Any] = [:], containers: [[String: Any]]? = nil) -> [String: Any] {
    var spec: [String: Any] = ["nodeName": node, "restartPolicy": "Never",
                               "containers": containers ?? [["name": "main", "image": "busybox", "args": ["echo", "hi"]]]]
    for (k, v) in extraSpec { spec[k] = v }
    return ["metadata": ["name": name, "namespace": ns, "uid": UUID().uuidString.lowercased(),
                         "annotations": ["interlink.mock/exit-code": String(exitCode), "interlink.mock/run-seconds": String(runSeconds)]],
            "spec": spec]
}

extension Dictionary where Key == String, Value == Any {
    subscript(path path: String) -> Any? {
        var cur: Any? = self
        for p in path.split(separator: ".") {
            if let i = Int(p), let a = cur as? [Any] { cur = i < a.count ? a[i] : nil }
            else { cur = (cur as? [String: Any])?[String(p)] }
        }
        return cur
    }
}
