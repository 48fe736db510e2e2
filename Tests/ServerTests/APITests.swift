import Foundation
import Model
import Reconciler
@testable import Server
import Testing

@Suite("InterLink API handlers")
struct APITests {
    let uid = "0f8c2a5e-3b1d-4c7a-9e2f-1a2b3c4d5e6f"

    func api(core: FakeCore = FakeCore(), tokenFile: String? = nil) -> InterLinkAPI {
        InterLinkAPI(core: core, auth: tokenFile.map(TokenAuthenticator.init(path:)))
    }

    @Test func createFromTheVKFixtureRecordsThePodWithItsConfigMaps() async throws {
        let core = FakeCore()
        let r = await api(core: core).handle(vkRequest("POST", "/create", body: try Fixture.data("vk-create.json"), op: "CreatePod"))
        #expect(r.status == 200)
        let answer = try JSONDecoder().decode(CreateStruct.self, from: Data(bodyText(r).utf8))
        #expect(answer.PodUID == uid)
        let created = try #require(core.calls.withLock { $0.created.first })
        #expect(created.pod.name == "test-pod-7c9d")
        #expect(created.configmaps?.first?.data?["app.conf"] == "level=debug\n")
        #expect(created.projectedvolumesmaps?.first?.metadata.name == "kube-api-access-x7k2p")
        #expect(created.pod.containers.first?.env?.first?.value == "hi \"there\"")
    }

    @Test func statusIsAGETWithAJSONArrayAndAnswersWireFieldNames() async throws {
        let core = FakeCore(knownUIDs: [uid])
        let r = await api(core: core).handle(vkRequest("GET", "/status", body: try Fixture.data("vk-status.json"), op: "GetPodStatus"))
        #expect(r.status == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(bodyText(r).utf8)) as? [[String: Any]])
        #expect(json.count == 1)
        #expect(Set(json[0].keys).isSuperset(of: ["name", "UID", "namespace", "JID", "containers", "initContainers"]))
        #expect(json[0]["UID"] as? String == uid)
        let containers = try #require(json[0]["containers"] as? [[String: Any]])
        let state = try #require(containers.first?["state"] as? [String: Any])
        #expect(state["running"] != nil)
        #expect(containers.first?["restartCount"] as? Int == 0)
    }

    @Test func statusOfAPodNeverCreatedHasEmptyContainers() async throws {
        let r = await api().handle(vkRequest("GET", "/status", body: try Fixture.data("vk-status.json")))
        #expect(r.status == 200)
        let statuses = try JSONDecoder().decode([PodStatus].self, from: Data(bodyText(r).utf8))
        #expect(statuses.count == 1)
        #expect(statuses[0].containers.isEmpty)
        #expect(statuses[0].UID == uid)
    }

    @Test func statusAcceptsASinglePodObjectAndPOST() async throws {
        let r = await api().handle(vkRequest("POST", "/status", body: try Fixture.data("vk-delete.json")))
        #expect(r.status == 200)
        #expect(try JSONDecoder().decode([PodStatus].self, from: Data(bodyText(r).utf8)).count == 1)
    }

    @Test func deleteIsADELETEWithAPodBody() async throws {
        let core = FakeCore()
        let r = await api(core: core).handle(vkRequest("DELETE", "/delete", body: try Fixture.data("vk-delete.json"), op: "DeletePod"))
        #expect(r.status == 200)
        #expect(core.calls.withLock { $0.deleted.map(\.uid) } == [uid])
    }

    @Test func getLogsWithTheVKsZeroSinceTimeAnswersPlainText() async throws {
        let core = FakeCore(knownUIDs: [uid])
        let r = await api(core: core).handle(vkRequest("GET", "/getLogs", body: try Fixture.data("vk-getlogs.json")))
        #expect(r.status == 200)
        #expect(try await collectedBody(r) == "line 1\nline 2\n")
        #expect(r.headers["Content-Type"]?.hasPrefix("text/plain") == true)
        #expect(core.calls.withLock { $0.logs.first?.Opts.SinceTime } == nil)
        #expect(core.calls.withLock { $0.logs.first?.Opts.Tail } == 10)
    }

    @Test func getLogsOfAnUnknownPodOrContainerIs404() async throws {
        let unknownPod = LogStruct(Namespace: "default", PodUID: "11111111-2222-3333-4444-555555555555", PodName: "x", ContainerName: "main")
        let r1 = await api(core: FakeCore(knownUIDs: [uid])).handle(vkRequest("GET", "/getLogs", body: try JSONEncoder().encode(unknownPod)))
        #expect(r1.status == 404)
        let unknownContainer = LogStruct(Namespace: "default", PodUID: uid, PodName: "x", ContainerName: "nope")
        let r2 = await api(core: FakeCore(knownUIDs: [uid])).handle(vkRequest("GET", "/getLogs", body: try JSONEncoder().encode(unknownContainer)))
        #expect(r2.status == 404)
        #expect(errorMessage(r2)?.contains("nope") == true)
    }

    @Test(arguments: [
        (LogOpts(Tail: 5, Bytes: 10), "Tail and Bytes"),
        (LogOpts(SinceSeconds: 5, SinceTime: "2026-11-29T10:00:00Z"), "SinceSeconds and SinceTime"),
        (LogOpts(SinceTime: "yesterday"), "RFC 3339"),
        (LogOpts(Tail: -1), "negative"),
    ])
    func invalidLogOptionCombinationsAre400(opts: LogOpts, mentions: String) async throws {
        let req = LogStruct(Namespace: "default", PodUID: uid, PodName: "p", ContainerName: "main", Opts: opts)
        let r = await api(core: FakeCore(knownUIDs: [uid])).handle(vkRequest("GET", "/getLogs", body: try JSONEncoder().encode(req)))
        #expect(r.status == 400)
        #expect(errorMessage(r)?.contains(mentions) == true)
    }

