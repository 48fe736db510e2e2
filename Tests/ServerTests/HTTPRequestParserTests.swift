import FoundationEssentials
import Testing
@testable import Server

/// What a feed of bytes produced: the complete requests, then an error or "needs more".
private struct Outcome: Equatable, CustomStringConvertible {
    var requests: [String] = []
    var error: HTTPParseError?
    var description: String { "\(requests) error: \(error.map { "\($0)" } ?? "none")" }
}

private func summary(_ r: HTTPRequest) -> String {
    "\(r.method) \(r.target) \(r.version) \(r.headers.fields.map { "\($0.name)=\($0.value)" }) \(Array(r.body))"
}

/// Feeds `bytes` in pieces whose sizes come from `split` (nil: all at once), draining requests after each piece.
private func parse(_ bytes: [UInt8], maxHeaderBytes: Int = 16 * 1024, maxBodyBytes: Int = 1024,
                   pieces: [Int]? = nil) -> Outcome {
    var parser = HTTPRequestParser(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes)
    var out = Outcome()
    var offset = 0
    var sizes = pieces ?? [bytes.count]
    if sizes.isEmpty { sizes = [bytes.count] }
    var k = 0
    while offset < bytes.count || (offset == 0 && bytes.isEmpty) {
        let n = max(1, min(sizes[k % sizes.count], bytes.count - offset))
        if !bytes.isEmpty { parser.append(bytes[offset..<(offset + n)]) }
        offset += n
        k += 1
        do {
            while let r = try parser.nextRequest() { out.requests.append(summary(r)) }
        } catch {
            out.error = error
            return out
        }
        if bytes.isEmpty { break }
    }
    return out
}

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite("HTTP request parser")
struct HTTPRequestParserTests {
    static let samples: [String] = [
        "GET /status?x=1 HTTP/1.1\r\nHost: a\r\nX-Y:  spaced value \t\r\n\r\n",
        "POST /create HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
        "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nxyDELETE /c HTTP/1.0\r\n\r\n",
        "\r\nGET /lf HTTP/1.1\nHost: a\n\n",
        "GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
        "GET / HTTP/2.0\r\n\r\n",
        "GET /  HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\n folded: no\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 9999\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + String(repeating: "a", count: 1024) + "\r\n1\r\nb\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: v\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\u{1}b\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabcGET /next HTTP/1.1\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
    ]

    @Test("a request line, headers and a query are parsed into HTTPRequest")
    func parsesSimpleRequest() throws {
        var parser = HTTPRequestParser()
        parser.append(bytes("GET /status?x=1 HTTP/1.1\r\nHost: a\r\nX-Y:  v \r\n\r\n"))
        let r = try #require(try parser.nextRequest())
        #expect(r.method == "GET" && r.path == "/status" && r.query == "x=1" && r.version == "HTTP/1.1")
        #expect(r.headers["x-y"] == "v")
        #expect(r.body.isEmpty)
        #expect(parser.isIdle)
    }

    @Test("the head of a request is visible (for the auth check) once it is in and while its body is still arriving")
    func currentHeadBeforeTheBody() throws {
        for framing in ["Content-Length: 5", "Transfer-Encoding: chunked"] {
            var parser = HTTPRequestParser()
            parser.append(bytes("POST /create HTTP/1.1\r\nAuthorization: Bearer t\r\n"))
            #expect(try parser.nextRequest() == nil)
            #expect(parser.currentHead == nil, "no head before the blank line")
            parser.append(bytes("\(framing)\r\n\r\n"))
            #expect(try parser.nextRequest() == nil)
            let head = try #require(parser.currentHead)
            #expect(head.method == "POST" && head.path == "/create" && head.headers["authorization"] == "Bearer t")
            #expect(head.body.isEmpty)
            parser.append(bytes(framing.hasPrefix("Content") ? "hello" : "5\r\nhello\r\n0\r\n\r\n"))
            let r = try #require(try parser.nextRequest())
            #expect(r.body == Data("hello".utf8))
            #expect(parser.currentHead == nil && parser.isIdle)
        }
    }

    @Test("chunked bodies are de-chunked; extensions and trailers are tolerated")
    func chunked() {
        let out = parse(bytes(Self.samples[2]))
        #expect(out.error == nil)
        #expect(out.requests.count == 1)
        #expect(out.requests.first?.hasSuffix("\(Array("hello world".utf8))") == true)
    }

    @Test("pipelined requests come out one by one, in order")
    func pipelined() {
        let out = parse(bytes(Self.samples[3]))
        #expect(out.error == nil)
        #expect(out.requests.map { $0.split(separator: " ").prefix(2).joined(separator: " ") } == ["GET /a", "GET /b", "DELETE /c"])
    }

