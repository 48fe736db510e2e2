import Foundation
import Model
@testable import Server
import Testing

/// The API's errors over a real socket: each bad request gets its status and a
/// JSON error, and the same keep-alive connection (or a new one) still works.
@Suite("API errors over a real socket")
struct APISocketTests {
    static let uid = "0f8c2a5e-3b1d-4c7a-9e2f-1a2b3c4d5e6f"

    func withAPI(_ body: (Int, String) async throws -> Void) async throws {
        let dir = TestHTTPServer.tempDir()
        let tokenPath = dir + "/token"
        try "s3cret\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)
        let api = InterLinkAPI(core: FakeCore(knownUIDs: [Self.uid]), auth: TokenAuthenticator(path: tokenPath))
        try await TestHTTPServer.with(handler: api.handler) { _, port in try await body(port, tokenPath) }
    }

    /// A VK-shaped request: JSON body, session header, bearer token.
    func vk(_ method: String, _ path: String, _ body: String, token: String? = "s3cret") -> String {
        var headers = ["Content-Type: application/json", "InterLink-Http-Session: Test#1"]
        if let token { headers.append("Authorization: Bearer \(token)") }
        return rawRequest(method, path, body: body, headers: headers)
    }

    func expectStillAnswers(_ client: RawHTTPClient) async throws {
        try await client.send(vk("GET", "/status", String(decoding: try Fixture.data("vk-status.json"), as: UTF8.self)))
        let ok = try await client.readResponse()
        #expect(ok.status == 200)
        #expect(ok.bodyText.contains(Self.uid))
    }

    func errorBody(_ r: RawHTTPResponse) -> String? {
        (try? JSONDecoder().decode(APIError.self, from: Data(r.body)))?.error
    }

    @Test(arguments: [
        ("POST", "/create", "{not json", 400),
        ("POST", "/create", "{\"pod\": {\"metadata\": {\"name\": \"x\", \"namespace\": \"default\"}, \"spec\": {\"containers\": []}}}", 400),
        ("GET", "/getLogs", "{\"Namespace\":\"default\",\"PodUID\":\"\(uid)\",\"PodName\":\"p\",\"ContainerName\":\"main\",\"Opts\":{\"Tail\":1,\"Bytes\":1}}", 400),
        ("GET", "/getLogs", "{\"Namespace\":\"default\",\"PodUID\":\"\(uid)\",\"PodName\":\"p\",\"ContainerName\":\"main\",\"Opts\":{\"SinceSeconds\":1,\"SinceTime\":\"2026-01-01T00:00:00Z\"}}", 400),
        ("GET", "/getLogs", "{\"Namespace\":\"default\",\"PodUID\":\"11111111-2222-3333-4444-555555555555\",\"PodName\":\"p\",\"ContainerName\":\"main\"}", 404),
        ("GET", "/getLogs", "{\"Namespace\":\"default\",\"PodUID\":\"\(uid)\",\"PodName\":\"p\",\"ContainerName\":\"other\"}", 404),
        ("GET", "/create", "{}", 405),
        ("PATCH", "/status", "[]", 405),
        ("GET", "/no-such-route", "", 404),
    ])
    func errorThenTheConnectionStillServes(method: String, path: String, body: String, status: Int) async throws {
        try await withAPI { port, _ in
            let client = try await RawHTTPClient.connect(port: port)
            try await client.send(vk(method, path, body))
            let r = try await client.readResponse()
            #expect(r.status == status)
            #expect(r.header("Content-Type") == "application/json")
            #expect(errorBody(r)?.isEmpty == false)
            try await expectStillAnswers(client)
            await client.close()
        }
    }

    @Test func missingAndWrongTokensAre401AndTheServerStillAnswers() async throws {
        try await withAPI { port, _ in
            let client = try await RawHTTPClient.connect(port: port)
            for token in [nil, "wrong"] as [String?] {
                try await client.send(vk("GET", "/status", "[]", token: token))
                let r = try await client.readResponse()
                #expect(r.status == 401)
                #expect(r.header("WWW-Authenticate") == "Bearer")
                #expect(errorBody(r) != nil)
            }
            try await expectStillAnswers(client)
            await client.close()
        }
    }

    @Test func healthzAnswersWithoutAToken() async throws {
        try await withAPI { port, _ in
            let r = try await RawHTTPClient.exchange(port: port, rawRequest("GET", "/healthz"))
            #expect(r.status == 200)
        }
    }

    @Test func theVKsExactRequestsSucceedOverTheWire() async throws {
        try await withAPI { port, _ in
            let client = try await RawHTTPClient.connect(port: port)
            for (method, path, fixture) in [("POST", "/create", "vk-create.json"), ("GET", "/status", "vk-status.json"),
                                            ("GET", "/getLogs", "vk-getlogs.json"), ("DELETE", "/delete", "vk-delete.json")] {
                try await client.send(vk(method, path, String(decoding: try Fixture.data(fixture), as: UTF8.self)))
                let r = try await client.readResponse()
                #expect(r.status == 200, "\(method) \(path): \(r.bodyText)")
            }
            await client.close()
        }
    }
}