    @Test func getLogsRejectsBadNamespaceAndNonUUIDPodUID() async throws {
        for (ns, podUID) in [("Bad_NS", uid), ("default", "not-a-uuid")] {
            let req = LogStruct(Namespace: ns, PodUID: podUID, PodName: "p", ContainerName: "main")
            let r = await api().handle(vkRequest("GET", "/getLogs", body: try JSONEncoder().encode(req)))
            #expect(r.status == 400)
        }
    }

    @Test(arguments: ["{not json", "[]", "", "{\"pod\": {\"metadata\": {\"name\": \"a\"}}}", "{\"pod\": 5}"])
    func malformedOrIncompleteCreateBodiesAre400(body: String) async throws {
        let core = FakeCore()
        let r = await api(core: core).handle(vkRequest("POST", "/create", body: Data(body.utf8)))
        #expect(r.status == 400)
        #expect(errorMessage(r) != nil)
        #expect(core.calls.withLock { $0.created.isEmpty })
    }

    @Test func createOfAPodWithoutUIDNamesTheMissingField() async throws {
        let pod = Pod(metadata: ObjectMeta(name: "a", namespace: "default"), spec: PodSpec(containers: [Container(name: "c", image: "i")]))
        let r = await api().handle(vkRequest("POST", "/create", body: try JSONEncoder().encode(PodCreateRequests(pod: pod))))
        #expect(r.status == 400)
        #expect(errorMessage(r)?.contains("uid") == true)
    }

    @Test func aMethodARouteCannotTakeIs405WithAllow() async throws {
        let r = await api().handle(vkRequest("GET", "/create", body: Data()))
        #expect(r.status == 405)
        #expect(r.headers["Allow"]?.contains("POST") == true)
        #expect(errorMessage(r) != nil)
    }

    @Test func unknownRouteIs404JSON() async throws {
        let r = await api().handle(vkRequest("GET", "/nope", body: Data()))
        #expect(r.status == 404)
        #expect(errorMessage(r) != nil)
    }

    @Test func aBackendThatDoesNotAnswerMakesPing503() async throws {
        let r = await api(core: FakeCore(backendDown: true)).handle(vkRequest("POST", "/pinglink", body: Data()))
        #expect(r.status == 503)
        #expect(errorMessage(r)?.contains("does not answer") == true)
    }

    @Test func pingAnswersCapacityJSON() async throws {
        let r = await api().handle(vkRequest("POST", "/pinglink", body: Data()))
        #expect(r.status == 200)
        let ping = try JSONDecoder().decode(PingResponse.self, from: Data(bodyText(r).utf8))
        #expect(ping.resources?.cpu == "8")
    }
}

@Suite("API bearer-token auth")
struct APIAuthTests {
    func tokenFile(_ content: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("il-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("token").path
        try content.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func missingOrWrongTokenIs401AndRightTokenPasses() async throws {
        let api = InterLinkAPI(core: FakeCore(), auth: TokenAuthenticator(path: try tokenFile("s3cret\n")))
        let body = try Fixture.data("vk-status.json")
        #expect(await api.handle(vkRequest("GET", "/status", body: body, token: nil)).status == 401)
        #expect(await api.handle(vkRequest("GET", "/status", body: body, token: "wrong")).status == 401)
        #expect(await api.handle(vkRequest("GET", "/status", body: body, token: "s3cre")).status == 401)
        #expect(await api.handle(vkRequest("GET", "/status", body: body, token: "s3cret")).status == 200)
    }

    @Test func healthAndReadinessNeedNoToken() async throws {
        let api = InterLinkAPI(core: FakeCore(), auth: TokenAuthenticator(path: try tokenFile("s3cret")))
        #expect(await api.handle(HTTPRequest(method: "GET", target: "/healthz")).status == 200)
        #expect(await api.handle(HTTPRequest(method: "GET", target: "/readyz")).status == 200)
        #expect(await api.handle(HTTPRequest(method: "GET", target: "/metrics")).status == 401)
    }

    @Test func rotatedTokenIsPickedUpWithoutRestart() async throws {
        let path = try tokenFile("old-token")
        let api = InterLinkAPI(core: FakeCore(), auth: TokenAuthenticator(path: path))
        let body = try Fixture.data("vk-status.json")
        #expect(await api.handle(vkRequest("GET", "/status", body: body, token: "old-token")).status == 200)
        try "new-token-longer\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(await api.handle(vkRequest("GET", "/status", body: body, token: "old-token")).status == 401)
        #expect(await api.handle(vkRequest("GET", "/status", body: body, token: "new-token-longer")).status == 200)
    }

    @Test func anUnreadableTokenFileRefusesEverything() async throws {
        let api = InterLinkAPI(core: FakeCore(), auth: TokenAuthenticator(path: "/nonexistent/token"))
        #expect(await api.handle(vkRequest("GET", "/status", body: Data("[]".utf8), token: "")).status == 401)
    }

    @Test func constantTimeCompare() {
        #expect(TokenAuthenticator.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        #expect(!TokenAuthenticator.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        #expect(!TokenAuthenticator.constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!TokenAuthenticator.constantTimeEqual([], Array("a".utf8)))
    }
}
