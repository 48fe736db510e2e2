import FoundationEssentials

/// An incremental HTTP/1.1 request parser: a state machine fed arbitrary byte
/// slices (`append`), which yields complete requests one at a time
/// (`nextRequest`), leaving pipelined bytes buffered for the next call.
///
/// Contract: pure (no I/O, no clock); never assumes a request arrives in one
/// piece; feeding the same bytes in any split gives the same requests and the
/// same error. Every limit is a named value. Once it has thrown, it stays
/// failed and throws the same error again: the connection must be closed.
public struct HTTPRequestParser: Sendable {
    /// Longest chunk-size line (size, extensions) accepted before we call it malformed.
    public static let maxChunkLineBytes = 4096
    /// Empty lines tolerated before a request line (RFC 9112 section 2.2 robustness).
    public static let maxLeadingEmptyLines = 8

    public let maxHeaderBytes: Int
    public let maxBodyBytes: Int

    private enum State: Sendable {
        case requestLine
        case headers
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case failed(HTTPParseError)
    }

    private var state: State = .requestLine
    private var buffer: [UInt8] = []
    /// Start of unconsumed bytes in `buffer`.
    private var start = 0
    /// Where the search for the next LF resumes: bytes before it hold no LF,
    /// so byte-by-byte feeding stays linear.
    private var scan = 0
    /// Bytes of the current head (request line + headers, or trailers) consumed so far.
    private var headBytes = 0
    private var leadingEmptyLines = 0

    // The request being assembled.
    private var method = ""
    private var target = ""
    private var version = ""
    private var headers = HTTPHeaders()
    /// The body is built here and handed to the request as is (no second full copy).
    private var body = Data()
    private var expectsContinue = false

