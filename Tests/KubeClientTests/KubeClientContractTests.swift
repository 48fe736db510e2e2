import Foundation
import KubeClient
import Testing

/// `KubeClient` against the contract API server over real HTTPS: what the
/// API server sees and what a caller gets back, for each behaviour the
/// Kubernetes-side issue lists (limits, retries, errors, watch, auth).
@Suite struct KubeClientContractTests {
    let dir = makeTempDir()

    func client(_ server: ContractServer, token: String = "token-1", retry: RetryPolicy = RetryPolicy(baseDelay: .milliseconds(20))) throws -> KubeClient {
        let file = dir + "/client-token"
        try token.write(toFile: file, atomically: true, encoding: .utf8)
        return KubeClient(connection: server.connection(tokenFile: file), qps: 100, burst: 100, retry: retry)
    }

    static func pod(_ name: String, ns: String = "default", uid: String? = nil) -> [String: Any] {
        var md: [String: Any] = ["name": name, "namespace": ns]
        if let uid { md["uid"] = uid }
        return ["metadata": md, "spec": ["nodeName": "vk", "containers": [["name": "c", "image": "busybox"]]]]
    }

    struct PodLite: Decodable, Sendable {
        struct Meta: Decodable, Sendable { var name: String; var uid: String; var resourceVersion: String? ; var labels: [String: String]? }
        var metadata: Meta
        var status: [String: String]?
    }

    let podPath = KubePath.core("pods", namespace: "default", name: "a")

