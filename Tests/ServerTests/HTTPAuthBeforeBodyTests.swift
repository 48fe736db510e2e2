import Foundation
import Model
@testable import Server
import Testing

/// Issue 12 point 8: unauthenticated clients cannot hold the server. The real
/// server and the real API over real sockets: the token is checked once the
/// headers are in, before any body byte is read.
@Suite("HTTP auth before body", .timeLimit(.minutes(2)))
struct HTTPAuthBeforeBodyTests {
    static let uid = "0f8c2a5e-3b1d-4c7a-9e2f-1a2b3c4d5e6f"

    /// The two front doors that take a bearer token: the VK's API and the plugin API of `interlink sidecar`.
    enum FrontDoor: String, CaseIterable, CustomTestStringConvertible {
        case vk, sidecar
        var testDescription: String { rawValue }
    }

    func withAPI(_ door: FrontDoor = .vk, configure: (inout HTTPServerConfig) -> Void = { _ in },
                 _ body: (HTTPServer, Int) async throws -> Void) async throws {
        let dir = TestHTTPServer.tempDir()
        let tokenPath = dir + "/token"
        try "s3cret\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)
        let core = FakeCore(knownUIDs: [Self.uid])
        let (headCheck, handler): (HTTPHeadCheck, HTTPHandler)
        switch door {
        case .vk:
            let api = InterLinkAPI(core: core, auth: TokenAuthenticator(path: tokenPath))
            (headCheck, handler) = (api.headCheck, api.handler)
        case .sidecar:
            let api = SidecarAPI(core: core, auth: TokenAuthenticator(path: tokenPath))
            (headCheck, handler) = (api.headCheck, api.handler)
        }
        try await TestHTTPServer.with(configure: { c in
            c.headCheck = headCheck
            configure(&c)
        }, handler: handler) { server, port in try await body(server, port) }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// The head of a VK-shaped request whose body is announced but not sent.
    func announcedHead(_ path: String = "/create", length: Int = 100_000, token: String?, expectContinue: Bool = false) -> String {
        var s = "POST \(path) HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: \(length)\r\n"
        if let token { s += "Authorization: Bearer \(token)\r\n" }
        if expectContinue { s += "Expect: 100-continue\r\n" }
        return s + "\r\n"
    }

    func vkStatus() throws -> String {
        rawRequest("GET", "/status", body: String(decoding: try Fixture.data("vk-status.json"), as: UTF8.self),
                   headers: ["Content-Type: application/json", "Authorization: Bearer s3cret"])
    }

    @Test("more unauthenticated connections than the cap, bodies announced and unsent: the VK's /status is still served")
    func unauthenticatedClientsCannotLockOutTheVK() async throws {
        // Long body and read timeouts: if the server waited for those bodies, the VK would be refused (503).
        try await withAPI(configure: { $0.maxConnections = 8; $0.readTimeoutSeconds = 60; $0.bodyTimeoutSeconds = 120 }) { _, port in
            var held: [RawHTTPClient] = []
            for i in 0..<20 {
                let c = try await RawHTTPClient.connect(port: port)
                try await c.send(announcedHead(token: i % 2 == 0 ? nil : "wrong", expectContinue: i % 3 == 0))
                held.append(c)
            }
            let vk = try await RawHTTPClient.connect(port: port)
            try await vk.send(try vkStatus())
            let r = try await vk.readResponse(timeout: 10)
            #expect(r.status == 200, "the VK got \(r.status): \(r.bodyText)")
            #expect(r.bodyText.contains(Self.uid))
            await vk.close()
            for c in held { await c.close() }
        }
    }

    @Test("a missing or wrong token gets 401 JSON at once, without the body being sent", arguments: FrontDoor.allCases)
    func wrongTokenIs401BeforeTheBody(door: FrontDoor) async throws {
        try await withAPI(door, configure: { $0.readTimeoutSeconds = 60; $0.bodyTimeoutSeconds = 120 }) { _, port in
            for token in [nil, "wrong"] as [String?] {
                let c = try await RawHTTPClient.connect(port: port)
                try await c.send(announcedHead(token: token))
                let r = try await c.readResponse(timeout: 10)
                #expect(r.status == 401)
                #expect(r.header("Content-Type") == "application/json")
                #expect(r.header("WWW-Authenticate") == "Bearer")
                #expect(r.bodyText.hasPrefix("{\"error\":\""))
                #expect(r.header("Connection") == "close")
                #expect(await c.waitForClose(timeout: 10))
            }
        }
    }

    @Test("Expect: 100-continue is answered 401 without a token, and 100 Continue only with the right one")
    func continueOnlyAfterAuth() async throws {
        try await withAPI(configure: { $0.readTimeoutSeconds = 60 }) { _, port in
            let bad = try await RawHTTPClient.connect(port: port)
            try await bad.send(announcedHead("/status", length: 2, token: "wrong", expectContinue: true))
            let refused = try await bad.readResponse(timeout: 10)
            #expect(refused.status == 401)
            await bad.close()

            let good = try await RawHTTPClient.connect(port: port)
            let body = String(decoding: try Fixture.data("vk-status.json"), as: UTF8.self)
            try await good.send(announcedHead("/status", length: body.utf8.count, token: "s3cret", expectContinue: true))
            let interim = try await good.readResponse(timeout: 10)
            #expect(interim.status == 100)
            try await good.send(body)
            let final = try await good.readResponse(timeout: 10)
            #expect(final.status == 200)
            #expect(final.bodyText.contains(Self.uid))
            await good.close()
        }
    }

    @Test("an open route (/healthz) and an unknown route are not refused before the body")
    func openRoutesPassTheHeadCheck() async throws {
        try await withAPI { _, port in
            let h = try await RawHTTPClient.exchange(port: port, rawRequest("GET", "/healthz", body: "x"))
            #expect(h.status == 200)
            let n = try await RawHTTPClient.exchange(port: port, rawRequest("POST", "/nope", body: "x"))
            #expect(n.status == 404)
        }
    }

    @Test("a body that trickles in steadily is cut off with 408 at the total body deadline")
    func bodyDeadline() async throws {
        // Each byte comes well within the idle timeout, so only the total deadline can end it.
        try await TestHTTPServer.with(configure: { $0.readTimeoutSeconds = 5; $0.bodyTimeoutSeconds = 1.5 }) { _, port in
            let c = try await RawHTTPClient.connect(port: port)
            try await c.send("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
            // Stop as soon as the server answers: bytes sent after its close would reset the connection.
            for _ in 0..<100 {
                try await c.send("x")
                if await c.readable(timeout: 0.1) { break }
            }
            let r = try await c.readResponse(timeout: 10)
            #expect(r.status == 408)
            #expect(r.bodyText.contains("body"))
            await c.close()
        }
    }
}
