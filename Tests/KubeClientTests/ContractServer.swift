import Foundation
import HTTPClient
import KubeClient
import Providers
#if canImport(Glibc)
import Glibc
#endif

/// The repository's contract API server (`scripts/kube-contract-server.py`)
/// on real HTTPS with the test PKI: it checks a bearer token (the current
/// contents of `tokenFile`) or a client certificate, records every request,
/// and takes injected faults. Killed by `stop()` and when the test process ends.
final class ContractServer: Sendable {
    let port: Int
    let pki: TestPKI
    let tokenFile: String
    private let pid: pid_t
    private let control = HTTPClient()

    var url: String { "https://127.0.0.1:\(port)" }

    private init(port: Int, pki: TestPKI, tokenFile: String, pid: pid_t) {
        self.port = port; self.pki = pki; self.tokenFile = tokenFile; self.pid = pid
    }

    func stop() { kill(pid, SIGKILL) }

    static var scriptPath: String {
        // Tests/KubeClientTests/ContractServer.swift -> repository root.
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/scripts/kube-contract-server.py"
    }

    static func start(token: String = "token-1") async throws -> ContractServer {
        let pki = try await TestPKI.shared.value
        let dir = makeTempDir()
        let tokenFile = dir + "/server-token"
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let r = try await ProcessRunner.run("python3", [scriptPath, "--cert", pki.serverCert, "--key", pki.serverKey,
                                                        "--client-ca", pki.caFile, "--token-file", tokenFile,
                                                        "--parent-pid", String(getpid())], timeout: 30)
        let parts = r.stdoutText.trimmed.split(separator: " ").map(String.init)
        guard parts.count == 3, parts[0] == "READY", let port = Int(parts[1]), let pid = pid_t(parts[2]) else {
            throw TestServer.TestServerError(message: "contract server did not start: \(r.stdoutText) \(r.stderrText)")
        }
        return ContractServer(port: port, pki: pki, tokenFile: tokenFile, pid: pid)
    }

    /// The server accepts only this token from now on.
    func rotateToken(_ token: String) throws {
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
    }

    /// A connection as a client would resolve it, with a token file of its own.
    func connection(tokenFile: String) -> KubeConnection {
        KubeConnection(server: url, caFile: pki.caFile, tokenFile: tokenFile, source: "test")
    }

    func call(_ method: String, _ path: String, _ body: Data? = nil) async throws -> Data {
        let r = try await control.send(HTTPClientRequest(method: method, url: url + path, body: body, caFile: pki.caFile))
        guard r.status == 200 else { throw TestServer.TestServerError(message: "control \(path) answered \(r.status)") }
        return r.body
    }

    struct Recorded: Decodable {
        var method: String
        var path: String
        var query: [String: String]
        var conn: Int
        var contentType: String
        var auth: String
        var clientCN: String?
        var body: String
        var status: StatusValue?
        /// For a PATCH: the whole object after the server applied it.
        var mergedJSON: AnyJSON?
        var merged: Any? { mergedJSON?.value }
        enum CodingKeys: String, CodingKey {
            case method, path, query, conn, contentType, auth, clientCN, body, status
            case mergedJSON = "merged"
        }
        /// An HTTP code, or "dropped".
        enum StatusValue: Decodable, Equatable {
            case code(Int), dropped
            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let i = try? c.decode(Int.self) { self = .code(i) } else { self = .dropped }
            }
        }
        var code: Int? { if case .code(let c) = status { return c }; return nil }
        var json: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
        }
    }

    /// Any JSON value, kept as JSONSerialization objects.
    struct AnyJSON: Decodable {
        var value: Any
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let o = try? c.decode([String: AnyJSON].self) { value = o.mapValues(\.value) }
            else if let a = try? c.decode([AnyJSON].self) { value = a.map(\.value) }
            else if let b = try? c.decode(Bool.self) { value = b }
            else if let i = try? c.decode(Int.self) { value = i }
            else if let d = try? c.decode(Double.self) { value = d }
            else if let s = try? c.decode(String.self) { value = s }
            else { value = NSNull() }
        }
    }

    func requests() async throws -> [Recorded] {
        try JSONDecoder().decode([Recorded].self, from: try await call("GET", "/_control/requests"))
    }

    /// Each fault answers the next `count` (default 1) matching requests:
    /// `["method": "GET", "path": regex, "status": 429, "retryAfter": 1]`,
    /// `["path": ..., "drop": true]`, `["watchError": true]`.
    func inject(_ faults: [[String: Any]]) async throws {
        _ = try await call("POST", "/_control/faults", try JSONSerialization.data(withJSONObject: faults))
    }

    func seed(_ pods: [[String: Any]]) async throws {
        _ = try await call("POST", "/_control/pods", try JSONSerialization.data(withJSONObject: pods))
    }

    func pods() async throws -> [[String: Any]] {
        try JSONSerialization.jsonObject(with: try await call("GET", "/_control/pods")) as? [[String: Any]] ?? []
    }

    func events() async throws -> [[String: Any]] {
        try JSONSerialization.jsonObject(with: try await call("GET", "/_control/events")) as? [[String: Any]] ?? []
    }

    /// Every resourceVersion so far becomes too old for a watch.
    func compact() async throws { _ = try await call("POST", "/_control/compact") }
}
