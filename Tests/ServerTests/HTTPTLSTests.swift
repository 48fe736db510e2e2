import Foundation
import HTTPClient
@testable import Server
import Testing

/// Certificates made at test time by the `openssl` CLI: two CAs, a server
/// certificate for 127.0.0.1 from each, and a client certificate from each.
struct TestPKI {
    let dir: String

    init() throws {
        dir = TestHTTPServer.tempDir()
        let script = """
        set -e
        cd "$1"
        for ca in ca1 ca2; do
          openssl req -x509 -newkey rsa:2048 -nodes -keyout $ca.key -out $ca.pem -days 2 -subj "/CN=$ca test CA" 2>/dev/null
          for who in server client; do
            openssl req -newkey rsa:2048 -nodes -keyout $who-$ca.key -out $who-$ca.csr -subj "/CN=$who of $ca" 2>/dev/null
            if [ $who = server ]; then printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext; else printf 'extendedKeyUsage=clientAuth\\n' > ext; fi
            openssl x509 -req -in $who-$ca.csr -CA $ca.pem -CAkey $ca.key -CAcreateserial -out $who-$ca.pem -days 2 -extfile ext 2>/dev/null
          done
        done
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script, "sh", dir]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw PKIError(message: "openssl could not make the test certificates in \(dir)") }
    }

    func path(_ name: String) -> String { dir + "/" + name }
    func remove() { try? FileManager.default.removeItem(atPath: dir) }

    struct PKIError: Error, CustomStringConvertible { let message: String; var description: String { message } }
}

/// TLS serving over real sockets with libcurl (the repo's client) as the peer:
/// a round trip, mutual TLS with a required and verified client certificate,
/// refusals, and a certificate reload when the files change.
@Suite("HTTP TLS", .timeLimit(.minutes(2)))
struct HTTPTLSTests {
    let client = HTTPClient()

    func get(_ port: Int, ca: String, cert: String? = nil, key: String? = nil) async throws(HTTPClientError) -> HTTPClientResponse {
        try await client.send(HTTPClientRequest(method: "POST", url: "https://127.0.0.1:\(port)/echo", body: Data("over tls".utf8),
                                                timeoutSeconds: 30, caFile: ca, clientCert: cert, clientKey: key))
    }

    func withTLSServer(_ pki: TestPKI, ca: String? = nil, _ body: (Int) async throws -> Void) async throws {
        let files = TLSContext.Files(certFile: pki.path("server-ca1.pem"), keyFile: pki.path("server-ca1.key"), caCertFile: ca.map(pki.path))
        let tls = try TLSContext(files: files)
        try await TestHTTPServer.with(configure: { $0.tls = tls; $0.readTimeoutSeconds = 15 }) { _, port in try await body(port) }
    }

    @Test("a TLS round trip: the server's certificate verifies against its CA and the request and answer get through")
    func roundTrip() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        try await withTLSServer(pki) { port in
            let r = try await get(port, ca: pki.path("ca1.pem"))
            #expect(r.status == 200)
            #expect(String(decoding: r.body, as: UTF8.self) == "POST /echo 8:over tls")
            // A client that trusts another CA refuses this server.
            await #expect(throws: HTTPClientError.self) { _ = try await get(port, ca: pki.path("ca2.pem")) }
            // Plain HTTP on the TLS port gets no answer, and the server goes on serving TLS.
            await #expect(throws: (any Error).self) { _ = try await RawHTTPClient.exchange(port: port, rawRequest("GET", "/plain")) }
            #expect(try await get(port, ca: pki.path("ca1.pem")).status == 200)
        }
    }

    @Test("mutual TLS: a client certificate from the configured CA is served; none, or one from another CA, is refused")
    func mutualTLS() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        try await withTLSServer(pki, ca: "ca1.pem") { port in
            let ok = try await get(port, ca: pki.path("ca1.pem"), cert: pki.path("client-ca1.pem"), key: pki.path("client-ca1.key"))
            #expect(ok.status == 200)
            #expect(String(decoding: ok.body, as: UTF8.self) == "POST /echo 8:over tls")
            await #expect(throws: HTTPClientError.self) { _ = try await get(port, ca: pki.path("ca1.pem")) }
            await #expect(throws: HTTPClientError.self) {
                _ = try await get(port, ca: pki.path("ca1.pem"), cert: pki.path("client-ca2.pem"), key: pki.path("client-ca2.key"))
            }
            // Refusals do not hurt the next good client.
            #expect(try await get(port, ca: pki.path("ca1.pem"), cert: pki.path("client-ca1.pem"), key: pki.path("client-ca1.key")).status == 200)
        }
    }

    @Test("replacing the certificate files switches new connections to the new certificate without a restart")
    func reloadAfterTheFilesChange() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let cert = pki.path("live.pem"), key = pki.path("live.key")
        try FileManager.default.copyItem(atPath: pki.path("server-ca1.pem"), toPath: cert)
        try FileManager.default.copyItem(atPath: pki.path("server-ca1.key"), toPath: key)
        let tls = try TLSContext(files: .init(certFile: cert, keyFile: key))
        try await TestHTTPServer.with(configure: { $0.tls = tls; $0.readTimeoutSeconds = 15 }) { _, port in
            #expect(try await get(port, ca: pki.path("ca1.pem")).status == 200)
            await #expect(throws: HTTPClientError.self) { _ = try await get(port, ca: pki.path("ca2.pem")) }
            // Key first, then the certificate (a half-written pair fails to load and is retried).
            try Data(contentsOf: URL(fileURLWithPath: pki.path("server-ca2.key"))).write(to: URL(fileURLWithPath: key))
            try Data(contentsOf: URL(fileURLWithPath: pki.path("server-ca2.pem"))).write(to: URL(fileURLWithPath: cert))
            var switched = false
            for _ in 0..<40 where !switched {
                if let r = try? await get(port, ca: pki.path("ca2.pem")), r.status == 200 { switched = true }
                else { try await Task.sleep(for: .milliseconds(250)) }
            }
            #expect(switched, "the server never presented the new certificate")
            await #expect(throws: HTTPClientError.self) { _ = try await get(port, ca: pki.path("ca1.pem")) }
        }
    }

    @Test("more connections than the cap stalled in the TLS handshake do not lock out a client")
    func stalledHandshakesDoNotLockOut() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let tls = try TLSContext(files: .init(certFile: pki.path("server-ca1.pem"), keyFile: pki.path("server-ca1.key")))
        // A long handshake deadline: only eviction can make room for the real client.
        try await TestHTTPServer.with(configure: { $0.tls = tls; $0.readTimeoutSeconds = 60; $0.maxConnections = 4 }) { _, port in
            var stalled: [RawHTTPClient] = []
            for _ in 0..<12 { stalled.append(try await RawHTTPClient.connect(port: port)) }
            try await Task.sleep(for: .milliseconds(200))
            let r = try await get(port, ca: pki.path("ca1.pem"))
            #expect(r.status == 200)
            for c in stalled { await c.close() }
        }
    }

    @Test("TLS 1.1 is refused while TLS 1.2 and 1.3 are served (openssl s_client as the peer)")
    func minimumVersion() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        try await withTLSServer(pki) { port in
            // SECLEVEL=0 lets the client itself offer TLS 1.1; only the server can refuse it.
            let old = try await Self.sClient(port, ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], ca: pki.path("ca1.pem"))
            #expect(old.contains("Cipher is (NONE)"), "\(old)")
            let v12 = try await Self.sClient(port, ["-tls1_2"], ca: pki.path("ca1.pem"))
            #expect(v12.contains("New, TLSv1.2, Cipher is"), "\(v12)")
            let v13 = try await Self.sClient(port, ["-tls1_3"], ca: pki.path("ca1.pem"))
            #expect(v13.contains("New, TLSv1.3, Cipher is"), "\(v13)")
        }
    }

    @Test("the real binary serves https with mutual TLS from TLS.* config keys, and the VK's token still applies",
          .enabled(if: ServerProcess.binary != nil, "INTERLINK_TEST_BINARY is not set"))
    func binaryServesMutualTLS() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let ca = pki.path("ca1.pem"), cert = pki.path("client-ca1.pem"), key = pki.path("client-ca1.key")
        let client = client
        let server = try await ServerProcess(scheme: "https", extraConfig: """
            TLS:
              Enabled: true
              CertFile: \(pki.path("server-ca1.pem"))
              KeyFile: \(pki.path("server-ca1.key"))
              CACertFile: \(ca)
            """, ready: { port in
                (try? await client.send(HTTPClientRequest(url: "https://127.0.0.1:\(port)/readyz", timeoutSeconds: 2,
                                                          caFile: ca, clientCert: cert, clientKey: key)))?.status == 200
            })
        defer { server.stop() }
        func status(token: String?) async throws -> Int {
            try await client.send(HTTPClientRequest(method: "GET", url: "https://127.0.0.1:\(server.port)/status",
                                                    headers: [("Content-Type", "application/json")], body: Data("[]".utf8),
                                                    timeoutSeconds: 30, bearerToken: token, caFile: ca, clientCert: cert, clientKey: key)).status
        }
        #expect(try await status(token: server.token) == 200)
        #expect(try await status(token: "wrong") == 401)
        await #expect(throws: HTTPClientError.self) {
            _ = try await client.send(HTTPClientRequest(url: "https://127.0.0.1:\(server.port)/healthz", timeoutSeconds: 10, caFile: ca))
        }
        #expect(server.log().contains("\"tls\":\"mutual\""))
    }

    /// `openssl s_client` against the port with stdin closed; its whole output.
    static func sClient(_ port: Int, _ args: [String], ca: String) async throws -> String {
        try await withCheckedThrowingContinuation { c in
            DispatchQueue.global().async {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
                p.arguments = ["10", "openssl", "s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", ca] + args
                let out = Pipe()
                p.standardOutput = out
                p.standardError = out
                p.standardInput = FileHandle.nullDevice
                do { try p.run() } catch { c.resume(throwing: error); return }
                let data = out.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                c.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
    }

    @Test("a key that does not match the certificate, or a missing file, is a readable error naming it")
    func badFilesAreReadableErrors() throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        do {
            _ = try TLSContext(files: .init(certFile: pki.path("server-ca1.pem"), keyFile: pki.path("server-ca2.key")))
            Issue.record("a key of another certificate was accepted")
        } catch {
            #expect(error.description.contains("server-ca2.key"))
        }
        do {
            _ = try TLSContext(files: .init(certFile: pki.path("nope.pem"), keyFile: pki.path("server-ca1.key")))
            Issue.record("a missing certificate file was accepted")
        } catch {
            #expect(error.description.contains("TLS.CertFile"))
            #expect(error.description.contains("nope.pem"))
        }
    }
}
