import Foundation
import Model
import Providers
import Reconciler
@testable import Server
import Testing

/// The sidecar's plugin API fed exactly what the upstream interLink server
/// sends a plugin (pkg/interlink/api/*.go): POST /create with one
/// RetrievedPodData, GET /status with a `[Pod]` body (`[]` is its ping), GET
/// /getLogs with a LogStruct body, POST /delete with the Pod, the
/// `InterLink-Http-Session` header, no token; and the same bodies with the
/// other key spellings Go's case-insensitive decoder accepts. Answers are
/// checked field by field against a real reconciler over the mock provider.
@Suite("Sidecar plugin API wire fidelity")
struct SidecarWireTests {
    static let uid = "7d3c1f0a-2b4e-4f6a-8c9d-0e1f2a3b4c5d"

    /// A request as upstream's `ReqWithError` sends it: JSON content type and the session header.
    func upstream(_ method: String, _ path: String, _ body: Data, session: String = "CreatePod#7") -> HTTPRequest {
        HTTPRequest(method: method, target: path,
                    headers: HTTPHeaders([("Content-Type", "application/json"), ("InterLink-Http-Session", session)]),
                    body: body, remote: "test")
    }

    func withSidecar(_ body: (SidecarAPI, Reconciler, MockProvider) async throws -> Void) async throws {
        let dir = TestHTTPServer.tempDir()
        let mock = MockProvider(runSeconds: 30, startDelaySeconds: 0)
        let rec = try await Reconciler(provider: mock, settings: ReconcilerSettings(
            interval: 3600, dataRoot: dir, backoffBase: 0, unseenGraceSeconds: 3600))
        try await body(SidecarAPI(core: rec, auth: nil), rec, mock)
        await rec.stop()
    }

    func json(_ r: HTTPResponse) throws -> Any { try JSONSerialization.jsonObject(with: Data(bodyText(r).utf8)) }

    @Test func createAsUpstreamSendsItBecomesTheSameCreateRequestWithEveryVolumeObject() async throws {
        let core = FakeCore()
        let r = await SidecarAPI(core: core, auth: nil).handle(upstream("POST", "/create", try Fixture.data("plugin-create.json")))
        #expect(r.status == 200, "\(bodyText(r))")
        let answer = try #require(try json(r) as? [String: Any])
        #expect(answer["PodUID"] as? String == Self.uid)
        #expect(answer["PodJID"] is String)
        let got = try #require(core.calls.withLock { $0.created.first })
        #expect(got.pod.name == "wire-pod-1")
        #expect(got.pod.initContainers.map(\.name) == ["setup"])
        #expect(got.configmaps?.map { $0.metadata.name } == ["app-config"])
        #expect(got.configmaps?.first?.data?["app.conf"] == "level=debug\n")
        #expect(got.secrets?.first?.data?["password"] == "czNjcjN0")
        #expect(got.projectedvolumesmaps?.first?.metadata.name == "kube-api-access-x7k2p")
        #expect(got.projectedvolumesmaps?.first?.data?["token"] == "eyJhbGciOiJSUzI1NiJ9.e30.sig")
    }

    @Test func createClampsThePodsUnboundedNumbersAsTheVKsAPIDoes() async throws {
        // The plugin API is a front door too: a grace period of 3,000,000 s must not
        // reach the providers (it aborted the Docker provider's delete once).
        var body = try #require(try JSONSerialization.jsonObject(with: Fixture.data("plugin-create.json")) as? [String: Any])
        var pod = try #require(body["pod"] as? [String: Any])
        var spec = try #require(pod["spec"] as? [String: Any])
        spec["terminationGracePeriodSeconds"] = 3_000_000
        pod["spec"] = spec; body["pod"] = pod
        let core = FakeCore()
        let r = await SidecarAPI(core: core, auth: nil).handle(upstream("POST", "/create", try JSONSerialization.data(withJSONObject: body)))
        #expect(r.status == 200, "\(bodyText(r))")
        let got = try #require(core.calls.withLock { $0.created.first })
        #expect(got.pod.spec?.terminationGracePeriodSeconds == PodBounds.maxGracePeriodSeconds)
    }

