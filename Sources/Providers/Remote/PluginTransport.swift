import FoundationEssentials
import HTTPClient
import Model

// The only file of the remote provider that knows the HTTP client library:
// if the client moves to another module, only this import changes.

/// Where a plugin listens, as `SidecarURL`/`SidecarPort` say: `http://host`
/// (+ port), `https://host` (+ port) or `unix:///path/to.sock` (port ignored).
public struct PluginEndpoint: Sendable, Equatable {
    public var baseURL: String
    public var unixSocketPath: String?
    /// A file with a bearer token to send (re-read on every call, so it rotates).
    public var tokenFile: String?
    /// Every non-streaming call must finish within this many seconds.
    public var timeoutSeconds: Double

    public init(sidecarURL: String, sidecarPort: Int, tokenFile: String? = nil, timeoutSeconds: Double = 30) {
        if sidecarURL.hasPrefix("unix://") {
            unixSocketPath = String(sidecarURL.dropFirst("unix://".count))
            baseURL = "http://localhost"
        } else {
            unixSocketPath = nil
            var url = sidecarURL
            while url.hasSuffix("/") { url.removeLast() }
            // Upstream joins URL and port; a URL that already names a port keeps it.
            let hostPart = url.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first ?? ""
            let hasPort = hostPart.last != "]" && hostPart.contains(":")
            baseURL = hasPort ? url : "\(url):\(sidecarPort)"
        }
        self.tokenFile = tokenFile
        self.timeoutSeconds = timeoutSeconds
    }

    public var description: String { unixSocketPath.map { "unix://\($0)" } ?? baseURL }
}

/// One answer of the plugin.
struct PluginAnswer: Sendable {
    var status: Int
    var body: Data
    var contentType: String?
}

/// Sends plugin calls and turns every way they can fail into a `ProviderError`
/// that names the plugin and the call.
struct PluginTransport: Sendable {
    let endpoint: PluginEndpoint
    let client = HTTPClient()

    func request(_ method: String, _ path: String, body: Data?, session: String) -> HTTPClientRequest {
        var token: String? = nil
        if let f = endpoint.tokenFile, let d = FileManager.default.contents(atPath: f) {
            token = String(decoding: d, as: UTF8.self)
        }
        return HTTPClientRequest(method: method, url: endpoint.baseURL + path,
                                 headers: [("Content-Type", "application/json"), ("InterLink-Http-Session", session)],
                                 body: body, timeoutSeconds: endpoint.timeoutSeconds,
                                 unixSocketPath: endpoint.unixSocketPath, bearerToken: token)
    }

    /// The whole answer, whatever its status; throws only when there is none.
    func send(_ method: String, _ path: String, body: Data?, session: String) async throws(ProviderError) -> PluginAnswer {
        do {
            let r = try await client.send(request(method, path, body: body, session: session))
            return PluginAnswer(status: r.status, body: r.body, contentType: r.header("Content-Type"))
        } catch {
            throw Self.failure(error, call: "\(method) \(path)", endpoint: endpoint)
        }
    }

    /// Streams the answer body (logs); a non-2xx answer or a broken connection
    /// ends the stream with a `ProviderError`.
    func stream(_ method: String, _ path: String, body: Data?, session: String) -> LogStream {
        let upstream = client.stream(request(method, path, body: body, session: session))
        let endpoint = self.endpoint
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await chunk in upstream { continuation.yield(chunk) }
                    continuation.finish()
                } catch let e as HTTPClientError {
                    continuation.finish(throwing: Self.failure(e, call: "\(method) \(path)", endpoint: endpoint))
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    static func failure(_ e: HTTPClientError, call: String, endpoint: PluginEndpoint) -> ProviderError {
        switch e {
        case .status(let code, let body):
            return PluginErrors.status(code, body: body, call: call, endpoint: endpoint)
        case .transport(let code, let message):
            let hint = e.isConnectFailure ? " (is the plugin running?)" : code == 28 ? " (the plugin did not answer in time)" : ""
            return .backend(command: "plugin \(call) at \(endpoint.description)", message: message + hint, transient: true)
        case .invalidRequest(let why):
            return .unavailable("the plugin address \(endpoint.description) cannot be used: \(why)")
        case .cancelled:
            return .backend(command: "plugin \(call)", message: "cancelled", transient: true)
        }
    }
}

/// Plugin answers that are not what the API promises, as readable reasons.
enum PluginErrors {
    /// A non-2xx answer: the plugin's own `{"error": ...}` message (or its
    /// text, cut short) becomes the reason. 4xx means the plugin refused this
    /// pod (not retried), 5xx a plugin fault (retried).
    static func status(_ code: Int, body: Data, call: String, endpoint: PluginEndpoint) -> ProviderError {
        let said: String
        if let e = try? WireJSON.decode(APIError.self, from: body) { said = e.error }
        else { said = String(decoding: body.prefix(500), as: UTF8.self).trimmed }
        let message = "plugin at \(endpoint.description) answered \(code)" + (said.isEmpty ? "" : ": \(said)")
        if code == 404 { return .notFound(message) }
        if (400..<500).contains(code) && code != 408 && code != 429 { return .invalidPod(message) }
        return .backend(command: "plugin \(call)", message: message, transient: true)
    }

    /// A 2xx answer whose body is not the JSON expected.
    static func notJSON(_ body: Data, expected: String, call: String, endpoint: PluginEndpoint, _ error: any Error) -> ProviderError {
        let text = String(decoding: body.prefix(200), as: UTF8.self).trimmed
        return .backend(command: "plugin \(call)",
                        message: "plugin at \(endpoint.description) answered something that is not \(expected) (\(WireJSON.describe(error))): \"\(text)\"",
                        transient: true)
    }
}
