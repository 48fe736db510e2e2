import Foundation
import Model
import Providers
import Testing

/// The real `interlink sidecar --provider mock` binary, on TCP, fed the
/// requests the upstream interLink server sends its plugin (fixtures in
/// Tests/ServerTests/Fixtures/plugin-*.json, see PLUGIN-FIXTURES.md), with
/// curl as the client: answers checked field by field.
@Suite("Sidecar binary speaks the upstream plugin API", .serialized,
       .enabled(if: TestEnv.hasBinary, "needs INTERLINK_TEST_BINARY"))
struct SidecarWireEndToEndTests {
    static func fixture(_ name: String) throws -> Data {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ServerTests/Fixtures/\(name)")
        return try Data(contentsOf: url)
    }

    static let uid = "7d3c1f0a-2b4e-4f6a-8c9d-0e1f2a3b4c5d"
    static let uid2 = "8e4d2a1b-3c5f-4a7b-9d0e-1f2a3b4c5d6e"

    @Test func upstreamsCallsAreAnsweredFieldByField() async throws {
        let sc = try SidecarProcess(kind: "mock", extraConfig: "MockRunSeconds: 30", tcp: true)
        try await sc.start()
        defer { sc.cleanup() }
        do {
            // POST /create with RetrievedPodData, exact and Go-folded key spellings.
            for (fixture, uid) in [("plugin-create.json", Self.uid), ("plugin-create-folded-keys.json", Self.uid2)] {
                let a = try await sc.upstreamRequest("POST", "/create", body: try Self.fixture(fixture), session: "CreatePod#1")
                #expect(a.status == 200, "\(fixture): \(a.text)")
                let obj = try #require(try JSONSerialization.jsonObject(with: a.body) as? [String: Any])
                #expect(Set(obj.keys) == ["PodUID", "PodJID"])
                #expect(obj["PodUID"] as? String == uid)
            }
            // GET /status with the [Pod] body, until the mock runs it.
            var status: [String: Any] = [:]
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                let a = try await sc.upstreamRequest("GET", "/status", body: try Self.fixture("plugin-status.json"), session: "GetStatus#2")
                #expect(a.status == 200)
                let list = try #require(try JSONSerialization.jsonObject(with: a.body) as? [[String: Any]])
                try #require(list.count == 1)
                status = list[0]
                if let inits = status["initContainers"] as? [[String: Any]], (inits.first?["state"] as? [String: Any])?["running"] != nil { break }
                try await Task.sleep(nanoseconds: 200_000_000)
            }
            #expect(Set(status.keys) == ["name", "UID", "namespace", "JID", "containers", "initContainers"])
            #expect(status["name"] as? String == "wire-pod-1" && status["UID"] as? String == Self.uid && status["namespace"] as? String == "default")
            #expect((status["JID"] as? String)?.isEmpty == false)
            let main = try #require((status["containers"] as? [[String: Any]])?.first)
            #expect(main["name"] as? String == "main" && main["image"] as? String == "busybox:latest")
            #expect(((main["state"] as? [String: Any])?["waiting"] as? [String: Any])?["reason"] as? String == "PodInitializing")
            let setup = try #require((status["initContainers"] as? [[String: Any]])?.first)
            #expect(setup["name"] as? String == "setup")
            #expect(((setup["state"] as? [String: Any])?["running"] as? [String: Any])?["startedAt"] is String)

            // GET /status with [] is the ping: capacity.
            let ping = try await sc.upstreamRequest("GET", "/status", body: Data("[]".utf8), session: "Ping#3")
            #expect(ping.status == 200)
            let p = try JSONDecoder().decode(PingResponse.self, from: ping.body)
            #expect(p.status == "ok" && p.resources?.pods.isEmpty == false)

            // GET /getLogs with a LogStruct (folded keys too) for the running init container.
            for fixture in ["plugin-getlogs.json", "plugin-getlogs-folded-keys.json"] {
                var body = try JSONSerialization.jsonObject(with: try Self.fixture(fixture)) as! [String: Any]
                body[body.keys.first { $0.lowercased() == "containername" }!] = "setup"
                let l = try await sc.upstreamRequest("GET", "/getLogs", body: try JSONSerialization.data(withJSONObject: body), session: "GetLogs#4")
                #expect(l.status == 200, "\(fixture): \(l.text)")
            }
            let badLogs = try await sc.upstreamRequest("GET", "/getLogs", body: Data("{\"Namespace\":\"default\",\"PodUID\":\"\(Self.uid)\",\"ContainerName\":\"nope\"}".utf8), session: "GetLogs#5")
            #expect(badLogs.status == 404)
            #expect((try? JSONDecoder().decode(APIError.self, from: badLogs.body))?.error.contains("nope") == true)

            // POST /delete with the Pod; the pod is then unknown (empty containers).
            let d = try await sc.upstreamRequest("POST", "/delete", body: try Self.fixture("plugin-delete.json"), session: "DeletePod#6")
            #expect(d.status == 200)
            var gone = false
            let until = Date().addingTimeInterval(30)
            while Date() < until && !gone {
                let a = try await sc.upstreamRequest("GET", "/status", body: try Self.fixture("plugin-status.json"), session: "GetStatus#7")
                gone = ((try JSONSerialization.jsonObject(with: a.body) as? [[String: Any]])?.first?["containers"] as? [Any])?.isEmpty == true
                if !gone { try await Task.sleep(nanoseconds: 200_000_000) }
            }
            #expect(gone)
            // Bad input: one JSON error each.
            let bad = try await sc.upstreamRequest("POST", "/create", body: Data("{\"pod\": 5}".utf8), session: "CreatePod#8")
            #expect(bad.status == 400 && (try? JSONDecoder().decode(APIError.self, from: bad.body)) != nil)
        } catch {
            await sc.stop()
            throw error
        }
        await sc.stop()
    }
}
