import FoundationEssentials
import Model

/// One HTTP request for `HTTPClient`. A plain value: nothing is opened until it
/// is sent. Header names and values must not contain CR or LF (the client
/// refuses them instead of letting a caller inject extra headers).
///
/// TLS material comes either as file paths (`caFile`, `clientCert`,
/// `clientKey`) or in memory (`caData`, `certData`, `keyData`, PEM bytes such
/// as a kubeconfig's `*-data` fields after base64 decoding); memory wins when
/// both are given.
public struct HTTPClientRequest: Sendable {
    public var method: String
    /// `http://` or `https://` only. With `unixSocketPath`, the host part is
    /// ignored by the transport but still sent as `Host` (use `http://localhost/...`).
    public var url: String
    public var headers: [(String, String)]
    /// Sent with any method, GET included (the interLink VK sends GET with a JSON body).
    public var body: Data?
    /// `send`: the whole exchange must finish within this many seconds.
    /// `stream`: only connecting is bounded (a followed log may run for hours).
    public var timeoutSeconds: Double
    public var unixSocketPath: String?
    /// Sent as `Authorization: Bearer <token>`; surrounding whitespace is dropped
    /// (token files usually end with a newline).
    public var bearerToken: String?
    public var caFile: String?
    public var clientCert: String?
    public var clientKey: String?
    public var caData: Data?
    public var certData: Data?
    public var keyData: Data?
    public var insecureSkipTLSVerify: Bool

    public init(method: String = "GET", url: String, headers: [(String, String)] = [], body: Data? = nil,
                timeoutSeconds: Double = 30, unixSocketPath: String? = nil, bearerToken: String? = nil,
                caFile: String? = nil, clientCert: String? = nil, clientKey: String? = nil,
                caData: Data? = nil, certData: Data? = nil, keyData: Data? = nil,
                insecureSkipTLSVerify: Bool = false) {
        self.method = method; self.url = url; self.headers = headers; self.body = body
        self.timeoutSeconds = timeoutSeconds; self.unixSocketPath = unixSocketPath
        self.bearerToken = bearerToken; self.caFile = caFile; self.clientCert = clientCert
        self.clientKey = clientKey; self.caData = caData; self.certData = certData
        self.keyData = keyData; self.insecureSkipTLSVerify = insecureSkipTLSVerify
    }
}

/// What the server answered. Any status is a response, not an error: the
/// caller decides what a 404 or 500 means.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    /// In the order received, names as the server spelt them.
    public var headers: [(String, String)]
    public var body: Data
    /// New connections this exchange needed: 0 when it rode on a kept one.
    public var connectionsOpened: Int

    public init(status: Int, headers: [(String, String)], body: Data, connectionsOpened: Int = 0) {
        self.status = status; self.headers = headers; self.body = body
        self.connectionsOpened = connectionsOpened
    }

    /// The first header with this name, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.0.lowercased() == lower }?.1
    }
}

/// Why a request produced no response. `description` is one sentence naming
/// the URL and what went wrong, fit to print to a user as it is.
public enum HTTPClientError: Error, Sendable, CustomStringConvertible {
    /// libcurl failed (`code` is the `CURLcode`, e.g. 7 cannot connect, 28 timeout,
    /// 60 unknown certificate authority); `message` is the readable sentence.
    case transport(code: Int, message: String)
    /// The request cannot be sent as given (bad URL scheme, CR/LF in a header, ...).
    case invalidRequest(String)
    /// The caller's task was cancelled (or the stream's consumer went away).
    case cancelled
    /// Only from `stream`: the server answered with a non-2xx status; `body` is
    /// what it said (for interLink, a `{"error": ...}` object).
    case status(Int, body: Data)

    public var description: String {
        switch self {
        case .transport(_, let message): return message
        case .invalidRequest(let why): return "invalid request: \(why)"
        case .cancelled: return "request cancelled"
        case .status(let code, let body):
            let text = String(decoding: body.prefix(2000), as: UTF8.self).trimmed
            return text.isEmpty ? "server answered \(code)" : "server answered \(code): \(text)"
        }
    }

    /// True when no connection could be made at all (nothing listening, no
    /// such socket, host unknown): callers can add a hint such as "is it running?".
    public var isConnectFailure: Bool {
        if case .transport(let code, _) = self { return code == 6 || code == 7 }
        return false
    }

    /// The `CURLcode`, when libcurl reported one.
    public var curlCode: Int? {
        if case .transport(let code, _) = self { return code }
        return nil
    }
}
