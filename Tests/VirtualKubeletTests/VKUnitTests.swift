import Config
import Foundation
import HTTPClient
import KubeClient
import Model
import Providers
import Reconciler
import Server
import StatusPatcher
import Synchronization
import Testing
@testable import VirtualKubelet

/// A core whose backend can be switched off: ping fails while it is down.
final class SwitchableCore: PodAPI {
    let down = Mutex(false)
    func create(_ request: PodCreateRequests) async throws(PodAPIError) -> CreateStruct { CreateStruct(PodUID: request.pod.uid, PodJID: "") }
    func delete(_ pod: Pod) async throws(PodAPIError) {}
    func status(_ pods: [Pod]) async -> [PodStatus] { [] }
    func logs(_ request: LogStruct) async throws(PodAPIError) -> LogStream { throw .notFound("none") }
    func ping() async throws(PodAPIError) -> PingResponse? {
        if down.withLock({ $0 }) { throw .unavailable("connection refused") }
        return PingResponse(status: "ok", resources: .init(cpu: "64", memory: "256Gi", pods: "500",
                                                            accelerators: [.init(resourceType: "nvidia.com/gpu", available: "4")]))
    }
    func updateCache(_ pod: Pod) async {}
    func metrics() async -> String { "" }
    func isReady() async -> Bool { true }
}

@Suite(.enabled(if: opensslAvailable, "needs openssl and python3"))
struct VKUnitTests {
    func ready(_ s: ContractServer) async throws -> [String: Any]? {
        (try await s.nodes().first?[path: "status.conditions"] as? [[String: Any]])?.first { $0["type"] as? String == "Ready" }
    }

    @Test func nodeIsNotReadyWithAReasonWhileTheBackendIsUnreachableAndCapacityComesFromPing() async throws {
        let s = try await ContractServer.start(); defer { s.stop() }
        let core = SwitchableCore()
        var c = InterLinkConfig()
        c.virtualKubelet.nodeName = "vk-unit"
        c.virtualKubelet.pingIntervalSeconds = 0.2
        let node = NodeController(client: KubeClient(connection: s.connection, qps: 100, burst: 100), core: core,
                                  settings: VKSettings(c, environment: ["POD_IP": "10.1.2.3"], version: "t"))
        let task = Task { await node.run() }
        defer { task.cancel() }
        try await eventually("ready") { try await ready(s)?["status"] as? String == "True" }
        let n = try #require(try await s.nodes().first)
        #expect(n[path: "status.capacity.cpu"] as? String == "64")
        #expect(n[path: "status.allocatable.nvidia.com/gpu"] == nil)  // dotted key: read it directly
        #expect((n[path: "status.capacity"] as? [String: String])?["nvidia.com/gpu"] == "4")
        #expect((n[path: "status.addresses"] as? [[String: String]])?.first?["address"] == "10.1.2.3")  // $POD_IP
        core.down.withLock { $0 = true }
        try await eventually("not ready") { try await ready(s)?["status"] as? String == "False" }
        let r = try #require(try await ready(s))
        #expect(r["reason"] as? String == "BackendUnreachable")
        #expect((r["message"] as? String)?.contains("connection refused") == true)
        core.down.withLock { $0 = false }
        try await eventually("ready again") { try await ready(s)?["status"] as? String == "True" }
    }

    @Test func selfSignedKubeletCertificateServesTLSForTheNodeIP() async throws {
        let dir = makeTempDir()
        let (cert, key) = try KubeletCertificate.ensure(directory: dir + "/tls", nodeName: "vk-self", ip: "127.0.0.1")
        let again = try KubeletCertificate.ensure(directory: dir + "/tls", nodeName: "vk-self", ip: "127.0.0.1")
        #expect(again.cert == cert)  // kept, not remade
        let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        var cfg = HTTPServerConfig(listen: .tcp(host: "127.0.0.1", port: 0))
        cfg.tls = try TLSContext(files: .init(certFile: cert, keyFile: key))
        let view = StatusView()
        let server = HTTPServer(config: cfg, handler: KubeletAPI(core: SwitchableCore(), view: view, nodeName: "vk-self").handler)
        try server.start()
        let t = Task { await server.run() }
        defer { t.cancel(); Task { await server.shutdown() } }
        // The certificate is its own CA; verification includes the IP SAN.
        let r = try await HTTPClient().send(HTTPClientRequest(url: "https://127.0.0.1:\(server.boundPort!)/healthz", caFile: cert))
        #expect(r.status == 200)
    }

    /// A backend that measures: fixed numbers, and a count of how often it was asked.
    final class MeasuringBackend: UsageReporting {
        let asked = Mutex(0)
        let sample: [ContainerUsage]
        init(_ sample: [ContainerUsage]) { self.sample = sample }
        func usage() async throws -> [ContainerUsage] {
            asked.withLock { $0 += 1 }
            try await Task.sleep(for: .milliseconds(200))  // as `docker stats` samples
            return sample
        }
    }