    @Test func callsShareOneConnectionAndCarryTheToken() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        try await server.seed([Self.pod("a")])
        let kube = try client(server)
        for _ in 0..<5 { _ = try await kube.get(PodLite.self, podPath, call: "get pods") }
        let recorded = try await server.requests()
        #expect(recorded.count == 5)
        #expect(Set(recorded.map(\.conn)).count == 1, "every call should ride on one kept connection")
        #expect(recorded.allSatisfy { $0.auth == "Bearer token-1" })
        #expect(kube.counters.connectionsOpened == 1)
    }

    @Test func clientCertificateAuthenticates() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        try await server.seed([Self.pod("a")])
        let pki = server.pki
        let kube = KubeClient(connection: KubeConnection(server: server.url, caData: try pki.read(pki.caFile),
                                                         clientCertData: try pki.read(pki.clientCert),
                                                         clientKeyData: try pki.read(pki.clientKey)))
        let pod = try await kube.get(PodLite.self, podPath, call: "get pods")
        #expect(pod.metadata.name == "a")
        #expect(try await server.requests().last?.clientCN == "interlink-test-client")

        let anonymous = KubeClient(connection: KubeConnection(server: server.url, caFile: pki.caFile))
        await #expect { _ = try await anonymous.get(PodLite.self, podPath, call: "get pods") } throws: { e in
            (e as? KubeError)?.httpStatus == 401
        }
    }

    @Test func tooManyRequestsWaitsForRetryAfter() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        try await server.seed([Self.pod("a")])
        try await server.inject([["method": "GET", "path": "/api/v1/namespaces/default/pods/a", "status": 429, "retryAfter": 1, "reason": "TooManyRequests"]])
        let kube = try client(server)
        _ = try await kube.get(PodLite.self, podPath, call: "get pods")
        let rec = try await server.requests()
        #expect(rec.map(\.code) == [429, 200])
        let times = try JSONSerialization.jsonObject(with: try await server.call("GET", "/_control/requests")) as! [[String: Any]]
        let gap = (times[1]["time"] as! Double) - (times[0]["time"] as! Double)
        #expect(gap >= 0.9, "the retry came \(gap) s after the 429, before its Retry-After: 1")
    }

    @Test func serverErrorsAreRetriedThenReportedWithTheServersMessage() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        try await server.seed([Self.pod("a")])
        let path = "/api/v1/namespaces/default/pods/a"
        try await server.inject([["path": path, "status": 500, "count": 2]])
        let kube = try client(server, retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(20)))
        _ = try await kube.get(PodLite.self, podPath, call: "get pods")
        #expect(try await server.requests().map(\.code) == [500, 500, 200])

        try await server.inject([["path": path, "status": 503, "count": 5, "message": "etcd is sulking"]])
        do {
            _ = try await kube.get(PodLite.self, podPath, call: "get pods")
            Issue.record("a call failing on every attempt must throw")
        } catch {
            #expect(error.httpStatus == 503)
            #expect(error.description.contains("etcd is sulking"))
        }
        #expect(try await server.requests().count == 6, "3 attempts in all, not more")
    }

    @Test func notFoundIsTypedAndNotRetried() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        let kube = try client(server)
        do {
            _ = try await kube.get(PodLite.self, KubePath.core("pods", namespace: "default", name: "nope"), call: "get pods")
            Issue.record("expected 404")
        } catch {
            #expect(error.isNotFound)
            #expect(error.description.contains("pods \"nope\" not found"))
        }
        #expect(try await server.requests().count == 1)
    }

    @Test func droppedConnectionIsRetriedOnAFreshOne() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        try await server.seed([Self.pod("a")])
        try await server.inject([["path": "/api/v1/namespaces/default/pods/a", "drop": true]])
        let kube = try client(server)
        let pod = try await kube.get(PodLite.self, podPath, call: "get pods")
        #expect(pod.metadata.name == "a")
        let rec = try await server.requests()
        #expect(rec.first?.status == .dropped)
        #expect(rec.last?.code == 200)
    }

    @Test func rotatedTokenFileIsPickedUp() async throws {
        let server = try await ContractServer.start(token: "token-1"); defer { server.stop() }
        try await server.seed([Self.pod("a")])
        let kube = try client(server, token: "token-1")
        _ = try await kube.get(PodLite.self, podPath, call: "get pods")
        try server.rotateToken("token-2")
        try "token-2\n".write(toFile: dir + "/client-token", atomically: true, encoding: .utf8)
        _ = try await kube.get(PodLite.self, podPath, call: "get pods")
        let rec = try await server.requests()
        #expect(rec.map(\.auth) == ["Bearer token-1", "Bearer token-2"])
        #expect(rec.allSatisfy { $0.code == 200 }, "the new token must be read before the call, not after a 401")
    }

    @Test func watchThatAnswers410SignalsRelist() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        try await server.seed([Self.pod("a")])
        let kube = try client(server)
        let list = try await kube.list(PodLite.self, KubePath.core("pods", namespace: nil), call: "list pods")
        let rv = try #require(list.metadata.resourceVersion)
        try await server.seed([Self.pod("b")])
        try await server.compact()  // the history up to b is gone: rv is too old now
        do {
            for try await _ in try await kube.watch(PodLite.self, KubePath.core("pods", namespace: nil), resourceVersion: rv, call: "watch pods") {}
            Issue.record("a watch from a compacted version must end with .gone")
        } catch let e as KubeError {
            #expect(e.isGone)
        }
        // The same signal when the 410 arrives as an ERROR event inside the stream.
        try await server.inject([["watchError": true]])
        let fresh = try await kube.list(PodLite.self, KubePath.core("pods", namespace: nil), call: "list pods")
        do {
            for try await _ in try await kube.watch(PodLite.self, KubePath.core("pods", namespace: nil), resourceVersion: fresh.metadata.resourceVersion, call: "watch pods") {}
            Issue.record("an ERROR 410 event must end the watch with .gone")
        } catch let e as KubeError {
            #expect(e.isGone)
        }
    }

    @Test func watchStreamsEventsAndBookmarks() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        try await server.seed([Self.pod("a")])
        let kube = try client(server)
        let list = try await kube.list(PodLite.self, KubePath.core("pods", namespace: nil), call: "list pods")
        try await server.seed([Self.pod("b")])
        var added: [String] = [], bookmarks = 0
        for try await event in try await kube.watch(PodLite.self, KubePath.core("pods", namespace: nil),
                                                    resourceVersion: list.metadata.resourceVersion, timeoutSeconds: 1, call: "watch pods") {
            switch event {
            case .added(let p): added.append(p.metadata.name)
            case .bookmark: bookmarks += 1
            default: break
            }
        }
        #expect(added == ["b"])
        #expect(bookmarks == 1)
        let watchReq = try #require(try await server.requests().last)
        #expect(watchReq.query["allowWatchBookmarks"] == "true")
        #expect(watchReq.query["resourceVersion"] == list.metadata.resourceVersion)
    }

    @Test func listFollowsContinueTokens() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        try await server.seed((1...5).map { Self.pod("p\($0)") })
        let kube = try client(server)
        let all = try await kube.listAll(PodLite.self, KubePath.core("pods", namespace: "default"), pageSize: 2, call: "list pods")
        #expect(all.items.map(\.metadata.name) == ["p1", "p2", "p3", "p4", "p5"])
        let rec = try await server.requests()
        #expect(rec.map { $0.query["limit"] } == ["2", "2", "2"])
        #expect(rec.map { $0.query["continue"] } == [nil, "2", "4"])
    }

    @Test func createPatchAndDeleteWithUIDPrecondition() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        let kube = try client(server)
        let body = try JSONSerialization.data(withJSONObject: Self.pod("a"))
        let created = try await kube.create(PodLite.self, KubePath.core("pods", namespace: "default"), body: body, call: "create pods")
        let patched = try await kube.patch(PodLite.self, podPath, .merge, body: Data(#"{"metadata":{"labels":{"x":"1"}}}"#.utf8), call: "patch pods")
        #expect(patched.metadata.labels == ["x": "1"])
        _ = try await kube.patch(PodLite.self, KubePath.core("pods", namespace: "default", name: "a", subresource: "status"),
                                 .strategicMerge, body: Data(#"{"status":{"phase":"Running"}}"#.utf8), call: "patch pods/status")
        do {
            try await kube.delete(podPath, preconditions: Preconditions(uid: "00000000-0000-0000-0000-000000000000"), call: "delete pods")
            Issue.record("a delete with another pod's UID must be refused")
        } catch { #expect(error.isConflict) }
        try await kube.delete(podPath, preconditions: Preconditions(uid: created.metadata.uid), gracePeriodSeconds: 0, call: "delete pods")
        #expect(try await server.pods().isEmpty)
        let rec = try await server.requests()
        #expect(rec.map(\.contentType).contains("application/strategic-merge-patch+json"))
        #expect(rec.last?.json?["gracePeriodSeconds"] as? Int == 0)
    }

    @Test func namesCannotAddPathSegments() {
        #expect(KubePath.core("pods", namespace: "default", name: "../../secrets/x") == "/api/v1/namespaces/default/pods/..%2F..%2Fsecrets%2Fx")
        #expect(KubePath.core("pods", namespace: "..", name: "a") == "/api/v1/namespaces/%2E%2E/pods/a")
    }
}
