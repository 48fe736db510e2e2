import FoundationEssentials
import HTTPClient
import Testing

/// The HTTP client against a real Python server on 127.0.0.1 or a unix socket.
@Suite struct HTTPClientTests {
    let client = HTTPClient()

    func echo(_ response: HTTPClientResponse) throws -> Echo {
        try JSONDecoder().decode(Echo.self, from: response.body)
    }

    @Test func postSendsMethodHeadersAndBody() async throws {
        let server = try await TestServer.tcp()
        defer { server.stop() }
        let body = Data(#"{"pod":"hello"}"#.utf8)
        let response = try await client.send(HTTPClientRequest(
            method: "POST", url: server.baseURL + "/echo?x=1",
            headers: [("Content-Type", "application/json"), ("InterLink-Http-Session", "CreatePod#1")],
            body: body))
        #expect(response.status == 200)
        #expect(response.header("x-test-server") == "python")
        let e = try echo(response)
        #expect(e.method == "POST")
        #expect(e.path == "/echo?x=1")
        #expect(e.body == #"{"pod":"hello"}"#)
        #expect(e.header("Content-Type") == "application/json")
        #expect(e.header("InterLink-Http-Session") == "CreatePod#1")
        #expect(e.header("Expect") == nil)
    }

    @Test func getCarriesABody() async throws {
        let server = try await TestServer.tcp()
        defer { server.stop() }
        let response = try await client.send(HTTPClientRequest(
            method: "GET", url: server.baseURL + "/echo", body: Data("[1,2]".utf8)))
        let e = try echo(response)
        #expect(e.method == "GET")
        #expect(e.body == "[1,2]")
        // No body type was given, so curl's form-urlencoded default must not appear.
        #expect(e.header("Content-Type") == nil)
    }

    @Test func deleteWithBodyAndPostWithout() async throws {
        let server = try await TestServer.tcp()
        defer { server.stop() }
        let del = try echo(try await client.send(HTTPClientRequest(
            method: "DELETE", url: server.baseURL + "/echo", body: Data("{}".utf8))))
        #expect(del.method == "DELETE")
        #expect(del.body == "{}")
        let post = try echo(try await client.send(HTTPClientRequest(method: "POST", url: server.baseURL + "/echo")))
        #expect(post.method == "POST")
        #expect(post.header("Content-Length") == "0")
    }

    @Test func largeBodyIsSentWhole() async throws {
        let server = try await TestServer.tcp()
        defer { server.stop() }
        let big = String(repeating: "abcdefgh", count: 200_000)  // 1.6 MB: curl would ask 100-continue
        let e = try echo(try await client.send(HTTPClientRequest(method: "PUT", url: server.baseURL + "/echo", body: Data(big.utf8))))
        #expect(e.body.count == big.count)
        #expect(e.header("Expect") == nil)
    }

    @Test func bearerTokenBecomesAuthorizationHeader() async throws {
        let server = try await TestServer.tcp()
        defer { server.stop() }
        let e = try echo(try await client.send(HTTPClientRequest(
            url: server.baseURL + "/echo", bearerToken: "s3cr3t-token\n")))
        #expect(e.header("Authorization") == "Bearer s3cr3t-token")
    }

    @Test func errorStatusIsAResponseNotAnError() async throws {
        let server = try await TestServer.tcp()
        defer { server.stop() }
        let response = try await client.send(HTTPClientRequest(method: "POST", url: server.baseURL + "/status/503"))
        #expect(response.status == 503)
        #expect(String(decoding: response.body, as: UTF8.self).contains("asked for 503"))
    }

    @Test func redirectsAreNotFollowed() async throws {
        let server = try await TestServer.tcp()
        defer { server.stop() }
        let response = try await client.send(HTTPClientRequest(url: server.baseURL + "/status/302"))
        #expect(response.status == 302)
    }

    @Test func connectionRefusedIsAReadableError() async throws {
        // Start and stop a server to learn a port nobody listens on.
        let server = try await TestServer.tcp()
        let url = server.baseURL
        server.stop()
        var caught: HTTPClientError?
        // The kill is asynchronous: a dying server may still answer or reset the
        // connection, so retry until the port is really closed.
        for _ in 0..<50 {
            do { _ = try await client.send(HTTPClientRequest(url: url + "/echo")) }
            catch { caught = error; if error.curlCode == 7 { break } }
            try await Task.sleep(for: .milliseconds(100))
        }
        let error = try #require(caught)
        #expect(error.isConnectFailure)
        #expect(error.curlCode == 7)
        #expect(error.description == "cannot connect to \(url)/echo: Connection refused")
    }

    @Test func unixSocket() async throws {
        let dir = makeTempDir()
        let server = try await TestServer.unix(dir + "/api.sock")
        defer { server.stop() }
        let e = try echo(try await client.send(HTTPClientRequest(
            method: "POST", url: "http://localhost/echo", body: Data("via socket".utf8),
            unixSocketPath: server.socketPath)))
        #expect(e.body == "via socket")
        #expect(e.header("Host") == "localhost")
    }

    @Test func missingUnixSocketNamesThePath() async throws {
        let path = makeTempDir() + "/none.sock"
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await client.send(HTTPClientRequest(url: "http://localhost/ping", unixSocketPath: path))
        }
        #expect(error?.description == "cannot connect to unix socket \(path): No such file or directory")
    }

    @Test func timeoutIsReported() async throws {
        let server = try await TestServer.tcp()
        defer { server.stop() }
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await client.send(HTTPClientRequest(url: server.baseURL + "/slow", timeoutSeconds: 0.5))
        }
        #expect(error?.curlCode == 28)
        #expect(error?.description.contains("timed out after 0.5 s") == true)
    }

    @Test func headerInjectionIsRefused() async throws {
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await client.send(HTTPClientRequest(url: "http://127.0.0.1:1/", headers: [("X-A", "b\r\nX-Evil: 1")]))
        }
        #expect(error?.description == "invalid request: header X-A contains a line break")
    }

    @Test func onlyHTTPSchemesAreAccepted() async throws {
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await client.send(HTTPClientRequest(url: "file:///etc/passwd"))
        }
        #expect(error?.description.contains("must start with http:// or https://") == true)
    }
}
