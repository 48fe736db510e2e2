import FoundationEssentials

/// Header fields in arrival order; lookups ignore case, as HTTP requires.
public struct HTTPHeaders: Sendable, Equatable, Sequence {
    public private(set) var fields: [(name: String, value: String)] = []

    public init(_ fields: [(String, String)] = []) { self.fields = fields.map { (name: $0.0, value: $0.1) } }

    public subscript(name: String) -> String? {
        fields.first { Self.sameName($0.name, name) }?.value
    }

    public func values(_ name: String) -> [String] {
        fields.filter { Self.sameName($0.name, name) }.map(\.value)
    }

    public mutating func add(_ name: String, _ value: String) { fields.append((name: name, value: value)) }

    public mutating func set(_ name: String, _ value: String) {
        fields.removeAll { Self.sameName($0.name, name) }
        fields.append((name: name, value: value))
    }

    /// Field names are ASCII tokens: compare them case-insensitively without allocating
    /// (every request looks several names up).
    static func sameName(_ a: String, _ b: String) -> Bool {
        var ai = a.utf8.makeIterator(), bi = b.utf8.makeIterator()
        while true {
            switch (ai.next(), bi.next()) {
            case (nil, nil): return true
            case (let x?, let y?):
                if x == y { continue }
                let lx = x >= 0x41 && x <= 0x5A ? x | 0x20 : x
                let ly = y >= 0x41 && y <= 0x5A ? y | 0x20 : y
                if lx != ly { return false }
            default: return false
            }
        }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    public static func == (a: HTTPHeaders, b: HTTPHeaders) -> Bool {
        a.fields.count == b.fields.count && zip(a.fields, b.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

/// One parsed request, body complete (chunked bodies already de-chunked).
public struct HTTPRequest: Sendable {
    public var method: String
    /// The request-target as sent (`/status?x=1`).
    public var target: String
    /// The path part of the target, percent-decoding not applied.
    public var path: String
    public var query: String?
    /// `HTTP/1.1` or `HTTP/1.0`.
    public var version: String
    public var headers: HTTPHeaders
    public var body: Data
    /// Peer address for logs (`127.0.0.1:53412`, `unix`).
    public var remote: String

    public init(method: String, target: String, version: String = "HTTP/1.1", headers: HTTPHeaders = HTTPHeaders(),
                body: Data = Data(), remote: String = "") {
        self.method = method; self.target = target; self.version = version
        self.headers = headers; self.body = body; self.remote = remote
        if let q = target.firstIndex(of: "?") {
            path = String(target[..<q]); query = String(target[target.index(after: q)...])
        } else {
            path = target; query = nil
        }
    }
}

/// A response body: bytes known up front, or a stream sent with chunked
/// transfer encoding (log follow). The server stops reading the stream and
/// cancels it when the client goes away.
public enum HTTPBody: Sendable {
    case bytes(Data)
    case stream(AsyncThrowingStream<Data, any Error>)
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: HTTPBody

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: HTTPBody = .bytes(Data())) {
        self.status = status; self.headers = headers; self.body = body
    }

    public static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: HTTPHeaders([("Content-Type", contentType)]), body: .bytes(Data(text.utf8)))
    }

    public static func json(_ status: Int, _ data: Data) -> HTTPResponse {
        HTTPResponse(status: status, headers: HTTPHeaders([("Content-Type", "application/json")]), body: .bytes(data))
    }

    /// `{"error": message}` with the given status.
    public static func error(_ status: Int, _ message: String) -> HTTPResponse {
        var escaped = ""
        for u in message.unicodeScalars {
            switch u {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            default:
                if u.value < 0x20 { escaped += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16) }
                else { escaped.unicodeScalars.append(u) }
            }
        }
        return json(status, Data("{\"error\":\"\(escaped)\"}".utf8))
    }

    /// Standard reason phrases for the status line.
    public static func reason(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Status \(status)"
        }
    }
}

/// Handles one request. Handlers never throw: every failure is a response.
public typealias HTTPHandler = @Sendable (HTTPRequest) async -> HTTPResponse

/// Where the server listens.
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// Host name or IP and port; port 0 picks a free one (see `HTTPServer.boundPort`).
    case tcp(host: String, port: Int)
    /// A unix socket path; the socket file is created with mode 0600.
    case unix(path: String)

    public var description: String {
        switch self {
        case .tcp(let h, let p): return "\(h):\(p)"
        case .unix(let p): return "unix://\(p)"
        }
    }
}

/// Limits and timeouts of the HTTP server, each a named value.
public struct HTTPServerConfig: Sendable {
    public var listen: ListenAddress
    /// Request line plus headers larger than this -> 431.
    public var maxHeaderBytes = 16 * 1024
    /// Bodies larger than this (declared or chunked) -> 413.
    public var maxBodyBytes = 32 * 1024 * 1024
    /// A connection with no progress for this long is closed (408 if mid-request).
    public var readTimeoutSeconds = 30.0
    /// Connections beyond this are answered 503 and closed.
    public var maxConnections = 1024
    /// How long a graceful shutdown waits for in-flight requests.
    public var shutdownGraceSeconds = 30.0
    /// A request body must be complete this long after its head (408 otherwise),
    /// however steadily it trickles in; `readTimeoutSeconds` bounds each pause.
    public var bodyTimeoutSeconds = 60.0
    /// Runs once a request's head is in, before its body is read (authentication).
    public var headCheck: HTTPHeadCheck?
    /// Serve TLS on every accepted connection (nil: plain HTTP).
    public var tls: TLSContext?

    public init(listen: ListenAddress) { self.listen = listen }
}

/// What a head check decided about a request whose body has not been read yet.
public enum HTTPHeadVerdict: Sendable {
    /// Go on; nothing is known about the client (an open route).
    case proceed
    /// Go on; the client proved who it is. Its connection is never evicted to
    /// make room for new ones.
    case authenticated
    /// Answer this without reading the body, then close the connection.
    case reject(HTTPResponse)
}

/// Looks at a request head (its body is empty) before the body is read.
/// Runs on a connection thread, so it must be quick and must not block.
public typealias HTTPHeadCheck = @Sendable (HTTPRequest) -> HTTPHeadVerdict
