import FoundationEssentials
import Model
#if canImport(Glibc)
import Glibc
#endif

/// One client connection, served on its own OS thread with blocking I/O and
/// poll() timeouts: read bytes -> parser -> handler -> serialised response,
/// repeated while keep-alive holds. It owns `fd` and closes it on return.
struct HTTPConnection: Sendable {
    /// How often a thread waiting on a response stream checks that the client is still there.
    static let streamCheckMS = 200

    let fd: Int32
    let peer: String
    let config: HTTPServerConfig
    let handler: HTTPHandler
    let server: HTTPServer

    private var readTimeoutMS: Int { max(1, Int(config.readTimeoutSeconds * 1000)) }

    /// How the connection ended: a plain close, or a lingering close after an
    /// error answer while the client may still be sending.
    enum Ending { case close, linger }

    /// Serves until the connection should end; the caller closes `fd`.
    func run() -> Ending {
        Socket.setSendTimeout(fd, seconds: config.readTimeoutSeconds)
        var parser = HTTPRequestParser(config: config)
        var headStarted: ContinuousClock.Instant?
        while true {
            do {
                while var request = try parser.nextRequest() {
                    headStarted = nil
                    request.remote = peer
                    guard respond(request) else { return .close }
                }
            } catch {
                Log.debug("bad request", ["peer": peer, "status": String(error.status), "error": error.description])
                fail(.error(error.status, error.description))
                return .linger
            }
            if parser.awaitingContinue {
                guard Socket.writeAll(fd, HTTPResponseSerializer.continueResponse) else { return .close }
                parser.continueSent()
            }
            let idle = parser.isIdle
            let shuttingDown = server.isShuttingDown
            if idle && shuttingDown { return .close }
            if !idle && headStarted == nil { headStarted = .now }
            // The head must arrive within the read timeout (slowloris); a body only needs steady progress.
            var wait = readTimeoutMS
            if parser.isReadingHead, let started = headStarted {
                let left = config.readTimeoutSeconds - seconds(since: started)
                wait = max(0, min(wait, Int(left * 1000)))
            }
            // The wake pipe stays readable once shutdown began, so only idle connections poll it.
            switch Socket.read(fd, timeoutMS: Int32(clamping: wait), wakeFD: idle && !shuttingDown ? server.wakeFD : nil) {
            case .data(let bytes):
                parser.append(bytes)
            case .woken:
                continue
            case .timeout:
                if parser.isIdle { return .close }
                fail(.error(408, "The request was not received within \(config.readTimeoutSeconds) seconds."))
                return .linger
            case .eof, .failed:
                return .close
            }
        }
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Answers an error and ends the connection (its framing can no longer be trusted).
    private func fail(_ response: HTTPResponse) {
        let head = HTTPResponseSerializer.head(response, framing: HTTPResponseSerializer.framing(for: response, requestVersion: "HTTP/1.1"),
                                               keepAlive: false, requestVersion: "HTTP/1.1")
        if case .bytes(let body) = response.body { _ = Socket.writeAll(fd, head + body) }
    }

    /// Runs the handler and writes its response; true to keep the connection.
    private func respond(_ request: HTTPRequest) -> Bool {
        let response = AsyncBridge.call(handler, request)
        let keepAlive = request.wantsKeepAlive && !server.isShuttingDown
        let framing = HTTPResponseSerializer.framing(for: response, requestVersion: request.version)
        let head = HTTPResponseSerializer.head(response, framing: framing, keepAlive: keepAlive, requestVersion: request.version)
        let sendsBody = request.method != "HEAD" && framing != .none
        switch response.body {
        case .bytes(let data):
            guard Socket.writeAll(fd, sendsBody ? head + data : head) else { return false }
            return keepAlive
        case .stream(let stream):
            guard Socket.writeAll(fd, head) else { return false }
            // Not iterating a stream we do not send lets it be released, which cancels it.
            guard sendsBody else { return keepAlive }
            let completed = pump(stream, chunked: framing == .chunked)
            return completed && keepAlive && framing == .chunked
        }
    }

    /// Copies the stream to the socket; false if it did not end cleanly.
    private func pump(_ stream: AsyncThrowingStream<Data, any Error>, chunked: Bool) -> Bool {
        let pump = StreamPump(stream)
        while true {
            guard let item = pump.next(timeoutMS: Self.streamCheckMS) else {
                if Socket.peerClosed(fd) { pump.cancel(); return false }
                if server.isShuttingDown {
                    // An endless stream (log follow) must not hold up shutdown: end it cleanly.
                    pump.cancel()
                    if chunked { _ = Socket.writeAll(fd, HTTPResponseSerializer.lastChunk) }
                    return false
                }
                continue
            }
            switch item {
            case .chunk(let data):
                let bytes = chunked ? HTTPResponseSerializer.chunk(data) : Array(data)
                if !bytes.isEmpty && !Socket.writeAll(fd, bytes) { pump.cancel(); return false }
            case .end:
                if chunked { return Socket.writeAll(fd, HTTPResponseSerializer.lastChunk) }
                return false
            case .failed(let why):
                // Headers are gone already: the only honest signal left is an unterminated body.
                Log.warn("response stream failed", ["peer": peer, "error": why])
                return false
            }
        }
    }
}
