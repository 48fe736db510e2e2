import FoundationEssentials
import Server

/// The HTTP/1.1 request parser. Properties, from its contract: it never traps;
/// feeding the same bytes whole, one byte at a time, or in slices chosen by the
/// input gives the same requests and the same error; a parsed body never
/// exceeds the body limit; once it has thrown it throws the same error again.
enum HTTPParserTarget {
    /// Small limits so the fuzzer reaches them.
    static let maxHeaderBytes = 1024
    static let maxBodyBytes = 4096

    struct Request: Equatable {
        var method, target, path, version: String
        var query: String?
        var headers: HTTPHeaders
        var body: Data
    }

    struct Outcome: Equatable {
        var requests: [Request] = []
        var error: HTTPParseError?
    }

    static func run(_ bytes: [UInt8]) {
        let whole = parse(bytes, slices: [bytes.count])
        let single = parse(bytes, slices: Array(repeating: 1, count: bytes.count))
        // Slice sizes from the input itself (1...16), so each input also picks a split.
        var sizes: [Int] = [], i = 0
        while i < bytes.count { let n = Int(bytes[i] & 15) + 1; sizes.append(n); i += n }
        let sliced = parse(bytes, slices: sizes)
        guard whole == single, whole == sliced else {
            fatalError("parser outcome depends on how the bytes were split:\nwhole=\(whole)\nbyte-by-byte=\(single)\nsliced=\(sliced)")
        }
    }

    static func parse(_ bytes: [UInt8], slices: [Int]) -> Outcome {
        var parser = HTTPRequestParser(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes)
        var out = Outcome()
        var offset = 0
        for n in slices {
            let end = min(bytes.count, offset + n)
            parser.append(bytes[offset..<end])
            offset = end
            if parser.awaitingContinue { parser.continueSent() }
            while true {
                do {
                    guard let r = try parser.nextRequest() else { break }
                    guard r.body.count <= maxBodyBytes else { fatalError("body of \(r.body.count) bytes passed the \(maxBodyBytes) limit") }
                    checkShape(r)
                    out.requests.append(Request(method: r.method, target: r.target, path: r.path, version: r.version,
                                                query: r.query, headers: r.headers, body: r.body))
                } catch {
                    // A failed parser stays failed, with the same error.
                    do { _ = try parser.nextRequest(); fatalError("parser recovered after \(error)") } catch let again {
                        guard again == error else { fatalError("parser threw \(error), then \(again)") }
                    }
                    out.error = error
                    return out
                }
            }
        }
        return out
    }

    /// What a handler may rely on in every request the parser hands over
    /// (RFC 9112/9110 syntax), so nothing smuggled in a head reaches a handler.
    static func checkShape(_ r: HTTPRequest) {
        func token(_ s: String) -> Bool {
            !s.isEmpty && s.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(c)
            }
        }
        guard token(r.method) else { fatalError("method \(r.method.debugDescription) is not a token") }
        guard !r.target.isEmpty, r.target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { fatalError("target \(r.target.debugDescription)") }
        guard r.version == "HTTP/1.1" || r.version == "HTTP/1.0" else { fatalError("version \(r.version.debugDescription)") }
        guard r.path + (r.query.map { "?" + $0 } ?? "") == r.target else { fatalError("path/query do not make up the target \(r.target)") }
        for f in r.headers.fields {
            guard token(f.name) else { fatalError("header name \(f.name.debugDescription) is not a token") }
            guard f.value.unicodeScalars.allSatisfy({ $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7F) }) else {
                fatalError("header value \(f.value.debugDescription) holds a control character")
            }
            guard f.value.first != " ", f.value.last != " " else { fatalError("header value \(f.value.debugDescription) is not trimmed") }
        }
        if r.headers["Transfer-Encoding"] == nil, let cl = r.headers["Content-Length"], let n = Int(cl) {
            guard r.body.count == n else { fatalError("Content-Length \(n) but a body of \(r.body.count) bytes") }
        }
    }
}