    @Test func createRefusesABadQuantityAsTheVKsAPIDoes() async throws {
        var body = try #require(try JSONSerialization.jsonObject(with: Fixture.data("plugin-create.json")) as? [String: Any])
        var pod = try #require(body["pod"] as? [String: Any])
        var spec = try #require(pod["spec"] as? [String: Any])
        var containers = try #require(spec["containers"] as? [[String: Any]])
        containers[0]["resources"] = ["limits": ["memory": "12 parsecs"]]
        spec["containers"] = containers; pod["spec"] = spec; body["pod"] = pod
        let core = FakeCore()
        let r = await SidecarAPI(core: core, auth: nil).handle(upstream("POST", "/create", try JSONSerialization.data(withJSONObject: body)))
        #expect(r.status == 400)
        #expect(bodyText(r).contains("memory"), "\(bodyText(r))")
        #expect(core.calls.withLock { $0.created.isEmpty })
    }

    @Test func createWithKeysSpeltAsGoAlsoAcceptsGivesTheSameRequest() async throws {
        let core = FakeCore()
        let api = SidecarAPI(core: core, auth: nil)
        let a = await api.handle(upstream("POST", "/create", try Fixture.data("plugin-create.json")))
        let b = await api.handle(upstream("POST", "/create", try Fixture.data("plugin-create-folded-keys.json")))
        #expect(a.status == 200 && b.status == 200, "\(bodyText(b))")
        let created = core.calls.withLock { $0.created }
        try #require(created.count == 2)
        #expect(created[1].pod.uid == "8e4d2a1b-3c5f-4a7b-9d0e-1f2a3b4c5d6e")
        #expect(created[1].configmaps == created[0].configmaps)
        #expect(created[1].secrets == created[0].secrets)
        #expect(created[1].projectedvolumesmaps == created[0].projectedvolumesmaps)
        #expect(!(created[1].configmaps ?? []).isEmpty)
    }

    @Test func anArrayOfRetrievedPodDataAsEarlyUpstreamSentIsAnsweredWithAnArray() async throws {
        let core = FakeCore()
        var body = Data("[".utf8); body.append(try Fixture.data("plugin-create.json")); body.append(Data("]".utf8))
        let r = await SidecarAPI(core: core, auth: nil).handle(upstream("POST", "/create", body))
        #expect(r.status == 200)
        let answer = try #require(try json(r) as? [[String: Any]])
        #expect(answer.first?["PodUID"] as? String == Self.uid)
    }

