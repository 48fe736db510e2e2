import Config
import FoundationEssentials
import HTTPClient
import Model

/// Something `ctl` reports as one line on stderr before exiting with `exitCode`
/// (1 for failures, 2 for usage and configuration errors).
struct CtlFailure: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32
    init(_ message: String, exitCode: Int32 = 1) { self.message = message; self.exitCode = exitCode }
    var description: String { message }
}

/// Where and how `ctl` talks to interLink: base URL (or unix socket), token
/// file, CA. Requests carry the headers the virtual kubelet sends
/// (`Content-Type: application/json`, `InterLink-Http-Session: <Op>#<n>`,
/// `Authorization: Bearer`, the token file re-read on every call).
struct CtlConnection: Sendable {
    var baseURL: String
    var unixSocket: String?
    var tokenFile: String?
    var caFile: String?
    var timeoutSeconds = 30.0
    private let client = HTTPClient()

    init(baseURL: String, unixSocket: String? = nil, tokenFile: String? = nil, caFile: String? = nil) {
        self.baseURL = baseURL; self.unixSocket = unixSocket; self.tokenFile = tokenFile; self.caFile = caFile
    }

    static let implicitConfigPath = "./config/InterLinkConfig.yaml"

    /// `--url` and `--token-file` win; otherwise the config decides (`--config`,
    /// then `$INTERLINKCONFIGPATH`, then `./config/InterLinkConfig.yaml` when it
    /// exists); otherwise `http://127.0.0.1:3000` and no token.
    static func resolve(_ args: CtlArguments, environment: [String: String]) throws(CtlFailure) -> CtlConnection {
        var config = InterLinkConfig()
        let explicitPath = args.configPath ?? environment["INTERLINKCONFIGPATH"].flatMap { $0.isEmpty ? nil : $0 }
        let path = explicitPath ?? (FileManager.default.fileExists(atPath: implicitConfigPath) ? implicitConfigPath : nil)
        if let path, args.url == nil || args.tokenFile == nil {
            do { config = try ConfigLoader.load(path: path, environment: environment) }
            catch { throw CtlFailure(error.description, exitCode: 2) }
        } else if path == nil {
            // No file, but the same environment overrides the server honours.
            if let u = environment["INTERLINKURL"], !u.isEmpty { config.interlinkAddress = u }
            if let p = environment["INTERLINKPORT"].flatMap({ Int($0) }) { config.interlinkPort = p }
        }

        var conn: CtlConnection
        if let url = args.url {
            conn = try parse(url: url)
        } else if config.interlinkAddress.hasPrefix("unix://") {
            conn = try parse(url: config.interlinkAddress)
        } else {
            let port = config.interlinkPort > 0 ? ":\(config.interlinkPort)" : ""
            conn = try parse(url: config.interlinkAddress + port)
        }
        conn.tokenFile = args.tokenFile ?? config.vkTokenFile
        conn.caFile = args.caFile ?? (config.tls.caCertFile.isEmpty ? nil : config.tls.caCertFile)
        return conn
    }

    /// `http(s)://host[:port][/prefix]`, `unix:///path.sock`, or a bare `host:port`.
    static func parse(url: String) throws(CtlFailure) -> CtlConnection {
        if url.hasPrefix("unix://") {
            let path = String(url.dropFirst("unix://".count))
            guard path.hasPrefix("/") else { throw CtlFailure("\(url): a unix socket URL needs an absolute path (unix:///path.sock)", exitCode: 2) }
            return CtlConnection(baseURL: "http://localhost", unixSocket: path)
        }
        var base = url
        if !base.contains("://") { base = "http://" + base }
        guard base.hasPrefix("http://") || base.hasPrefix("https://") else {
            throw CtlFailure("\(url): the URL must be http://, https:// or unix://", exitCode: 2)
        }
        while base.hasSuffix("/") { base.removeLast() }
        return CtlConnection(baseURL: base)
    }

    /// What to show as "where": the socket or the URL.
    var target: String { unixSocket.map { "unix://\($0)" } ?? baseURL }

    func request(op: String, method: String, path: String, body: Data?) throws(CtlFailure) -> HTTPClientRequest {
        var token: String?
        if let tokenFile {
            guard let data = FileManager.default.contents(atPath: tokenFile) else {
                throw CtlFailure("cannot read the token file \(tokenFile)")
            }
            token = String(decoding: data, as: UTF8.self).trimmed
        }
        return HTTPClientRequest(
            method: method, url: baseURL + path,
            headers: [("Content-Type", "application/json"),
                      ("InterLink-Http-Session", "\(op)#\(Int.random(in: 1...999_999))")],
            body: body, timeoutSeconds: timeoutSeconds, unixSocketPath: unixSocket,
            bearerToken: token, caFile: caFile)
    }

    /// One call; a non-2xx answer becomes a failure carrying the server's message.
    func call(op: String, method: String, path: String, body: Data?) async throws(CtlFailure) -> HTTPClientResponse {
        let req = try request(op: op, method: method, path: path, body: body)
        let response: HTTPClientResponse
        do { response = try await client.send(req) }
        catch { throw Self.failure(error) }
        guard (200..<300).contains(response.status) else {
            throw CtlFailure(Self.serverMessage(status: response.status, body: response.body))
        }
        return response
    }

    /// The body as it arrives (for `logs -f`).
    func stream(op: String, method: String, path: String, body: Data?) throws(CtlFailure) -> AsyncThrowingStream<Data, any Error> {
        var req = try request(op: op, method: method, path: path, body: body)
        req.timeoutSeconds = timeoutSeconds
        return client.stream(req)
    }

    static func failure(_ error: HTTPClientError) -> CtlFailure {
        switch error {
        case .status(let code, let body): return CtlFailure(serverMessage(status: code, body: body))
        default:
            return CtlFailure(error.description + (error.isConnectFailure ? " (is interlink running?)" : ""))
        }
    }

    /// The `{"error": ...}` message of an error answer, else its first line of text.
    static func serverMessage(status: Int, body: Data) -> String {
        if let e = try? JSONDecoder().decode(APIError.self, from: body), !e.error.isEmpty {
            return oneLine(e.error)
        }
        let text = oneLine(String(decoding: body.prefix(500), as: UTF8.self))
        return text.isEmpty ? "server answered \(status)" : "server answered \(status): \(text)"
    }

    static func oneLine(_ s: String) -> String {
        s.split(whereSeparator: \.isNewline).map { $0.trimmed }.filter { !$0.isEmpty }.joined(separator: " ")
    }
}
