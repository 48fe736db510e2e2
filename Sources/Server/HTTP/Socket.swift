import FoundationEssentials
import CShims
import Model
#if canImport(Glibc)
import Glibc
#endif

/// Thin blocking wrappers over POSIX sockets for the server's own threads.
/// Nothing here may run on Swift's cooperative pool: every call can block.
enum Socket {
    static let backlog: Int32 = 511

    /// Binds and listens on host:port; returns the fd.
    static func listenTCP(host: String, port: Int) throws(HTTPServerError) -> Int32 {
        let address = "\(host):\(port)"
        guard (0...65535).contains(port) else { throw .invalidAddress(address, reason: "the port is not in 0...65535") }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let node: String? = (host.isEmpty || host == "*") ? nil : host
        let rc = getaddrinfo(node, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw .invalidAddress(address, reason: "the host does not resolve (\(String(cString: gai_strerror(rc))))")
        }
        defer { freeaddrinfo(list) }
        var lastError: HTTPServerError = .invalidAddress(address, reason: "no usable address")
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            ai = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), a.pointee.ai_protocol)
            if fd < 0 { lastError = .from(errno: errno, address: address, call: "socket"); continue }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if bind(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) != 0 {
                lastError = .from(errno: errno, address: address, call: "bind"); close(fd); continue
            }
            if listen(fd, backlog) != 0 {
                lastError = .from(errno: errno, address: address, call: "listen"); close(fd); continue
            }
            return fd
        }
        throw lastError
    }

    /// Binds a unix socket at `path` with mode 0600 and listens. A stale socket
    /// file (nobody accepting on it) is removed first; a live one is "in use";
    /// anything that is not a socket is left alone.
    static func listenUnix(path: String) throws(HTTPServerError) -> Int32 {
        let address = "unix://\(path)"
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard !path.isEmpty, path.utf8.count < capacity else {
            throw .invalidAddress(address, reason: "a unix socket path must be 1 to \(capacity - 1) bytes long")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw .pathNotASocket(path) }
            if isLive(&addr) { throw .addressInUse(address) }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .from(errno: errno, address: address, call: "socket") }
        let len = socklen_t(MemoryLayout<sockaddr_un>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        if bound != 0 { let e = errno; close(fd); throw .from(errno: e, address: address, call: "bind") }
        // chmod before listen: until listen() nobody can connect, so there is no window with a wider mode.
        if chmod(path, 0o600) != 0 { let e = errno; close(fd); unlink(path); throw .from(errno: e, address: address, call: "chmod") }
        if listen(fd, backlog) != 0 { let e = errno; close(fd); unlink(path); throw .from(errno: e, address: address, call: "listen") }
        return fd
    }

    private static func isLive(_ addr: inout sockaddr_un) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let len = socklen_t(MemoryLayout<sockaddr_un>.size)
        return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, len) } } == 0
    }

    static func boundPort(_ fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        guard rc == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        default:
            return nil
        }
    }

    /// Accepts one connection; returns the fd and a printable peer, or nil with errno set.
    static func accept(_ listenFD: Int32) -> (fd: Int32, peer: String)? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { cshims_accept4(listenFD, $0, &len, Int32(SOCK_CLOEXEC.rawValue)) }
        }
        guard fd >= 0 else { return nil }
        if Int32(storage.ss_family) == AF_INET || Int32(storage.ss_family) == AF_INET6 {
            // Small responses and stream chunks go out at once instead of waiting on Nagle.
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        return (fd, peerName(&storage))
    }

    private static func peerName(_ storage: inout sockaddr_storage) -> String {
        var host = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                var a = p.pointee.sin_addr
                inet_ntop(AF_INET, &a, &host, socklen_t(host.count))
                return "\(cString(host)):\(UInt16(bigEndian: p.pointee.sin_port))"
            } }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                var a = p.pointee.sin6_addr
                inet_ntop(AF_INET6, &a, &host, socklen_t(host.count))
                return "[\(cString(host))]:\(UInt16(bigEndian: p.pointee.sin6_port))"
            } }
        default:
            return "unix"
        }
    }

    private static func cString(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Bounds how long a blocked send can wait for a client that stopped reading.
    static func setSendTimeout(_ fd: Int32, seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Writes everything; false on any error (peer gone, send timeout).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { writeAll(fd, $0) }
    }

    static func writeAll(_ fd: Int32, _ raw: UnsafeRawBufferPointer) -> Bool {
        var off = 0
        while off < raw.count {
            let n = send(fd, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            off += n
        }
        return true
    }

    enum Readiness { case ready, timeout, woken, failed }

    /// Waits up to `timeoutMS` for `fd` to be readable (or `wakeFD`, checked only when `fd` is not).
    static func waitReadable(_ fd: Int32, timeoutMS: Int32, wakeFD: Int32?, events: Int16 = Int16(POLLIN)) -> Readiness {
        var fds = (pollfd(fd: fd, events: events, revents: 0), pollfd(fd: wakeFD ?? -1, events: Int16(POLLIN), revents: 0))
        let count: nfds_t = wakeFD == nil ? 1 : 2
        while true {
            let rc = withUnsafeMutableBytes(of: &fds) { poll($0.baseAddress!.assumingMemoryBound(to: pollfd.self), count, timeoutMS) }
            if rc < 0 { if errno == EINTR { continue }; return .failed }
            if rc == 0 { return .timeout }
            return fds.0.revents != 0 ? .ready : .woken
        }
    }

    enum ReadResult {
        case data([UInt8])
        case eof
        case timeout
        case woken
        case failed
    }

    /// Waits up to `timeoutMS` for data on `fd` (or for `wakeFD` to become readable), then reads.
    static func read(_ fd: Int32, timeoutMS: Int32, wakeFD: Int32?, max: Int = 64 * 1024) -> ReadResult {
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        if let w = wakeFD { fds.append(pollfd(fd: w, events: Int16(POLLIN), revents: 0)) }
        while true {
            let rc = poll(&fds, nfds_t(fds.count), timeoutMS)
            if rc < 0 { if errno == EINTR { continue }; return .failed }
            if rc == 0 { return .timeout }
            break
        }
        if fds[0].revents == 0 { return .woken }
        var buf = [UInt8](repeating: 0, count: max)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, max, 0) }
            if n > 0 { return .data(Array(buf[0..<n])) }
            if n == 0 { return .eof }
            if errno == EINTR { continue }
            return .failed
        }
    }

    /// True when the peer has closed (or reset) the connection; never blocks.
    static func peerClosed(_ fd: Int32) -> Bool {
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        guard poll(&fds, 1, 0) > 0 else { return false }
        if fds[0].revents & Int16(POLLHUP | POLLERR) != 0 { return true }
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
    }

    /// Ends a connection whose framing is broken: stop sending, then read and
    /// drop what the client still sends for a short while, so our last response
    /// is not lost to a TCP reset caused by unread data.
    static func lingeringClose(_ fd: Int32, maxSeconds: Double = 2, maxBytes: Int = 1 << 20) {
        shutdown(fd, Int32(SHUT_WR))
        var drained = 0
        var rounds = 0
        let perPollMS: Int32 = 100
        while drained < maxBytes && Double(rounds) * Double(perPollMS) / 1000 < maxSeconds {
            rounds += 1
            switch read(fd, timeoutMS: perPollMS, wakeFD: nil) {
            case .data(let d): drained += d.count
            case .timeout: continue
            default: drained = maxBytes
            }
        }
        close(fd)
    }
}