    @Test("each malformed or oversized input maps to its status code",
          arguments: [
            ("GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", 400),
            ("GET / HTTP/2.0\r\n\r\n", 505),
            ("GET / HTTP/1.1 extra\r\n\r\n", 400),
            ("GARBAGE\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\n folded: no\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nContent-Length: 9999\r\n\r\n", 413),
            ("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 413),
            ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
            ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffffff\r\n", 413),
            ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
          ])
    func errorStatus(input: String, status: Int) {
        let out = parse(bytes(input))
        #expect(out.error?.status == status, "\(out)")
    }

    @Test("a header block over the limit is 431, even before its end arrives")
    func headersTooLarge() {
        #expect(parse(bytes("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 20_000) + "\r\n\r\n")).error == .headersTooLarge(limit: 16 * 1024))
        #expect(parse(bytes("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 20_000))).error == .headersTooLarge(limit: 16 * 1024))
    }

    @Test("a chunked body that grows past the limit is 413 before it is complete")
    func chunkedOverLimit() {
        let head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        let chunk = "200\r\n" + String(repeating: "a", count: 512) + "\r\n"
        let out = parse(bytes(head + chunk + chunk + chunk))  // 1536 > 1024, never terminated
        #expect(out.error == .bodyTooLarge(limit: 1024))
    }

    @Test("Expect: 100-continue is reported until the body starts")
    func expectContinue() throws {
        var parser = HTTPRequestParser()
        parser.append(bytes("PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"))
        #expect(try parser.nextRequest() == nil)
        #expect(parser.awaitingContinue)
        parser.continueSent()
        #expect(!parser.awaitingContinue)
        parser.append(bytes("ok"))
        #expect(try parser.nextRequest()?.body == Data("ok".utf8))
    }

    @Test("no 100 Continue is asked for when body bytes arrived with the head")
    func expectContinueWithEarlyBody() throws {
        var parser = HTTPRequestParser()
        parser.append(bytes("PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nok"))
        #expect(try parser.nextRequest() == nil)
        #expect(!parser.awaitingContinue)
        parser.append(bytes("!!"))
        #expect(try parser.nextRequest()?.body == Data("ok!!".utf8))
    }

    @Test("after an error the parser stays failed")
    func staysFailed() {
        var parser = HTTPRequestParser()
        parser.append(bytes("BAD\r\n\r\n"))
        #expect(throws: HTTPParseError.self) { try parser.nextRequest() }
        parser.append(bytes("GET / HTTP/1.1\r\n\r\n"))
        #expect(throws: HTTPParseError.self) { try parser.nextRequest() }
    }

    @Test("keep-alive follows the version and the Connection header")
    func keepAlive() {
        #expect(HTTPRequest(method: "GET", target: "/", version: "HTTP/1.1").wantsKeepAlive)
        #expect(!HTTPRequest(method: "GET", target: "/", version: "HTTP/1.1", headers: HTTPHeaders([("Connection", "close")])).wantsKeepAlive)
        #expect(!HTTPRequest(method: "GET", target: "/", version: "HTTP/1.0").wantsKeepAlive)
        #expect(HTTPRequest(method: "GET", target: "/", version: "HTTP/1.0", headers: HTTPHeaders([("Connection", "Keep-Alive")])).wantsKeepAlive)
    }

    @Test("feeding any sample byte by byte gives the same result as feeding it whole", arguments: samples)
    func byteByByte(sample: String) {
        let whole = parse(bytes(sample))
        let single = parse(bytes(sample), pieces: [1])
        #expect(whole == single)
        #expect(whole.error != nil || !whole.requests.isEmpty, "every sample is complete: \(whole)")
    }

    @Test("20,000 random and mutated inputs never crash and split feeding agrees with whole feeding")
    func fuzz() {
        var rng = SplitMix64(seed: 0x1D7E_C0DE)
        let seeds = Self.samples.map(bytes)
        let alphabet = bytes("GETPOST /HTTP1.0:\r\n \t;,chunkedContent-LengthTransfer-Encoding0123456789abcdefxyz\u{0}\u{7f}")
        var errors = 0, requests = 0
        for i in 0..<20_000 {
            var input: [UInt8]
            if i % 5 == 0 {
                input = (0..<Int(rng.next() % 200)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            } else {
                input = seeds[Int(rng.next() % UInt64(seeds.count))]
                for _ in 0..<(1 + Int(rng.next() % 4)) where !input.isEmpty {
                    let at = Int(rng.next() % UInt64(input.count))
                    switch rng.next() % 5 {
                    case 0: input[at] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: input.remove(at: at)
                    case 2: input.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                    case 3: input = Array(input[..<at])
                    default: input.insert(contentsOf: input[at...].prefix(8), at: at)
                    }
                }
            }
            let pieces = (0..<4).map { _ in 1 + Int(rng.next() % 16) }
            let whole = parse(input, maxHeaderBytes: 256, maxBodyBytes: 64)
            let split = parse(input, maxHeaderBytes: 256, maxBodyBytes: 64, pieces: pieces)
            if whole != split {
                Issue.record("input \(input) split \(pieces): whole \(whole) vs split \(split)")
                return
            }
            if let e = whole.error {
                errors += 1
                #expect([400, 413, 431, 501, 505].contains(e.status))
            }
            requests += whole.requests.count
        }
        // The corpus must exercise both outcomes, or the test proves little.
        #expect(errors > 1000 && requests > 1000, "errors \(errors) requests \(requests)")
    }
}

/// A tiny deterministic PRNG so the fuzz corpus is the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