    @Test func statsSummaryCarriesTheBackendsNumbersAndLeavesTheUnmeasuredOut() async throws {
        let view = StatusView()
        let running = ContainerState.running(since: "2026-12-01T10:00:00Z")
        view.set("uid-a", PodStatus(name: "a", UID: "uid-a", namespace: "ns", containers: [
            ContainerStatus(name: "web", state: running), ContainerStatus(name: "side", state: running)]))
        view.set("uid-b", PodStatus(name: "b", UID: "uid-b", namespace: "ns", containers: [
            ContainerStatus(name: "only", state: running)]))
        let t = "2026-12-01T10:05:00Z"
        let backend = MeasuringBackend([
            ContainerUsage(podUID: "uid-a", container: "web", cpuNanoCores: 250_000_000, memoryBytes: 10 << 20, time: t),
            ContainerUsage(podUID: "uid-a", container: "side", cpuNanoCores: 50_000_000, memoryBytes: 2 << 20, time: t),
        ])
        let api = KubeletAPI(core: SwitchableCore(), view: view, nodeName: "vk-stats", usage: backend, usageMaxAge: 60)
        // Scrapers asking at once share one sample.
        async let r1 = api.handle(HTTPRequest(method: "GET", target: "/stats/summary"))
        async let r2 = api.handle(HTTPRequest(method: "GET", target: "/stats/summary"))
        let (first, second) = await (r1, r2)
        #expect(first.status == 200 && second.status == 200)
        #expect(backend.asked.withLock { $0 } == 1)
        guard case .bytes(let body) = first.body else { Issue.record("not a JSON body"); return }
        let sum = try JSONSerialization.jsonObject(with: body) as? [String: Any] ?? [:]
        let pods = sum["pods"] as? [[String: Any]] ?? []
        let a = try #require(pods.first { $0[path: "podRef.name"] as? String == "a" })
        #expect(a[path: "cpu.usageNanoCores"] as? Int == 300_000_000)
        #expect(a[path: "memory.workingSetBytes"] as? Int == 12 << 20)
        let web = (a["containers"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "web" }
        #expect(web?[path: "cpu.usageNanoCores"] as? Int == 250_000_000)
        #expect(web?[path: "memory.time"] as? String == t)
        // Pod b's container was not measured: unknown, not zero.
        let b = try #require(pods.first { $0[path: "podRef.name"] as? String == "b" })
        #expect(b["cpu"] == nil && b["memory"] == nil)
        #expect((b["containers"] as? [[String: Any]])?.first?["cpu"] == nil)
    }

    @Test func virtualKubeletSectionParsesWithDefaultsAndRefusesBadValues() throws {
        let dir = makeTempDir()
        func load(_ text: String) throws -> InterLinkConfig {
            try text.write(toFile: dir + "/c.yaml", atomically: true, encoding: .utf8)
            return try ConfigLoader.load(path: dir + "/c.yaml", environment: [:])
        }
        let d = try load("Provider: mock\n")
        #expect(d.virtualKubelet.kubeletPort == 10250 && d.virtualKubelet.nodeName.isEmpty && d.virtualKubelet.leaderElection)
        let s = VKSettings(d, environment: [:], version: "t")
        #expect(s.internalIP == "127.0.0.1" && !s.nodeName.isEmpty)
        #expect(s.taints == [NodeTaint(key: "virtual-node.interlink/no-schedule", value: "true", effect: "NoSchedule")])
        let c = try load("""
        VirtualKubelet:
          NodeName: edge-1
          KubeletPort: 10255
          Labels:
            zone: a
            type: custom
          Taints: ["gpu=yes:NoExecute", "spot:PreferNoSchedule"]
          Capacity:
            cpu: "8"
          LeaseDuration: 30
          RenewDeadline: 20
          RetryPeriod: 4
        """)
        let v = VKSettings(c, environment: [:], version: "t")
        #expect(v.nodeName == "edge-1" && v.kubeletPort == 10255 && v.labels["zone"] == "a" && v.labels["type"] == "custom")
        #expect(v.taints.contains(NodeTaint(key: "gpu", value: "yes", effect: "NoExecute")))
        #expect(v.taints.contains(NodeTaint(key: "spot", value: nil, effect: "PreferNoSchedule")))
        #expect(v.capacity == ["cpu": "8"] && v.leaseDuration == 30 && v.renewDeadline == 20 && v.retryPeriod == 4)
        for bad in ["VirtualKubelet:\n  NodeName: Bad_Name\n", "VirtualKubelet:\n  Taints: [\"x=y:Sometimes\"]\n",
                    "VirtualKubelet:\n  LeaseDuration: 5\n  RenewDeadline: 10\n", "VirtualKubelet:\n  Nope: 1\n",
                    "VirtualKubelet:\n  KubeletPort: 70000\n"] {
            #expect(throws: ConfigError.self, "\(bad)") { _ = try load(bad) }
        }
    }

    struct Rule: Decodable { var apiGroups: [String]; var resources: [String]; var verbs: [String] }
    struct Object: Decodable { var kind: String; var rules: [Rule]? }

    @Test func vkModeRBACGrantsExactlyTheCallsTheCodeMakes() throws {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        let root = parts.joined(separator: "/")
        let text = try String(contentsOfFile: root + "/kustomizations/overlays/vk-mode/vk-mode-rbac.yaml", encoding: .utf8)
        let objects = try YAML.documentsAsJSON(text).map { try JSONDecoder().decode(Object.self, from: $0) }
        var granted = Set<KubeAPICall>()
        for rule in objects.filter({ $0.kind == "ClusterRole" }).flatMap({ $0.rules ?? [] }) {
            for g in rule.apiGroups { for r in rule.resources { for v in rule.verbs {
                #expect(g != "*" && r != "*" && v != "*")
                granted.insert(KubeAPICall(v, r, group: g))
            } } }
        }
        let used = Set(StatusPatcher.apiCalls + NodeController.apiCalls + PodController.apiCalls + PodResolver.apiCalls + LeaderElector.apiCalls)
        #expect(granted.subtracting(used).sorted().map(\.description) == [], "granted but never called")
        #expect(used.subtracting(granted).sorted().map(\.description) == [], "called but not granted")
    }
}
