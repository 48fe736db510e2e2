import FoundationEssentials
import Support
import Synchronization
import CShims
import Model
#if canImport(Glibc)
import Glibc
#endif

/// The HTTP/1.1 server: one accept thread plus one OS thread per connection
/// (blocking I/O with poll() timeouts), capped at `config.maxConnections`.
/// At the cap, a new connection evicts the oldest connection that has not
/// authenticated and is not in a handler (so unauthenticated clients cannot
/// lock out the VK); only when there is none does the newcomer get 503.
/// Handlers run as tasks; socket I/O never runs on Swift's cooperative pool.
///
/// Lifecycle: `start()` binds (errors are typed and readable), `run()` waits
/// until `shutdown()` has finished. `shutdown()` stops accepting, lets
/// in-flight requests finish (up to `config.shutdownGraceSeconds`, then cuts
/// them off), closes idle keep-alive connections, removes the unix socket
/// file. It is idempotent and may be called from a signal handler's task.
public final class HTTPServer: Sendable {
    /// Most connections answered 503 at the same time; past it they are just closed.
    public static let maxConcurrentRejections = 32
    /// Most connections in a lingering close (outside the cap); past it they are just closed.
    public static let maxLingering = 32
    /// Backoff after accept() ran out of descriptors or memory: first and longest wait.
    static let acceptBackoffMS: (first: Int, max: Int) = (10, 500)

    /// One admitted connection as the admission policy sees it.
    private struct Entry {
        var fd: Int32
        /// Set by the connection's thread without the server lock.
        var slot: ConnectionSlot
        /// Shut down to make room; no longer counted against the cap.
        var evicted = false
    }
    /// How often shutdown checks whether connections have drained.
    static let drainPollMS = 10

    private struct State {
        var started = false
        var listenFD: Int32 = -1
        var wakeRead: Int32 = -1
        var wakeWrite: Int32 = -1
        var port: Int?
        var acceptRunning = false
        var connections: [Int: Entry] = [:]
        /// Connections not evicted: what the cap counts.
        var live = 0
        var nextID = 0
        var rejecting = 0
        var lingering = 0
        var shuttingDown = false
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    public let config: HTTPServerConfig
    private let handler: HTTPHandler
    private let state = Mutex(State())
    // Read on every request by every connection thread: atomics, not the server lock
    // (a contended Mutex is a PI futex on Linux and became the bottleneck under load).
    private let shuttingDownFlag = Atomic<Bool>(false)
    private let wakeReadFD = Atomic<Int32>(-1)

    public init(config: HTTPServerConfig, handler: @escaping HTTPHandler) {
        self.config = config
        self.handler = handler
    }

    /// Binds and listens (removing a stale unix socket file first, chmod 0600).
    public func start() throws(HTTPServerError) {
        let claimed = state.withLock { s -> Bool in
            if s.started || s.shuttingDown { return false }
            s.started = true
            return true
        }
        guard claimed else { throw .alreadyStarted }
        // A client that vanishes mid-write must not kill the process (we also use MSG_NOSIGNAL).
        signal(SIGPIPE, SIG_IGN)
        let fd: Int32
        do {
            switch config.listen {
            case .tcp(let host, let port): fd = try Socket.listenTCP(host: host, port: port)
            case .unix(let path): fd = try Socket.listenUnix(path: path)
            }
        } catch {
            state.withLock { $0.started = false }
            throw error
        }
        var pipeFDs: [Int32] = [-1, -1]
        guard cshims_pipe2_cloexec(&pipeFDs) == 0 else {
            let e = errno
            close(fd)
            state.withLock { $0.started = false }
            throw .system(address: config.listen.description, call: "pipe2", errno: e)
        }
        let port: Int? = if case .tcp = config.listen { Socket.boundPort(fd) } else { nil }
        state.withLock {
            $0.listenFD = fd; $0.port = port
            $0.wakeRead = pipeFDs[0]; $0.wakeWrite = pipeFDs[1]
            wakeReadFD.store(pipeFDs[0], ordering: .releasing)
            $0.acceptRunning = true
        }
        guard BlockingThread.start({ [self] in acceptLoop(fd) }) else {
            state.withLock { $0.acceptRunning = false }
            close(fd)
            throw .system(address: config.listen.description, call: "pthread_create", errno: EAGAIN)
        }
        Log.info("http server listening", ["address": config.listen.description, "port": port.map(String.init) ?? ""])
    }

