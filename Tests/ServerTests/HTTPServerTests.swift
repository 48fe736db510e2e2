import FoundationEssentials
import Testing
@testable import Server
#if canImport(Glibc)
import Glibc
#endif

@Suite("HTTP server behaviour", .timeLimit(.minutes(2)))
struct HTTPServerTests {
    @Test("one keep-alive connection serves several requests, with Date and Server headers")
    func keepAliveReuse() async throws {
        try await TestHTTPServer.with { _, port in
            let c = try await RawHTTPClient.connect(port: port)
            for i in 0..<3 {
                try await c.send(rawRequest("POST", "/r\(i)", body: "b\(i)"))
                let r = try await c.readResponse()
                #expect(r.status == 200)
                #expect(r.bodyText == "POST /r\(i) 2:b\(i)")
                #expect(r.header("Server") == "interlink")
                #expect(r.header("Date")?.hasSuffix(" GMT") == true)
                #expect(r.header("Connection") == nil)
            }
        }
    }

    @Test("pipelined requests in one write get their responses in order")
    func pipelined() async throws {
        try await TestHTTPServer.with { _, port in
            let c = try await RawHTTPClient.connect(port: port)
            try await c.send(rawRequest("GET", "/a") + rawRequest("POST", "/b", body: "xy") + rawRequest("DELETE", "/c"))
            #expect(try await c.readResponse().bodyText == "GET /a 0:")
            #expect(try await c.readResponse().bodyText == "POST /b 2:xy")
            #expect(try await c.readResponse().bodyText == "DELETE /c 0:")
        }
    }

    @Test("a chunked request body reaches the handler de-chunked")
    func chunkedRequestBody() async throws {
        try await TestHTTPServer.with { _, port in
            let raw = "POST /create HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n6\r\npedia!\r\n0\r\nX-Trailer: x\r\n\r\n"
            let r = try await RawHTTPClient.exchange(port: port, raw)
            #expect(r.bodyText == "POST /create 10:Wikipedia!")
        }
    }

    @Test("GET and DELETE may carry bodies", arguments: ["GET", "DELETE"])
    func bodiesOnGetAndDelete(method: String) async throws {
        try await TestHTTPServer.with { _, port in
            let r = try await RawHTTPClient.exchange(port: port, rawRequest(method, "/status", body: "[{\"uid\":\"1\"}]"))
            #expect(r.bodyText == "\(method) /status 13:[{\"uid\":\"1\"}]")
        }
    }