    public init(maxHeaderBytes: Int = 16 * 1024, maxBodyBytes: Int = 32 * 1024 * 1024) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }

    public init(config: HTTPServerConfig) {
        self.init(maxHeaderBytes: config.maxHeaderBytes, maxBodyBytes: config.maxBodyBytes)
    }

    /// Adds received bytes.
    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if start > 0 && start == buffer.count {
            // Everything consumed: drop it, and give back a buffer a large read grew
            // (an idle keep-alive connection should cost next to nothing).
            buffer.removeAll(keepingCapacity: buffer.capacity <= Self.keptBufferCapacity)
            scan = 0
            start = 0
        } else if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            scan -= start
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Largest receive buffer kept across requests; a larger one is freed once drained.
    static let keptBufferCapacity = 32 * 1024

    /// The head of the request being received once its head is complete and
    /// while its body is still arriving (body empty): what a check that must not
    /// wait for the body (authentication) looks at. Nil while reading a head.
    public var currentHead: HTTPRequest? {
        switch state {
        case .fixedBody, .chunkSize, .chunkData, .chunkDataEnd, .trailers:
            return HTTPRequest(method: method, target: target, version: version, headers: headers)
        case .requestLine, .headers, .failed:
            return nil
        }
    }

    /// True when no byte of a next request has been received: a timeout now is
    /// an idle keep-alive connection, not a slow request.
    public var isIdle: Bool {
        if case .requestLine = state { return start == buffer.count && leadingEmptyLines == 0 }
        return false
    }

    /// True while the request line or headers are incomplete (including idle).
    public var isReadingHead: Bool {
        switch state {
        case .requestLine, .headers: return true
        default: return false
        }
    }

    /// True when the head asked for `Expect: 100-continue` and the body has not
    /// started: the server should send `100 Continue`, then call `continueSent()`.
    public var awaitingContinue: Bool { expectsContinue && start == buffer.count }

    public mutating func continueSent() { expectsContinue = false }

    /// The next complete request, nil if more bytes are needed.
    public mutating func nextRequest() throws(HTTPParseError) -> HTTPRequest? {
        do {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func step() throws(HTTPParseError) -> HTTPRequest? {
        while true {
            // Once body bytes arrive, a 100 Continue would only be noise before the final response.
            if expectsContinue && start < buffer.count && !isReadingHead { expectsContinue = false }
            switch state {
            case .failed(let error):
                throw error
            case .requestLine:
                guard let line = try takeLine(limit: maxHeaderBytes, tooLong: .headersTooLarge(limit: maxHeaderBytes)) else { return nil }
                if line.isEmpty {
                    leadingEmptyLines += 1
                    headBytes = 0
                    if leadingEmptyLines > Self.maxLeadingEmptyLines { throw .malformedRequestLine("too many empty lines before it") }
                    continue
                }
                try parseRequestLine(line)
                state = .headers
            case .headers:
                guard let line = try takeLine(limit: maxHeaderBytes, tooLong: .headersTooLarge(limit: maxHeaderBytes)) else { return nil }
                if line.isEmpty {
                    if let request = try finishHead() { return request }
                    continue
                }
                try parseHeaderLine(line, into: &headers)
            case .fixedBody(let remaining):
                let available = buffer.count - start
                let n = min(available, remaining)
                appendBody(n)
                consume(n)
                if n == remaining { return completeRequest() }
                state = .fixedBody(remaining: remaining - n)
                return nil
            case .chunkSize:
                guard let line = try takeLine(limit: Self.maxChunkLineBytes, head: false, tooLong: .malformedChunk("chunk size line too long")) else { return nil }
                let size = try parseChunkSize(line)
                if size == 0 {
                    headBytes = 0
                    state = .trailers
                } else {
                    if size > maxBodyBytes - body.count { throw .bodyTooLarge(limit: maxBodyBytes) }
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let available = buffer.count - start
                let n = min(available, remaining)
                appendBody(n)
                consume(n)
                if n < remaining { state = .chunkData(remaining: remaining - n); return nil }
                state = .chunkDataEnd
            case .chunkDataEnd:
                guard let line = try takeLine(limit: 2, head: false, tooLong: .malformedChunk("chunk data longer than its size")) else { return nil }
                guard line.isEmpty else { throw .malformedChunk("chunk data longer than its size") }
                state = .chunkSize
            case .trailers:
                // Trailers are tolerated and dropped: nothing in our API reads them.
                guard let line = try takeLine(limit: maxHeaderBytes, tooLong: .headersTooLarge(limit: maxHeaderBytes)) else { return nil }
                if line.isEmpty { return completeRequest() }
                var ignored = HTTPHeaders()
                try parseHeaderLine(line, into: &ignored)
            }
        }
    }

    /// Moves `n` buffered bytes into the body with one memcpy.
    private mutating func appendBody(_ n: Int) {
        guard n > 0 else { return }
        let from = start
        buffer.withUnsafeBufferPointer { body.append(UnsafeBufferPointer(rebasing: $0[from..<(from + n)])) }
    }

    private mutating func consume(_ n: Int) {
        start += n
        if scan < start { scan = start }
    }

    /// Takes one line (without CRLF or bare LF), or nil when no full line is buffered yet.
    /// For head lines (`head: true`) `limit` bounds the whole head so far plus this
    /// line; otherwise it bounds this line alone. A partial line already over the
    /// limit fails at once, so a client cannot make us buffer without bound.
    private mutating func takeLine(limit: Int, head: Bool = true, tooLong: HTTPParseError) throws(HTTPParseError) -> ArraySlice<UInt8>? {
        let before = head ? headBytes : 0
        var i = max(scan, start)
        while i < buffer.count && buffer[i] != UInt8(ascii: "\n") { i += 1 }
        guard i < buffer.count else {
            scan = buffer.count
            if before + (buffer.count - start) > limit { throw tooLong }
            return nil
        }
        let lineBytes = i + 1 - start
        if before + lineBytes > limit { throw tooLong }
        var end = i
        if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let line = buffer[start..<end]
        if head { headBytes += lineBytes }
        start = i + 1
        scan = start
        if line.contains(UInt8(ascii: "\r")) { throw .malformedHeader("bare carriage return in a line") }
        return line
    }

    private mutating func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) {
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformedRequestLine("expected 'METHOD target HTTP/1.1'") }
        let m = parts[0], t = parts[1], v = parts[2]
        guard !m.isEmpty, m.allSatisfy(Self.isTokenChar) else { throw .malformedRequestLine("invalid method") }
        guard !t.isEmpty, t.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw .malformedRequestLine("invalid request target") }
        let vs = String(decoding: v, as: UTF8.self)
        let vb = Array(v)
        let isDigit: (UInt8) -> Bool = { $0 >= 0x30 && $0 <= 0x39 }
        guard vb.count == 8, vs.hasPrefix("HTTP/"), isDigit(vb[5]), vb[6] == UInt8(ascii: "."), isDigit(vb[7]) else {
            throw .malformedRequestLine("invalid HTTP version")
        }
        guard vs == "HTTP/1.1" || vs == "HTTP/1.0" else { throw .unsupportedVersion(vs) }
        method = String(decoding: m, as: UTF8.self)
        target = String(decoding: t, as: UTF8.self)
        version = vs
    }

    private func parseHeaderLine(_ line: ArraySlice<UInt8>, into fields: inout HTTPHeaders) throws(HTTPParseError) {
        guard let first = line.first, first != UInt8(ascii: " "), first != UInt8(ascii: "\t") else {
            throw .malformedHeader("obsolete line folding is not accepted")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .malformedHeader("missing ':'") }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(Self.isTokenChar) else { throw .malformedHeader("invalid field name") }
        var value = line[(colon + 1)...]
        while let f = value.first, f == 0x20 || f == 0x09 { value.removeFirst() }
        while let l = value.last, l == 0x20 || l == 0x09 { value.removeLast() }
        guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
            throw .malformedHeader("control character in the value of '\(String(decoding: name, as: UTF8.self))'")
        }
        fields.add(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    /// Decides the body framing once the head is complete; returns the request if it has no body.
    private mutating func finishHead() throws(HTTPParseError) -> HTTPRequest? {
        let te = headers.values("Transfer-Encoding")
        let cl = headers.values("Content-Length")
        if !te.isEmpty && !cl.isEmpty { throw .conflictingFraming }
        let wantsContinue = version == "HTTP/1.1"
            && headers.values("Expect").contains { $0.lowercased() == "100-continue" }
        if !te.isEmpty {
            let codings = te.flatMap { $0.split(separator: ",") }.map { $0.trimmingASCIISpaces().lowercased() }
            guard codings == ["chunked"] else {
                if codings.isEmpty || codings.contains("") { throw .malformedHeader("empty Transfer-Encoding") }
                throw .unsupportedTransferEncoding(te.joined(separator: ", "))
            }
            state = .chunkSize
            expectsContinue = wantsContinue
            return nil
        }
        if !cl.isEmpty {
            let length = try Self.contentLength(cl, limit: maxBodyBytes)
            if length > maxBodyBytes { throw .bodyTooLarge(limit: maxBodyBytes) }
            if length > 0 {
                state = .fixedBody(remaining: length)
                expectsContinue = wantsContinue
                return nil
            }
        }
        return completeRequest()
    }

    /// All Content-Length values (repeated or comma-listed) must agree (RFC 9110 section 8.6).
    /// Lengths beyond `limit` are reported as `limit + 1`, so huge numbers give 413, not overflow.
    static func contentLength(_ values: [String], limit: Int) throws(HTTPParseError) -> Int {
        var result: Int?
        for raw in values.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
            let s = raw.trimmingASCIISpaces()
            guard !s.isEmpty, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw .invalidContentLength(values.joined(separator: ", "))
            }
            var n = 0
            for d in s.utf8 {
                n = n * 10 + Int(d - 0x30)
                if n > limit { n = limit + 1; break }
            }
            if let r = result, r != n { throw .invalidContentLength(values.joined(separator: ", ")) }
            result = n
        }
        return result ?? 0
    }

    private func parseChunkSize(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        var size = 0
        var digits = 0
        var i = line.startIndex
        while i < line.endIndex, let d = Self.hexValue(line[i]) {
            // Saturate: anything over the body limit is 413 anyway.
            size = size > maxBodyBytes ? size : size * 16 + d
            digits += 1
            i += 1
        }
        guard digits > 0 else { throw .malformedChunk("missing chunk size") }
        // What follows may be whitespace and extensions (";name=value"), which we ignore.
        while i < line.endIndex, line[i] == 0x20 || line[i] == 0x09 { i += 1 }
        guard i == line.endIndex || line[i] == UInt8(ascii: ";") else { throw .malformedChunk("invalid chunk size") }
        if size > maxBodyBytes { throw .bodyTooLarge(limit: maxBodyBytes) }
        return size
    }

    private mutating func completeRequest() -> HTTPRequest {
        let request = HTTPRequest(method: method, target: target, version: version, headers: headers, body: body)
        state = .requestLine
        headers = HTTPHeaders()
        body = Data()
        headBytes = 0
        leadingEmptyLines = 0
        expectsContinue = false
        return request
    }

    static func isTokenChar(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(c)
        }
    }

    static func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(c - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}

extension StringProtocol {
    /// Trims spaces and tabs only (HTTP's OWS), without Foundation.
    func trimmingASCIISpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}

extension HTTPRequest {
    /// HTTP/1.1 keeps the connection unless `Connection: close`; HTTP/1.0 closes unless `keep-alive`.
    public var wantsKeepAlive: Bool {
        let tokens = headers.values("Connection").flatMap { $0.split(separator: ",") }.map { $0.trimmingASCIISpaces().lowercased() }
        if tokens.contains("close") { return false }
        return version == "HTTP/1.1" || tokens.contains("keep-alive")
    }
}