    @Test func statusPingLogsAndDeleteAnswerWhatTheBackendDoes() async throws {
        try await withSidecar { api, rec, mock in
            let c = await api.handle(upstream("POST", "/create", try Fixture.data("plugin-create.json")))
            #expect(c.status == 200)
            await rec.tickOnce(); await rec.tickOnce() // create, then observe it running

            // GET /status with the [Pod] body.
            let s = await api.handle(upstream("GET", "/status", try Fixture.data("plugin-status.json"), session: "GetStatus#8"))
            #expect(s.status == 200)
            let list = try #require(try json(s) as? [[String: Any]])
            try #require(list.count == 1)
            let st = list[0]
            #expect(st["name"] as? String == "wire-pod-1")
            #expect(st["UID"] as? String == Self.uid)
            #expect(st["namespace"] as? String == "default")
            let observed = try await mock.observe()
            #expect(st["JID"] as? String == observed.first?.jobID)
            #expect((st["JID"] as? String)?.isEmpty == false)
            let containers = try #require(st["containers"] as? [[String: Any]])
            #expect(containers.map { $0["name"] as? String } == ["main"])
            #expect(containers.first?["image"] as? String == "busybox:latest")
            // The init container runs first (30 s): main waits, as Kubernetes shows it.
            let state = try #require(containers.first?["state"] as? [String: Any])
            #expect((state["waiting"] as? [String: Any])?["reason"] as? String == observed.first?.containers.first?.state.waiting?.reason)
            #expect(observed.first?.containers.first?.state.waiting != nil)
            #expect(containers.first?["restartCount"] as? Int == 0)
            let inits = try #require(st["initContainers"] as? [[String: Any]])
            #expect(inits.map { $0["name"] as? String } == ["setup"])
            let initState = try #require(inits.first?["state"] as? [String: Any])
            #expect((initState["running"] as? [String: Any])?["startedAt"] is String)

            // GET /status with [] is upstream's ping: answered with the backend's capacity.
            let p = await api.handle(upstream("GET", "/status", Data("[]".utf8), session: "Ping#9"))
            #expect(p.status == 200)
            let ping = try WireJSON.decode(PingResponse.self, from: Data(bodyText(p).utf8))
            #expect(ping.resources == (try await mock.ping())?.resources)
            #expect(ping.resources != nil)

            // GET /getLogs with the LogStruct body, exact and case-folded keys.
            let ref = try #require(observed.first).ref
            for (fixture, tail) in [("plugin-getlogs.json", 0), ("plugin-getlogs-folded-keys.json", 1)] {
                let l = await api.handle(upstream("GET", "/getLogs", try Fixture.data(fixture), session: "GetLogs#10"))
                #expect(l.status == 200)
                var expected = Data()
                for try await chunk in try await mock.logs(ref, container: "main", options: LogOpts(Tail: tail)) { expected.append(chunk) }
                #expect(try await collectedBody(l) == String(decoding: expected, as: UTF8.self), "\(fixture)")
            }

            // POST /delete with the Pod: the job is stopped and the pod forgotten.
            let d = await api.handle(upstream("POST", "/delete", try Fixture.data("plugin-delete.json"), session: "DeletePod#11"))
            #expect(d.status == 200)
            await rec.tickOnce(); await rec.tickOnce()
            #expect(try await mock.observe().filter { $0.state != .finished }.isEmpty)
            let after = await api.handle(upstream("GET", "/status", try Fixture.data("plugin-status.json")))
            let gone = try #require(try json(after) as? [[String: Any]])
            #expect((gone.first?["containers"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func aPingWhileTheBackendIsDownIs503WithAJSONError() async throws {
        let r = await SidecarAPI(core: FakeCore(backendDown: true), auth: nil).handle(upstream("GET", "/status", Data("[]".utf8)))
        #expect(r.status == 503)
        #expect(errorMessage(r)?.contains("does not answer") == true)
    }

    @Test(arguments: [
        ("POST", "/create", "{not json", 400),
        ("POST", "/create", "{\"container\": []}", 400),
        ("POST", "/create", "{\"pod\": {\"metadata\": {\"name\": \"x\", \"namespace\": \"Bad_NS\", \"uid\": \"7d3c1f0a-2b4e-4f6a-8c9d-0e1f2a3b4c5d\"}, \"spec\": {\"containers\": [{\"name\": \"c\", \"image\": \"busybox\"}]}}}", 400),
        ("GET", "/getLogs", "{\"namespace\": \"default\", \"poduid\": \"not-a-uuid\", \"containerName\": \"main\"}", 400),
        ("GET", "/getLogs", "{\"Namespace\": \"default\", \"PodUID\": \"7d3c1f0a-2b4e-4f6a-8c9d-0e1f2a3b4c5d\", \"ContainerName\": \"main\", \"Opts\": {\"tail\": 1, \"bytes\": 5}}", 400),
        ("PATCH", "/status", "[]", 405),
        ("GET", "/pinglink", "", 404),
    ])
    func badRequestsGetTheirStatusAndAJSONError(method: String, path: String, body: String, status: Int) async throws {
        let r = await SidecarAPI(core: FakeCore(), auth: nil).handle(upstream(method, path, Data(body.utf8)))
        #expect(r.status == status, "\(bodyText(r))")
        #expect(errorMessage(r)?.isEmpty == false)
    }

    @Test func withATokenFileEveryPluginCallNeedsIt() async throws {
        let dir = TestHTTPServer.tempDir()
        try "plugin-token\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        let api = SidecarAPI(core: FakeCore(), auth: TokenAuthenticator(path: dir + "/token"))
        let none = await api.handle(upstream("GET", "/status", Data("[]".utf8)))
        #expect(none.status == 401)
        #expect(errorMessage(none) != nil)
        var ok = upstream("GET", "/status", Data("[]".utf8))
        ok.headers.add("Authorization", "Bearer plugin-token")
        #expect(await api.handle(ok).status == 200)
        #expect(await api.handle(upstream("GET", "/healthz", Data())).status == 200)
    }

    @Test func overAUnixSocketAGETWithABodyIsServed() async throws {
        let dir = TestHTTPServer.tempDir()
        let api = SidecarAPI(core: FakeCore(knownUIDs: [Self.uid]), auth: nil)
        try await TestHTTPServer.with(listen: .unix(path: dir + "/plugin.sock"), handler: api.handler) { _, _ in
            let client = try await RawHTTPClient.connect(unixPath: dir + "/plugin.sock")
            let body = String(decoding: try Fixture.data("plugin-status.json"), as: UTF8.self)
            try await client.send(rawRequest("GET", "/status", body: body,
                                              headers: ["Content-Type: application/json", "InterLink-Http-Session: GetStatus#1"]))
            let r = try await client.readResponse()
            #expect(r.status == 200)
            let list = try WireJSON.decode([PodStatus].self, from: Data(r.body))
            #expect(list.map(\.UID) == [Self.uid])
            #expect(list.first?.containers.first?.state.running != nil)
            await client.close()
        }
    }
}
