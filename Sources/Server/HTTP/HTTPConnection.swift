import FoundationEssentials
import Model
import Support
#if canImport(Glibc)
import Glibc
#endif

/// One client connection, served on its own OS thread with blocking I/O and
/// poll() timeouts: read bytes -> parser -> head check -> handler -> serialised
/// response, repeated while keep-alive holds. The caller owns and closes `fd`.
struct HTTPConnection: Sendable {
    /// How often a thread waiting on a response stream checks that the client is still there.
    static let streamCheckMS = 200
    /// Bytes read per recv: one TLS record. The only receive buffer besides the parser's.
    static let readChunk = 16 * 1024

    let slot: ConnectionSlot
    let fd: Int32
    let peer: String
    let config: HTTPServerConfig
    let handler: HTTPHandler
    let server: HTTPServer

    private var readTimeoutMS: Int { max(1, Int(config.readTimeoutSeconds * 1000)) }

    /// How the connection ended: a plain close, or a lingering close after an
    /// error answer while the client may still be sending.
    enum Ending { case close, linger }

    /// Sets up the byte stream (TLS handshake if configured) and serves until the connection should end.
    func run() -> Ending {
        guard let stream = server.makeStream(fd: fd, peer: peer) else { return .close }
        defer { stream.finish() }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readChunk, alignment: 8)
        defer { scratch.deallocate() }
        return serve(stream, scratch)
    }

    private func serve(_ stream: any ByteStream, _ scratch: UnsafeMutableRawBufferPointer) -> Ending {
        var parser = HTTPRequestParser(config: config)
        var headStarted: ContinuousClock.Instant?
        // Set once the current request's head passed the head check; its body's deadline runs from here.
        var bodyStarted: ContinuousClock.Instant?
        while true {
            do {
                while var request = try parser.nextRequest() {
                    headStarted = nil
                    request.remote = peer
                    let checked = bodyStarted != nil
                    bodyStarted = nil
                    if !checked, case .reject(let refusal) = check(request) {
                        // The whole request is in, so its framing is intact: answer like any response.
                        guard respond(request, stream, with: refusal) else { return .close }
                        continue
                    }
                    guard respond(request, stream) else { return .close }
                }
            } catch {
                Log.debug("bad request", ["peer": peer, "status": String(error.status), "error": error.description])
                fail(stream, .error(error.status, error.description))
                return .linger
            }
            if bodyStarted == nil, var head = parser.currentHead {
                // The head is in and the body is not: decide before reading (or inviting) any of it.
                head.remote = peer
                if case .reject(let refusal) = check(head) {
                    fail(stream, refusal)
                    return .linger
                }
                bodyStarted = .now
            }
            if parser.awaitingContinue {
                guard stream.writeAll(HTTPResponseSerializer.continueResponse) else { return .close }
                parser.continueSent()
            }
            let idle = parser.isIdle
            let shuttingDown = server.isShuttingDown
            if idle && shuttingDown { return .close }
            if !idle && headStarted == nil { headStarted = .now }
            // The head must arrive within the read timeout (slowloris); the body within its
            // own total deadline, with no pause longer than the read timeout.
            var wait = readTimeoutMS
            var bodyDeadlineBound = false
            if parser.isReadingHead, let started = headStarted {
                let left = config.readTimeoutSeconds - seconds(since: started)
                wait = max(0, min(wait, Int(left * 1000)))
            } else if let started = bodyStarted {
                let left = config.bodyTimeoutSeconds - seconds(since: started)
                if left <= 0 {
                    fail(stream, .error(408, "The request body was not received within \(config.bodyTimeoutSeconds) seconds."))
                    return .linger
                }
                let leftMS = Int((left * 1000).rounded(.up))
                bodyDeadlineBound = leftMS < wait
                wait = max(1, min(wait, leftMS))
            }
            // The wake pipe stays readable once shutdown began, so only idle connections poll it.
            switch stream.read(into: scratch, timeoutMS: Int32(clamping: wait), wakeFD: idle && !shuttingDown ? server.wakeFD : nil) {
            case .data(let n):
                parser.append(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
            case .woken:
                continue
            case .timeout:
                if parser.isIdle { return .close }
                // The body's deadline came first: the check above answers it.
                if bodyDeadlineBound { continue }
                fail(stream, .error(408, "The request was not received within \(config.readTimeoutSeconds) seconds."))
                return .linger
            case .eof, .failed:
                return .close
            }
        }
    }

    /// The configured head check; an authenticated verdict protects this connection from eviction.
    private func check(_ head: HTTPRequest) -> HTTPHeadVerdict {
        guard let headCheck = config.headCheck else { return .proceed }
        let verdict = headCheck(head)
        if case .authenticated = verdict { slot.authenticated.store(true, ordering: .relaxed) }
        return verdict
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Answers an error and ends the connection (its framing can no longer be trusted).
    private func fail(_ stream: any ByteStream, _ response: HTTPResponse) {
        let head = HTTPResponseSerializer.head(response, framing: HTTPResponseSerializer.framing(for: response, requestVersion: "HTTP/1.1"),
                                               keepAlive: false, requestVersion: "HTTP/1.1")
        if case .bytes(let body) = response.body { _ = stream.writeAll(head + body) }
    }

    /// Runs the handler (or answers `ready`) and writes the response; true to keep the connection.
    private func respond(_ request: HTTPRequest, _ stream: any ByteStream, with ready: HTTPResponse? = nil) -> Bool {
        slot.busy.store(true, ordering: .relaxed)
        defer { slot.busy.store(false, ordering: .relaxed) }
        let response = ready ?? AsyncBridge.call(handler, request)
        let keepAlive = request.wantsKeepAlive && !server.isShuttingDown
        let framing = HTTPResponseSerializer.framing(for: response, requestVersion: request.version)
        let head = HTTPResponseSerializer.head(response, framing: framing, keepAlive: keepAlive, requestVersion: request.version)
        let sendsBody = request.method != "HEAD" && framing != .none
        switch response.body {
        case .bytes(let data):
            guard stream.writeAll(sendsBody ? head + data : head) else { return false }
            return keepAlive
        case .stream(let body):
            guard stream.writeAll(head) else { return false }
            // Not iterating a stream we do not send lets it be released, which cancels it.
            guard sendsBody else { return keepAlive }
            let completed = pump(body, to: stream, chunked: framing == .chunked)
            return completed && keepAlive && framing == .chunked
        }
    }

    /// Copies the stream to the socket; false if it did not end cleanly.
    private func pump(_ body: AsyncThrowingStream<Data, any Error>, to stream: any ByteStream, chunked: Bool) -> Bool {
        let pump = StreamPump(body)
        while true {
            guard let item = pump.next(timeoutMS: Self.streamCheckMS) else {
                if Socket.peerClosed(fd) { pump.cancel(); return false }
                if server.isShuttingDown {
                    // An endless stream (log follow) must not hold up shutdown: end it cleanly.
                    pump.cancel()
                    if chunked { _ = stream.writeAll(HTTPResponseSerializer.lastChunk) }
                    return false
                }
                continue
            }
            switch item {
            case .chunk(let data):
                let bytes = chunked ? HTTPResponseSerializer.chunk(data) : Array(data)
                if !bytes.isEmpty && !stream.writeAll(bytes) { pump.cancel(); return false }
            case .end:
                if chunked { return stream.writeAll(HTTPResponseSerializer.lastChunk) }
                return false
            case .failed(let why):
                // Headers are gone already: the only honest signal left is an unterminated body.
                Log.warn("response stream failed", ["peer": peer, "error": why])
                return false
            }
        }
    }
}