    @Test("Expect: 100-continue is answered before the body is sent")
    func expectContinue() async throws {
        try await TestHTTPServer.with { _, port in
            let c = try await RawHTTPClient.connect(port: port)
            try await c.send("POST /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
            #expect(try await c.readResponse().status == 100)
            try await c.send("abc")
            #expect(try await c.readResponse().bodyText == "POST /up 3:abc")
        }
    }

    @Test("Connection: close and HTTP/1.0 end the connection after the response; 1.0 keep-alive keeps it")
    func connectionClose() async throws {
        try await TestHTTPServer.with { _, port in
            for raw in [rawRequest("GET", "/x", headers: ["Connection: close"]), "GET /x HTTP/1.0\r\n\r\n"] {
                let c = try await RawHTTPClient.connect(port: port)
                try await c.send(raw)
                let r = try await c.readResponse()
                #expect(r.status == 200 && r.header("Connection") == "close")
                #expect(await c.waitForClose())
            }
            let c = try await RawHTTPClient.connect(port: port)
            try await c.send("GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try await c.readResponse().header("Connection") == "keep-alive")
            try await c.send("GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try await c.readResponse().bodyText == "GET /2 0:")
        }
    }

    @Test("HEAD gets the headers with Content-Length and no body")
    func head() async throws {
        try await TestHTTPServer.with { _, port in
            let c = try await RawHTTPClient.connect(port: port)
            try await c.send(rawRequest("HEAD", "/h"))
            let r = try await c.readResponse(forHEAD: true)
            #expect(r.status == 200 && r.header("Content-Length") == "\(Array("HEAD /h 0:".utf8).count)")
            // Had a body been sent, it would be read as the next status line.
            try await c.send(rawRequest("GET", "/after"))
            #expect(try await c.readResponse().bodyText == "GET /after 0:")
        }
    }

    @Test("a streamed body goes out chunked, and the connection stays usable")
    func streamedResponse() async throws {
        let handler: HTTPHandler = { request in
            if request.path == "/plain" { return .text(200, "plain") }
            let (stream, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
            Task {
                for line in ["one\n", "two\n", "three\n"] { continuation.yield(Data(line.utf8)) }
                continuation.finish()
            }
            return HTTPResponse(status: 200, body: .stream(stream))
        }
        try await TestHTTPServer.with(handler: handler) { _, port in
            let c = try await RawHTTPClient.connect(port: port)
            try await c.send(rawRequest("GET", "/logs"))
            let r = try await c.readResponse()
            #expect(r.header("Transfer-Encoding") == "chunked")
            #expect(r.header("Content-Length") == nil)
            #expect(r.chunks?.map { String(decoding: $0, as: UTF8.self) } == ["one\n", "two\n", "three\n"])
            try await c.send(rawRequest("GET", "/plain"))
            #expect(try await c.readResponse().bodyText == "plain")
        }
    }

    @Test("a response stream is cancelled when the client goes away")
    func streamCancelledOnDisconnect() async throws {
        let terminated = Gate()
        let handler: HTTPHandler = { _ in
            let (stream, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
            continuation.onTermination = { _ in terminated.open() }
            continuation.yield(Data("first\n".utf8))  // then nothing more: an endless follow
            return HTTPResponse(status: 200, body: .stream(stream))
        }
        try await TestHTTPServer.with(handler: handler) { _, port in
            let c = try await RawHTTPClient.connect(port: port)
            try await c.send(rawRequest("GET", "/follow"))
            _ = try await RawHTTPClientTestTools.readPrefix(c)
            await c.close()
            await terminated.wait()
            #expect(terminated.isOpen)
        }
    }

    @Test("one slow client sending a partial request does not block 20 others")
    func slowClientDoesNotBlockOthers() async throws {
        try await TestHTTPServer.with { _, port in
            let slow = try await RawHTTPClient.connect(port: port)
            try await slow.send("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\npartial")
            let statuses = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<20 {
                    group.addTask { try await RawHTTPClient.exchange(port: port, rawRequest("GET", "/c\(i)")).bodyText }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(statuses == Set((0..<20).map { "GET /c\($0) 0:" }))
            // The slow client is still being served once it completes its body.
            try await slow.send(String(repeating: "z", count: 93))
            #expect(try await slow.readResponse().bodyText.hasPrefix("POST /slow 100:partial"))
        }
    }

    @Test("shutdown lets an in-flight request finish, closes idle connections, then run() returns")
    func gracefulShutdown() async throws {
        let started = Gate(), release = Gate()
        let handler: HTTPHandler = { request in
            if request.path == "/slow" { started.open(); await release.wait() }
            return .text(200, "done \(request.path)")
        }
        let server = HTTPServer(config: HTTPServerConfig(listen: .tcp(host: "127.0.0.1", port: 0)), handler: handler)
        try server.start()
        let port = try #require(server.boundPort)
        let returned = Gate()
        let runner = Task { await server.run(); returned.open() }

        let idle = try await RawHTTPClient.connect(port: port)
        try await idle.send(rawRequest("GET", "/quick"))
        #expect(try await idle.readResponse().bodyText == "done /quick")
        let busy = try await RawHTTPClient.connect(port: port)
        try await busy.send(rawRequest("GET", "/slow"))
        await started.wait()

        let stopper = Task { await server.shutdown() }
        #expect(await idle.waitForClose())          // idle keep-alive connection closed promptly
        #expect(!returned.isOpen)  // the slow request still holds run()
        release.open()
        let r = try await busy.readResponse()
        #expect(r.status == 200 && r.bodyText == "done /slow")
        #expect(r.header("Connection") == "close")
        await runner.value
        await stopper.value
        #expect(returned.isOpen)
        await server.shutdown()  // idempotent
        await #expect(throws: RawHTTPClientError.self) { _ = try await RawHTTPClient.connect(port: port) }
    }

    @Test("a unix socket listener has mode 0600, serves requests, replaces a stale file and is removed at shutdown")
    func unixSocket() async throws {
        let dir = TestHTTPServer.tempDir()
        let path = dir + "/il.sock"
        // A stale socket file left by a crashed process: bound, never listening, not removed.
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: path.utf8) }
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        close(stale)

        try await TestHTTPServer.with(listen: .unix(path: path)) { server, _ in
            #expect(server.boundPort == nil)
            var st = stat()
            #expect(lstat(path, &st) == 0)
            #expect(st.st_mode & S_IFMT == S_IFSOCK)
            #expect(st.st_mode & 0o777 == 0o600)
            let c = try await RawHTTPClient.connect(unixPath: path)
            try await c.send(rawRequest("GET", "/ping"))
            #expect(try await c.readResponse().bodyText == "GET /ping 0:")
        }
        var st = stat()
        #expect(lstat(path, &st) != 0)
        rmdir(dir)
    }

    @Test("a second server on a taken port fails with a readable address-in-use error")
    func addressInUse() async throws {
        try await TestHTTPServer.with { _, port in
            let second = HTTPServer(config: HTTPServerConfig(listen: .tcp(host: "127.0.0.1", port: port)), handler: TestHTTPServer.echo)
            #expect(throws: HTTPServerError.addressInUse("127.0.0.1:\(port)")) { try second.start() }
            #expect(HTTPServerError.addressInUse("127.0.0.1:\(port)").description.contains("already in use"))
        }
    }
}

enum RawHTTPClientTestTools {
    /// Reads the head of a streaming response without waiting for its end.
    static func readPrefix(_ c: RawHTTPClient) async throws -> Bool {
        do {
            _ = try await c.readResponse(timeout: 1)
        } catch RawHTTPClientError.timeout {
            return true  // the stream is still open, as an endless follow should be
        }
        return false
    }
}
