import Foundation
import KubeClient
import Synchronization
import Testing

/// What the virtual-kubelet mode builds on: list+watch that relists on 410,
/// and Lease renewal with optimistic concurrency, against the contract server.
@Suite struct ListWatcherTests {
    struct PodRef: KubeVersioned {
        struct Meta: Decodable, Sendable { var name: String; var resourceVersion: String? }
        var metadata: Meta
        var resourceVersion: String? { metadata.resourceVersion }
    }

    final class Seen: Sendable {
        let events = Mutex<[String]>([])
        func add(_ s: String) { events.withLock { $0.append(s) } }
        var all: [String] { events.withLock { $0 } }
    }

    func client(_ server: ContractServer) throws -> KubeClient {
        let dir = makeTempDir()
        try "token-1".write(toFile: dir + "/t", atomically: true, encoding: .utf8)
        return KubeClient(connection: server.connection(tokenFile: dir + "/t"), qps: 100, burst: 100)
    }

    func waitFor(_ seen: Seen, _ what: String) async throws {
        for _ in 0..<100 where !seen.all.contains(what) { try await Task.sleep(for: .milliseconds(100)) }
        #expect(seen.all.contains(what), "never saw \(what); saw \(seen.all)")
    }

    @Test func listsWatchesAndRelistsWhenTheVersionExpires() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        try await server.seed([KubeClientContractTests.pod("a")])
        let watcher = ListWatcher<PodRef>(client: try client(server), path: KubePath.core("pods", namespace: nil),
                                          resource: "pods", fieldSelector: "spec.nodeName=vk", watchSeconds: 1)
        let seen = Seen()
        let task = Task {
            await watcher.run { event in
                switch event {
                case .synced(let pods): seen.add("synced " + pods.map(\.metadata.name).joined(separator: ","))
                case .added(let p): seen.add("added " + p.metadata.name)
                case .modified(let p): seen.add("modified " + p.metadata.name)
                case .deleted(let p): seen.add("deleted " + p.metadata.name)
                }
            }
        }
        defer { task.cancel() }
        try await waitFor(seen, "synced a")
        try await server.seed([KubeClientContractTests.pod("b")])
        try await waitFor(seen, "added b")
        try await server.compact()  // the watcher's version is now too old: its next watch gets 410
        try await waitFor(seen, "synced a,b")
        let rec = try await server.requests()
        #expect(rec.contains { $0.code == 410 })
        #expect(rec.filter { $0.query["watch"] == nil }.allSatisfy { $0.query["fieldSelector"] == "spec.nodeName=vk" })
    }

    struct Lease: Codable, Sendable {
        struct Meta: Codable, Sendable { var name: String; var resourceVersion: String? }
        struct Spec: Codable, Sendable { var holderIdentity: String; var leaseDurationSeconds: Int; var renewTime: String? }
        var apiVersion = "coordination.k8s.io/v1"
        var kind = "Lease"
        var metadata: Meta
        var spec: Spec
    }

    @Test func leaseRenewalRefusesAStaleVersion() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        let kube = try client(server)
        let leases = KubePath.group("coordination.k8s.io", "v1", "leases", namespace: "kube-node-lease")
        var lease = Lease(metadata: .init(name: "vk"), spec: .init(holderIdentity: "vk", leaseDurationSeconds: 40))
        lease = try await kube.create(Lease.self, leases, body: try JSONEncoder().encode(lease), call: "create leases")
        let stale = lease
        lease.spec.renewTime = "2026-01-01T00:00:10.000000Z"
        let path = KubePath.group("coordination.k8s.io", "v1", "leases", namespace: "kube-node-lease", name: "vk")
        lease = try await kube.replace(Lease.self, path, body: try JSONEncoder().encode(lease), call: "update leases")
        #expect(lease.metadata.resourceVersion != stale.metadata.resourceVersion)
        do {
            _ = try await kube.replace(Lease.self, path, body: try JSONEncoder().encode(stale), call: "update leases")
            Issue.record("a write from a stale read must be refused")
        } catch { #expect((error as? KubeError)?.isConflict == true) }
        #expect(try await kube.get(Lease.self, path, call: "get leases").spec.renewTime == "2026-01-01T00:00:10.000000Z")
    }
}
