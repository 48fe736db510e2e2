/// Why a request could not be parsed. Each case maps to the status code the
/// server answers with (`status`), and its description is one readable
/// sentence that goes into the `{"error": ...}` body. After any of these the
/// connection's framing is unknown, so the server closes it.
public enum HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Request line plus header fields (or chunked trailers) exceed the limit.
    case headersTooLarge(limit: Int)
    /// Declared Content-Length, or accumulated chunked body, exceeds the limit.
    case bodyTooLarge(limit: Int)
    case malformedRequestLine(String)
    case malformedHeader(String)
    /// Both Content-Length and Transfer-Encoding: the framing is ambiguous (request smuggling).
    case conflictingFraming
    case invalidContentLength(String)
    case unsupportedTransferEncoding(String)
    case unsupportedVersion(String)
    case malformedChunk(String)

    /// The HTTP status code the server answers with.
    public var status: Int {
        switch self {
        case .headersTooLarge: return 431
        case .bodyTooLarge: return 413
        case .unsupportedTransferEncoding: return 501
        case .unsupportedVersion: return 505
        case .malformedRequestLine, .malformedHeader, .conflictingFraming, .invalidContentLength, .malformedChunk:
            return 400
        }
    }

    public var description: String {
        switch self {
        case .headersTooLarge(let limit):
            return "The request line and headers exceed the limit of \(limit) bytes."
        case .bodyTooLarge(let limit):
            return "The request body exceeds the limit of \(limit) bytes."
        case .malformedRequestLine(let why):
            return "The request line is malformed: \(why)."
        case .malformedHeader(let why):
            return "A header field is malformed: \(why)."
        case .conflictingFraming:
            return "The request has both Content-Length and Transfer-Encoding, which is ambiguous."
        case .invalidContentLength(let value):
            return "The Content-Length '\(value)' is not a valid length."
        case .unsupportedTransferEncoding(let value):
            return "The Transfer-Encoding '\(value)' is not supported; only chunked is."
        case .unsupportedVersion(let value):
            return "The HTTP version '\(value)' is not supported; use HTTP/1.1 or HTTP/1.0."
        case .malformedChunk(let why):
            return "The chunked body is malformed: \(why)."
        }
    }
}