    /// The TCP port actually bound (useful with port 0), nil for unix sockets / before start.
    public var boundPort: Int? { state.withLock { $0.port } }

    /// Serves until `shutdown()` has finished; returns then.
    public func run() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s -> Bool in
                if s.finished { return true }
                s.waiters.append(c)
                return false
            }
            if done { c.resume() }
        }
    }

    /// Stops accepting, drains in-flight requests, removes the unix socket file. Idempotent.
    public func shutdown() async {
        let first = state.withLock { s -> Bool in
            if s.shuttingDown { return false }
            s.shuttingDown = true
            shuttingDownFlag.store(true, ordering: .releasing)
            return true
        }
        guard first else { await run(); return }
        let wake = state.withLock { $0.wakeWrite }
        if wake >= 0 { var b: UInt8 = 1; _ = Glibc.write(wake, &b, 1) }

        let deadline = ContinuousClock.now + .milliseconds(Int(config.shutdownGraceSeconds * 1000))
        while ContinuousClock.now < deadline && !drained() {
            try? await Task.sleep(for: .milliseconds(Self.drainPollMS))
        }
        if !drained() {
            let cut = state.withLock { s -> Int in
                for c in s.connections.values { Glibc.shutdown(c.fd, Int32(SHUT_RDWR)) }
                return s.connections.count
            }
            Log.warn("http shutdown grace period over, closing connections", ["connections": String(cut)])
            let hard = ContinuousClock.now + .seconds(1)
            while ContinuousClock.now < hard && !drained() { try? await Task.sleep(for: .milliseconds(Self.drainPollMS)) }
        }
        if case .unix(let path) = config.listen, state.withLock({ $0.started }) { unlink(path) }
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            // Threads stuck in a handler still poll the wake pipe's read end: keep it open then.
            if s.connections.isEmpty && !s.acceptRunning && s.wakeRead >= 0 {
                wakeReadFD.store(-1, ordering: .releasing)
                close(s.wakeRead); close(s.wakeWrite)
                s.wakeRead = -1; s.wakeWrite = -1
            }
            s.finished = true
            defer { s.waiters = [] }
            return s.waiters
        }
        Log.info("http server stopped", ["address": config.listen.description])
        for w in waiters { w.resume() }
    }

    // MARK: - For connection threads

    var isShuttingDown: Bool { shuttingDownFlag.load(ordering: .acquiring) }
    var wakeFD: Int32 { wakeReadFD.load(ordering: .acquiring) }

    private func drained() -> Bool { state.withLock { $0.connections.isEmpty && !$0.acceptRunning } }

    /// The connection's byte stream: the socket itself, or a TLS session after its handshake.
    func makeStream(fd: Int32, peer: String) -> (any ByteStream)? {
        guard let tls = config.tls else { return PlainStream(fd: fd, sendTimeoutSeconds: config.readTimeoutSeconds) }
        return tls.session(fd: fd, peer: peer, timeoutSeconds: config.readTimeoutSeconds)
    }

    private func acceptLoop(_ listenFD: Int32) {
        let wake = state.withLock { $0.wakeRead }
        var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        var backoff = 0
        while !isShuttingDown {
            fds[0].revents = 0; fds[1].revents = 0
            let rc = poll(&fds, 2, -1)
            if rc < 0 && errno != EINTR { break }
            if fds[1].revents != 0 || isShuttingDown { break }
            guard fds[0].revents != 0 else { continue }
            guard let (fd, peer) = Socket.accept(listenFD) else {
                let e = errno
                // Out of descriptors or memory is transient: the pending client waits in the
                // backlog while we back off (doubling, bounded), instead of spinning or exiting.
                if e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM {
                    if backoff == 0 {
                        Log.warn("accept is out of resources, backing off", ["error": String(cString: strerror(e))])
                    }
                    backoff = backoff == 0 ? Self.acceptBackoffMS.first : min(backoff * 2, Self.acceptBackoffMS.max)
                    waitForWake(wake, ms: backoff)
                }
                continue
            }
            backoff = 0
            admit(fd, peer)
        }
        close(listenFD)
        state.withLock { $0.listenFD = -1; $0.acceptRunning = false }
    }

    private static func forget(_ id: Int, _ s: inout State) {
        guard let entry = s.connections.removeValue(forKey: id) else { return }
        if !entry.evicted { s.live -= 1 }
    }

    /// Sleeps up to `ms`, returning early when shutdown wakes the server.
    private func waitForWake(_ wake: Int32, ms: Int) {
        _ = Socket.waitReadable(wake, timeoutMS: Int32(ms), wakeFD: nil)
    }

    private func admit(_ fd: Int32, _ peer: String) {
        enum Admission { case serve(Int, ConnectionSlot, evicted: Bool), reject, drop }
        let admission = state.withLock { s -> Admission in
            var evicted = false
            if s.live >= config.maxConnections {
                // Make room by evicting the oldest connection that has not authenticated and is idle
                // or still sending its request: an attacker's connections go before the VK's.
                let victim = s.connections.filter { !$0.value.evicted && $0.value.slot.evictable }.keys.min()
                guard let victim else {
                    // A plain-text 503 means nothing to a client expecting a TLS handshake: just close.
                    if s.rejecting >= Self.maxConcurrentRejections || config.tls != nil { return .drop }
                    s.rejecting += 1
                    return .reject
                }
                s.connections[victim]?.evicted = true
                s.live -= 1
                // Under the lock: its thread forgets the entry (under the lock) before closing
                // the fd, so this can never hit a reused descriptor number.
                if let victimFD = s.connections[victim]?.fd { Glibc.shutdown(victimFD, Int32(SHUT_RDWR)) }
                evicted = true
            }
            let id = s.nextID
            s.nextID += 1
            s.connections[id] = Entry(fd: fd, slot: ConnectionSlot())
            s.live += 1
            return .serve(id, s.connections[id]!.slot, evicted: evicted)
        }
        switch admission {
        case .drop:
            close(fd)
        case .reject:
            Log.warn("http connection limit reached, answering 503", ["peer": peer, "limit": String(config.maxConnections)])
            let ok = BlockingThread.start(stackBytes: 256 * 1024) { [self] in
                let response = HTTPResponse.error(503, "The server has reached its limit of \(config.maxConnections) connections; retry later.")
                let head = HTTPResponseSerializer.head(response, framing: HTTPResponseSerializer.framing(for: response, requestVersion: "HTTP/1.1"),
                                                       keepAlive: false, requestVersion: "HTTP/1.1")
                Socket.setSendTimeout(fd, seconds: 1)
                if case .bytes(let body) = response.body { _ = Socket.writeAll(fd, head + body) }
                Socket.lingeringClose(fd, maxSeconds: 1)
                state.withLock { $0.rejecting -= 1 }
            }
            if !ok { close(fd); state.withLock { $0.rejecting -= 1 } }
        case .serve(let id, let slot, let evicted):
            if evicted {
                // The evicted connection's thread sees EOF at once and closes it.
                Log.info("http connection limit reached, evicting the oldest unauthenticated connection",
                         ["peer": peer, "limit": String(config.maxConnections)])
            }
            let connection = HTTPConnection(slot: slot, fd: fd, peer: peer, config: config, handler: handler, server: self)
            let ok = BlockingThread.start { [self] in
                let ending = connection.run()
                // Forget the fd before closing it, so a forced shutdown never touches a reused number.
                // A lingering close is outside the cap (it only drains), bounded by its own count.
                let linger = state.withLock { s -> Bool in
                    Self.forget(id, &s)
                    guard ending == .linger, s.lingering < Self.maxLingering else { return false }
                    s.lingering += 1
                    return true
                }
                if linger {
                    Socket.lingeringClose(fd)
                    state.withLock { $0.lingering -= 1 }
                } else {
                    close(fd)
                }
            }
            if !ok {
                state.withLock { Self.forget(id, &$0) }
                close(fd)
            }
        }
    }
}

/// What a connection's own thread tells the admission policy, without the server lock.
final class ConnectionSlot: Sendable {
    /// A head check said `.authenticated` on this connection: never evicted.
    let authenticated = Atomic<Bool>(false)
    /// Inside a handler or writing its response: not evicted either.
    let busy = Atomic<Bool>(false)

    var evictable: Bool { !authenticated.load(ordering: .relaxed) && !busy.load(ordering: .relaxed) }
}
