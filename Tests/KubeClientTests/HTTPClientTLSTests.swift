import FoundationEssentials
import HTTPClient
import Providers
import Testing

/// A throwaway PKI made with the `openssl` CLI: a CA, a server certificate for
/// 127.0.0.1 and a client certificate, all signed by the CA.
struct TestPKI: Sendable {
    let dir: String
    var caFile: String { dir + "/ca.crt" }
    var serverCert: String { dir + "/server.crt" }
    var serverKey: String { dir + "/server.key" }
    var clientCert: String { dir + "/client.crt" }
    var clientKey: String { dir + "/client.key" }

    /// Made once per test run; every TLS test shares it.
    static let shared = Task { try await TestPKI.make() }

    static func make() async throws -> TestPKI {
        let dir = makeTempDir()
        func openssl(_ args: [String]) async throws {
            let r = try await ProcessRunner.run("openssl", args, workingDirectory: dir, timeout: 60)
            guard r.succeeded else { throw CommandFailed(command: "openssl \(args.first ?? "")", result: r) }
        }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try await openssl(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=interlink-test-ca"])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
            .write(toFile: dir + "/server.ext", atomically: true, encoding: .utf8)
        try "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"
            .write(toFile: dir + "/client.ext", atomically: true, encoding: .utf8)
        for (name, cn) in [("server", "127.0.0.1"), ("client", "interlink-test-client")] {
            try await openssl(["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(cn)"])
            try await openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                               "-CAcreateserial", "-out", "\(name).crt", "-days", "2", "-extfile", "\(name).ext"])
        }
        return TestPKI(dir: dir)
    }

    func read(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }
}

let opensslAvailable = ProcessRunner.resolve("openssl") != nil

@Suite(.enabled(if: opensslAvailable, "needs the openssl CLI to make test certificates"))
struct HTTPClientTLSTests {
    let client = HTTPClient()

    @Test func trustedWithCAFile() async throws {
        let pki = try await TestPKI.shared.value
        let server = try await TestServer.tls(cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let r = try await client.send(HTTPClientRequest(url: server.httpsURL + "/echo", caFile: pki.caFile))
        #expect(r.status == 200)
    }

    @Test func trustedWithCAData() async throws {
        let pki = try await TestPKI.shared.value
        let server = try await TestServer.tls(cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let r = try await client.send(HTTPClientRequest(url: server.httpsURL + "/echo", caData: try pki.read(pki.caFile)))
        #expect(r.status == 200)
    }

    @Test func unknownCAIsRefused() async throws {
        let pki = try await TestPKI.shared.value
        let server = try await TestServer.tls(cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await client.send(HTTPClientRequest(url: server.httpsURL + "/echo"))
        }
        #expect(error?.curlCode == 60)
        #expect(error?.description.hasPrefix("TLS: the certificate of \(server.httpsURL)/echo is not trusted") == true)
    }

    @Test func insecureSkipVerifyAcceptsAnyCertificate() async throws {
        let pki = try await TestPKI.shared.value
        let server = try await TestServer.tls(cert: pki.serverCert, key: pki.serverKey)
        defer { server.stop() }
        let r = try await client.send(HTTPClientRequest(url: server.httpsURL + "/echo", insecureSkipTLSVerify: true))
        #expect(r.status == 200)
    }

    @Test func clientCertificateFromFiles() async throws {
        let pki = try await TestPKI.shared.value
        let server = try await TestServer.tls(cert: pki.serverCert, key: pki.serverKey, requireClientCA: pki.caFile)
        defer { server.stop() }
        let r = try await client.send(HTTPClientRequest(
            url: server.httpsURL + "/echo", caFile: pki.caFile, clientCert: pki.clientCert, clientKey: pki.clientKey))
        #expect(r.status == 200)
    }

    @Test func clientCertificateFromMemory() async throws {
        let pki = try await TestPKI.shared.value
        let server = try await TestServer.tls(cert: pki.serverCert, key: pki.serverKey, requireClientCA: pki.caFile)
        defer { server.stop() }
        let r = try await client.send(HTTPClientRequest(
            url: server.httpsURL + "/echo", caData: try pki.read(pki.caFile),
            certData: try pki.read(pki.clientCert), keyData: try pki.read(pki.clientKey)))
        #expect(r.status == 200)
    }

    @Test func missingClientCertificateFails() async throws {
        let pki = try await TestPKI.shared.value
        let server = try await TestServer.tls(cert: pki.serverCert, key: pki.serverKey, requireClientCA: pki.caFile)
        defer { server.stop() }
        // TLS 1.3 reports the rejected handshake only when the answer is read,
        // so the exact code varies (56 recv error, 35 handshake); it must fail.
        await #expect(throws: HTTPClientError.self) {
            _ = try await client.send(HTTPClientRequest(url: server.httpsURL + "/echo", caFile: pki.caFile))
        }
    }
}
