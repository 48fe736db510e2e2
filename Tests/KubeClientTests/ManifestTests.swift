import Config
import Foundation
import KubeClient
import Model
import Providers
import StatusPatcher
import Testing

/// The kustomizations: they render and validate, the base's RBAC grants
/// exactly the calls the code makes, and the in-cluster config is one
/// `interlink serve` accepts.
@Suite struct ManifestTests {
    static var root: String {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }

    struct Rule: Decodable { var apiGroups: [String]; var resources: [String]; var verbs: [String] }
    struct Object: Decodable { var kind: String; var rules: [Rule]? }

    @Test func rbacGrantsExactlyTheCallsTheCodeMakes() throws {
        let text = try String(contentsOfFile: Self.root + "/kustomizations/base/rbac.yaml", encoding: .utf8)
        let objects = try YAML.documentsAsJSON(text).map { try JSONDecoder().decode(Object.self, from: $0) }
        var granted = Set<KubeAPICall>()
        for rule in objects.filter({ $0.kind == "ClusterRole" || $0.kind == "Role" }).flatMap({ $0.rules ?? [] }) {
            for g in rule.apiGroups { for r in rule.resources { for v in rule.verbs {
                #expect(g != "*" && r != "*" && v != "*", "no wildcards in a least-privilege role")
                granted.insert(KubeAPICall(v, r, group: g))
            } } }
        }
        let used = Set(StatusPatcher.apiCalls)
        #expect(granted.subtracting(used).sorted().map(\.description) == [], "granted but never called")
        #expect(used.subtracting(granted).sorted().map(\.description) == [], "called but not granted")
    }

    @Test func theCallsTheCodeMakesAreTheOnesItDeclares() async throws {
        // Drive the patcher through a lifecycle with events and compare what the
        // client counted against the declared list.
        let server = try await ContractServer.start(); defer { server.stop() }
        let uid = "33333333-3333-4333-8333-333333333333"
        try await server.seed([StatusPatcherTests.seedPod("web", uid: uid)])
        let dir = makeTempDir()
        try "token-1".write(toFile: dir + "/t", atomically: true, encoding: .utf8)
        let client = KubeClient(connection: server.connection(tokenFile: dir + "/t"), qps: 100, burst: 100)
        let source = FakeStatusSource()
        let patcher = StatusPatcher(client: client, source: source)
        let fail = ContainerState.waiting("CreateFailed", "no image")
        for st in [fail, .waiting("ContainerCreating"), fail, .running(since: nil)] {
            source.set(uid, StatusPatcherTests.status("web", uid, st))
            await patcher.flush()
        }
        let made = Set(client.counters.byCall.keys)
        #expect(made == Set(StatusPatcher.apiCalls.map(\.description)))
    }

    @Test func inClusterConfigIsAccepted() throws {
        let c = try ConfigLoader.load(path: Self.root + "/kustomizations/base/InterLinkConfig.yaml", environment: [:])
        #expect(c.dataRootFolder == "/var/lib/interlink")
        #expect(c.vkTokenFile == "/var/run/interlink/token")
        #expect(c.interlinkAddress == "http://0.0.0.0" && c.interlinkPort == 3000)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl") || FileManager.default.isExecutableFile(atPath: "/usr/local/bin/kubectl"),
                   "needs kubectl (scripts/install-deps.sh test)"))
    func everyRenderedObjectValidatesStrictly() async throws {
        let r = try await ProcessRunner.run(Self.root + "/scripts/validate-manifests.sh", [], timeout: 300)
        #expect(r.succeeded, "\(r.stdoutText)\n\(r.stderrText)")
        #expect(r.stdoutText.contains("kustomizations: 8 objects valid"))
        #expect(r.stdoutText.contains("kustomizations/overlays/upstream-vk: 13 objects valid"))
    }
}
