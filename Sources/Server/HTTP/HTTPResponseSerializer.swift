import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Turns an `HTTPResponse` into wire bytes (pure apart from the clock for
/// `Date`). The server decides the framing: handler-set `Content-Length`,
/// `Transfer-Encoding` and `Connection` are replaced, so a response is always
/// delimited by `Content-Length`, or by chunked encoding for `.stream` bodies
/// (HTTP/1.0 clients get the stream delimited by connection close instead).
public enum HTTPResponseSerializer {
    /// Framing of the body that follows the head.
    public enum Framing: Sendable, Equatable {
        case none
        case contentLength(Int)
        case chunked
        /// HTTP/1.0 client and a stream: the body ends when the connection closes.
        case untilClose
    }

    /// Status codes that never carry a body (RFC 9110 section 6.4.1).
    public static func forbidsBody(_ status: Int) -> Bool {
        (100..<200).contains(status) || status == 204 || status == 304
    }

    /// The framing a response gets for a request of `version`.
    public static func framing(for response: HTTPResponse, requestVersion: String) -> Framing {
        if forbidsBody(response.status) { return .none }
        switch response.body {
        case .bytes(let data): return .contentLength(data.count)
        case .stream: return requestVersion == "HTTP/1.0" ? .untilClose : .chunked
        }
    }

    /// The status line and headers, ending with the empty line.
    public static func head(_ response: HTTPResponse, framing: Framing, keepAlive: Bool, requestVersion: String,
                            date: String = httpDate()) -> [UInt8] {
        var out = "HTTP/1.1 \(response.status) \(HTTPResponse.reason(response.status))\r\n"
        for (name, value) in response.headers {
            let lower = name.lowercased()
            if lower == "content-length" || lower == "transfer-encoding" || lower == "connection"
                || lower == "date" || lower == "server" { continue }
            guard !name.isEmpty, name.utf8.allSatisfy(HTTPRequestParser.isTokenChar) else { continue }
            out += "\(name): \(sanitize(value))\r\n"
        }
        out += "Date: \(date)\r\nServer: interlink\r\n"
        switch framing {
        case .none: break
        case .contentLength(let n): out += "Content-Length: \(n)\r\n"
        case .chunked: out += "Transfer-Encoding: chunked\r\n"
        case .untilClose: break
        }
        if !keepAlive || framing == .untilClose {
            out += "Connection: close\r\n"
        } else if requestVersion == "HTTP/1.0" {
            out += "Connection: keep-alive\r\n"
        }
        out += "\r\n"
        return Array(out.utf8)
    }

    /// One chunk of a chunked body; empty data gives nothing (an empty chunk would end the body).
    public static func chunk(_ data: Data) -> [UInt8] {
        guard !data.isEmpty else { return [] }
        var out = Array(String(data.count, radix: 16).utf8)
        out += [13, 10]
        out += data
        out += [13, 10]
        return out
    }

    public static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
    public static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// A header value cannot carry CR or LF (response splitting); other controls become spaces too.
    static func sanitize(_ value: String) -> String {
        guard value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) else { return value }
        return String(String.UnicodeScalarView(value.unicodeScalars.map {
            ($0.value < 0x20 && $0.value != 0x09) || $0.value == 0x7F ? " " : $0
        }))
    }

    /// IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    public static func httpDate(_ seconds: Int = Int(time(nil))) -> String {
        var t = time_t(seconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(tm.tm_wday)]), \(two(tm.tm_mday)) \(months[Int(tm.tm_mon)]) \(tm.tm_year + 1900) "
            + "\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) GMT"
    }
}
