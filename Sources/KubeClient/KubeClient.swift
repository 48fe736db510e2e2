import FoundationEssentials
import HTTPClient
import Model
import Support
import Synchronization

/// A Kubernetes API client on libcurl. One value per API server: it keeps its
/// connection open between calls (HTTP/2 where the server offers it), spends
/// a client-go style QPS/burst budget on every call, retries 429 (after
/// `Retry-After`), 5xx and network errors with jittered exponential backoff,
/// and turns refusals into `KubeError.status` carrying the server's `Status`.
///
/// The operations (get, list, watch, create, patch, delete) live in
/// `KubeClient+Operations.swift`; this file is the transport.
public final class KubeClient: Sendable {
    public let connection: KubeConnection
    public let limiter: TokenBucket
    public let retry: RetryPolicy
    public let timeoutSeconds: Double
    private let http = HTTPClient(reuseConnections: true)
    private let tokenSource: TokenSource?
    private let tally = Mutex<Counters>(Counters())

    /// What this client has sent, for `make bench` and metrics.
    public struct Counters: Sendable, Equatable {
        /// HTTP exchanges, retries included.
        public var requests = 0
        public var retries = 0
        public var connectionsOpened = 0
        /// Calls by verb and resource, e.g. "patch pods/status".
        public var byCall: [String: Int] = [:]
    }

    public init(connection: KubeConnection, qps: Double = 5, burst: Int = 10,
                retry: RetryPolicy = .default, timeoutSeconds: Double = 30) {
        self.connection = connection
        self.limiter = TokenBucket(qps: qps, burst: burst)
        self.retry = retry
        self.timeoutSeconds = timeoutSeconds
        self.tokenSource = connection.tokenFile.map { TokenSource(path: $0) }
    }

    public var counters: Counters { tally.withLock { $0 } }

    /// One API call with limits and retries; answers the 2xx response.
    /// `call` names it for the counters ("patch pods/status").
    func send(_ method: String, _ path: String, query: [(String, String)] = [], body: Data? = nil,
              contentType: String? = nil, call: String) async throws(KubeError) -> HTTPClientResponse {
        var attempt = 0
        var reloadedToken = false
        while true {
            do { try await limiter.acquire() } catch { throw .cancelled }
            let request = try makeRequest(method, path, query: query, body: body, contentType: contentType,
                                          reloadToken: false, timeout: timeoutSeconds)
            count(call)
            let response: HTTPClientResponse
            do {
                response = try await http.send(request)
            } catch {
                if case .cancelled = error { throw .cancelled }
                if case .invalidRequest(let m) = error { throw .invalidRequest(m) }
                guard let wait = retry.delay(afterAttempt: attempt, retryAfter: nil) else {
                    throw .transport(method: method, path: path, message: error.description, attempts: attempt + 1)
                }
                Log.debug("kubernetes call failed, retrying", ["call": "\(method) \(path)", "error": error.description])
                try await pause(wait); attempt += 1
                continue
            }
            tally.withLock { $0.connectionsOpened += response.connectionsOpened }
            if (200..<300).contains(response.status) { return response }
            if response.status == 401, tokenSource != nil, !reloadedToken {
                // The token may have rotated since we read it: read it again once.
                reloadedToken = true
                _ = try? tokenSource?.token(forceReload: true)
                continue
            }
            if RetryPolicy.isRetryable(status: response.status),
               let wait = retry.delay(afterAttempt: attempt, retryAfter: response.header("Retry-After")) {
                Log.debug("kubernetes call answered \(response.status), retrying",
                          ["call": "\(method) \(path)", "wait": "\(wait)"])
                try await pause(wait); attempt += 1
                continue
            }
            throw Self.error(for: response.status, body: response.body, method: method, path: path)
        }
    }

