import FoundationEssentials
import HTTPClient
import Testing

/// `HTTPClient.stream`: body chunks arrive as the server sends them, errors
/// end the stream, and cancelling closes the connection.
@Suite struct HTTPClientStreamTests {
    let client = HTTPClient()

    @Test func chunksArriveBeforeTheResponseEnds() async throws {
        let server = try await TestServer.tcp()
        defer { server.stop() }
        var received = ""
        var releasedAfter = ""
        for try await chunk in client.stream(HTTPClientRequest(url: server.baseURL + "/chunks")) {
            received += String(decoding: chunk, as: UTF8.self)
            if releasedAfter.isEmpty && received.hasSuffix("\n") {
                // The server holds the rest back until this second request arrives,
                // so reaching here at all proves the first chunk was delivered early.
                releasedAfter = received
                _ = try await client.send(HTTPClientRequest(url: server.baseURL + "/release"))
            }
        }
        #expect(releasedAfter == "first\n")
        #expect(received == "first\nsecond\n")
    }

    @Test func errorStatusEndsTheStreamWithTheBody() async throws {
        let server = try await TestServer.tcp()
        defer { server.stop() }
        var chunks = 0
        do {
            for try await _ in client.stream(HTTPClientRequest(method: "GET", url: server.baseURL + "/status/404", body: Data("{}".utf8))) {
                chunks += 1
            }
            Issue.record("expected the stream to fail")
        } catch let error as HTTPClientError {
            guard case .status(let code, let body) = error else { Issue.record("wrong error \(error)"); return }
            #expect(code == 404)
            #expect(String(decoding: body, as: UTF8.self).contains("asked for 404"))
        }
        #expect(chunks == 0)
    }

    @Test func connectFailureEndsTheStream() async throws {
        let path = makeTempDir() + "/none.sock"
        await #expect(throws: HTTPClientError.self) {
            for try await _ in client.stream(HTTPClientRequest(url: "http://localhost/logs", unixSocketPath: path)) {}
        }
    }

    @Test func cancellingTheConsumerClosesTheConnection() async throws {
        let server = try await TestServer.tcp()
        defer { server.stop() }
        let client = self.client
        let (firstTick, firstTickCont) = AsyncStream<Void>.makeStream()
        let consumer = Task {
            var count = 0
            for try await _ in client.stream(HTTPClientRequest(url: server.baseURL + "/forever")) {
                count += 1
                if count == 2 { firstTickCont.yield() }
            }
            return count
        }
        for await _ in firstTick { break }
        consumer.cancel()
        _ = try? await consumer.value
        // The server notices the closed connection on its next write (every 50 ms).
        var disconnected = false
        for _ in 0..<100 where !disconnected {
            let r = try await client.send(HTTPClientRequest(url: server.baseURL + "/disconnected"))
            disconnected = String(decoding: r.body, as: UTF8.self).contains("true")
            if !disconnected { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(disconnected, "the server kept sending: the transfer was not aborted")
    }
}
