import FoundationEssentials
import Testing
@testable import Server

/// Each limit or error: bad input over a real socket gets its status code,
/// and the server still answers a normal request afterwards.
@Suite("HTTP server limits and errors", .timeLimit(.minutes(2)))
struct HTTPLimitsTests {
    /// The server is still healthy: a fresh connection gets a normal answer.
    private func expectStillServes(_ port: Int) async throws {
        let r = try await RawHTTPClient.exchange(port: port, rawRequest("GET", "/alive"))
        #expect(r.status == 200)
        #expect(r.bodyText == "GET /alive 0:")
    }

    /// Sends `raw`, expects `status` with a JSON error body, and that the server closes the connection.
    private func expectError(_ raw: String, status: Int, port: Int) async throws {
        let c = try await RawHTTPClient.connect(port: port)
        try await c.send(raw)
        let r = try await c.readResponse()
        #expect(r.status == status)
        #expect(r.header("Content-Type") == "application/json")
        #expect(r.bodyText.hasPrefix("{\"error\":\""))
        #expect(r.header("Connection") == "close")
        #expect(await c.waitForClose())
    }

    @Test("headers over 16 KiB get 431")
    func headersTooLarge() async throws {
        try await TestHTTPServer.with { _, port in
            try await expectError("GET / HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "a", count: 17 * 1024))\r\n\r\n", status: 431, port: port)
            try await expectStillServes(port)
        }
    }

    @Test("a declared body over the limit gets 413 before the body is sent")
    func declaredBodyTooLarge() async throws {
        try await TestHTTPServer.with(configure: { $0.maxBodyBytes = 1024 }) { _, port in
            try await expectError("POST /create HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n", status: 413, port: port)
            try await expectStillServes(port)
        }
    }

    @Test("a default-limit server refuses a declared 33 MiB body with 413")
    func defaultBodyLimit() async throws {
        try await TestHTTPServer.with { _, port in
            try await expectError("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: \(33 * 1024 * 1024)\r\n\r\n", status: 413, port: port)
            try await expectStillServes(port)
        }
    }

    @Test("a chunked body growing over the limit gets 413")
    func chunkedBodyTooLarge() async throws {
        try await TestHTTPServer.with(configure: { $0.maxBodyBytes = 1024 }) { _, port in
            let chunk = "200\r\n" + String(repeating: "x", count: 512) + "\r\n"
            try await expectError("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk + chunk, status: 413, port: port)
            try await expectStillServes(port)
        }
    }

    @Test("a malformed request line gets 400")
    func malformedRequestLine() async throws {
        try await TestHTTPServer.with { _, port in
            try await expectError("THIS IS NOT HTTP\r\n\r\n", status: 400, port: port)
            try await expectStillServes(port)
        }
    }

    @Test("a malformed header line gets 400")
    func malformedHeader() async throws {
        try await TestHTTPServer.with { _, port in
            try await expectError("GET / HTTP/1.1\r\nNo colon here\r\n\r\n", status: 400, port: port)
            try await expectStillServes(port)
        }
    }

    @Test("Content-Length together with Transfer-Encoding gets 400")
    func contentLengthAndTransferEncoding() async throws {
        try await TestHTTPServer.with { _, port in
            try await expectError("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400, port: port)
            try await expectStillServes(port)
        }
    }

    @Test("an invalid Content-Length gets 400")
    func invalidContentLength() async throws {
        try await TestHTTPServer.with { _, port in
            try await expectError("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: ten\r\n\r\n", status: 400, port: port)
            try await expectStillServes(port)
        }
    }

    @Test("an unknown Transfer-Encoding gets 501")
    func unknownTransferEncoding() async throws {
        try await TestHTTPServer.with { _, port in
            try await expectError("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", status: 501, port: port)
            try await expectStillServes(port)
        }
    }

    @Test("an HTTP version other than 1.0 or 1.1 gets 505")
    func unsupportedVersion() async throws {
        try await TestHTTPServer.with { _, port in
            try await expectError("GET / HTTP/2.0\r\nHost: t\r\n\r\n", status: 505, port: port)
            try await expectStillServes(port)
        }
    }

    @Test("a client that stops mid-request gets 408 after the read timeout")
    func slowClientTimesOut() async throws {
        // Generous against a loaded CI machine: the client must get its request in well within it.
        try await TestHTTPServer.with(configure: { $0.readTimeoutSeconds = 4 }) { _, port in
            try await expectError("GET /slow HTTP/1.1\r\nHost: t\r\nX-Partial: ", status: 408, port: port)
            try await expectStillServes(port)
        }
    }

    @Test("an idle keep-alive connection is closed silently after the read timeout")
    func idleConnectionClosed() async throws {
        // Generous against a loaded CI machine: the first request must arrive well within it.
        try await TestHTTPServer.with(configure: { $0.readTimeoutSeconds = 4 }) { _, port in
            let c = try await RawHTTPClient.connect(port: port)
            try await c.send(rawRequest("GET", "/one"))
            #expect(try await c.readResponse().status == 200)
            do {
                let r = try await c.readResponse()
                Issue.record("expected a silent close, got status \(r.status)")
            } catch RawHTTPClientError.closedEarly {
                // The expected outcome: closed without a response.
            }
            try await expectStillServes(port)
        }
    }

    @Test("at maxConnections an idle unauthenticated connection is evicted for a newcomer")
    func overMaxConnectionsEvictsTheOldestUnauthenticated() async throws {
        try await TestHTTPServer.with(configure: { $0.maxConnections = 2 }) { _, port in
            let a = try await RawHTTPClient.connect(port: port)
            let b = try await RawHTTPClient.connect(port: port)
            for c in [a, b] {
                try await c.send(rawRequest("GET", "/held"))
                #expect(try await c.readResponse().status == 200)
            }
            let r = try await RawHTTPClient.exchange(port: port, rawRequest("GET", "/third"))
            #expect(r.status == 200)
            // The oldest one made room: the server closed it.
            #expect(await a.waitForClose())
            await b.close()
        }
    }

    @Test("connections over maxConnections get 503 when every held one is authenticated, and the server recovers when one closes")
    func overMaxConnections() async throws {
        try await TestHTTPServer.with(configure: { $0.maxConnections = 2; $0.headCheck = { _ in .authenticated } }) { _, port in
            // Two admitted connections, proven by a served request each, kept open.
            let a = try await RawHTTPClient.connect(port: port)
            let b = try await RawHTTPClient.connect(port: port)
            for c in [a, b] {
                try await c.send(rawRequest("GET", "/held"))
                #expect(try await c.readResponse().status == 200)
            }
            let r = try await RawHTTPClient.exchange(port: port, rawRequest("GET", "/third"))
            #expect(r.status == 503)
            #expect(r.bodyText.contains("limit of 2 connections"))
            // Freeing a slot lets new clients in; the server notices the close asynchronously,
            // so retry a bounded number of times.
            await a.close()
            var status = 0
            for _ in 0..<200 {
                status = try await RawHTTPClient.exchange(port: port, rawRequest("GET", "/again")).status
                if status == 200 { break }
                try await Task.sleep(for: .milliseconds(25))
            }
            #expect(status == 200)
            await b.close()
        }
    }
}