    /// A streaming call (watch): limits apply to starting it; no retries (the
    /// caller resumes from its last resourceVersion).
    func stream(_ path: String, query: [(String, String)], call: String) async throws(KubeError) -> AsyncThrowingStream<Data, any Error> {
        do { try await limiter.acquire() } catch { throw .cancelled }
        count(call)
        let request = try makeRequest("GET", path, query: query, body: nil, contentType: nil, reloadToken: false,
                                      timeout: timeoutSeconds)
        return http.stream(request)
    }

    private func pause(_ d: Duration) async throws(KubeError) {
        tally.withLock { $0.retries += 1 }
        do { try await Task.sleep(for: d) } catch { throw .cancelled }
    }

    private func count(_ call: String) {
        tally.withLock { $0.requests += 1; $0.byCall[call, default: 0] += 1 }
    }

    func makeRequest(_ method: String, _ path: String, query: [(String, String)], body: Data?, contentType: String?,
                     reloadToken: Bool, timeout: Double) throws(KubeError) -> HTTPClientRequest {
        var url = connection.server + path
        if !query.isEmpty {
            url += "?" + query.map { "\(KubePath.escapeQuery($0.0))=\(KubePath.escapeQuery($0.1))" }.joined(separator: "&")
        }
        var headers: [(String, String)] = [("Accept", "application/json"), ("User-Agent", "interlink-swift")]
        if let contentType { headers.append(("Content-Type", contentType)) }
        let c = connection
        var token = c.token
        if let tokenSource { token = try tokenSource.token(forceReload: reloadToken) }
        return HTTPClientRequest(method: method, url: url, headers: headers, body: body, timeoutSeconds: timeout,
                                 bearerToken: token, caFile: c.caFile, clientCert: c.clientCertFile,
                                 clientKey: c.clientKeyFile, caData: c.caData, certData: c.clientCertData,
                                 keyData: c.clientKeyData, insecureSkipTLSVerify: c.insecureSkipTLSVerify)
    }

    static func error(for code: Int, body: Data, method: String, path: String) -> KubeError {
        let status = try? JSONDecoder().decode(KubeStatus.self, from: body)
        if code == 410 { return .gone(path: path, message: status?.message ?? "") }
        let fallback = KubeStatus(message: String(decoding: body.prefix(500), as: UTF8.self).trimmed, code: code)
        return .status(code: code, method: method, path: path, status: status?.message == nil ? fallback : status)
    }
}

/// Building request paths from names that come from pods (hostile input):
/// each segment is percent-encoded, so a name cannot add path segments or a query.
public enum KubePath {
    public static func segment(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(b)))
            case UInt8(ascii: "."):
                out.append(".")
            default:
                out += "%" + String(b, radix: 16, uppercase: true).leftPad(2)
            }
        }
        // "." and ".." would be resolved by a proxy: encode them whole.
        if out == "." || out == ".." { return String(repeating: "%2E", count: out.count) }
        return out
    }

    public static func escapeQuery(_ s: String) -> String { segment(s) }

    /// `/apis/{group}/{version}/namespaces/{ns}/{resource}[/{name}[/{sub}]]`,
    /// e.g. leases in `coordination.k8s.io/v1`.
    public static func group(_ group: String, _ version: String, _ resource: String, namespace: String?,
                             name: String? = nil, subresource: String? = nil) -> String {
        var p = "/apis/\(segment(group))/\(segment(version))"
        if let namespace { p += "/namespaces/" + segment(namespace) }
        p += "/" + resource
        if let name { p += "/" + segment(name) }
        if let subresource { p += "/" + subresource }
        return p
    }

    /// `/api/v1/namespaces/{ns}/{resource}[/{name}[/{sub}]]` for core resources.
    public static func core(_ resource: String, namespace: String?, name: String? = nil, subresource: String? = nil) -> String {
        var p = "/api/v1"
        if let namespace { p += "/namespaces/" + segment(namespace) }
        p += "/" + resource
        if let name { p += "/" + segment(name) }
        if let subresource { p += "/" + subresource }
        return p
    }
}

extension String {
    fileprivate func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
