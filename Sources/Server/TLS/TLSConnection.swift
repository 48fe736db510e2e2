import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// One server-side TLS session over an accepted socket, as a `ByteStream`.
/// The socket is switched to non-blocking; every wait is a poll() with a bound
/// (the caller's read timeout, or `timeoutMS` for the handshake and for each
/// stall while sending), so a client that stalls mid-record cannot hold the
/// thread past its deadline. Used from one thread only.
public final class TLSConnection: ByteStream {
    public let fd: Int32
    private let ssl: OpaquePointer
    private let timeoutMS: Int32
    private var established = false
    private var finished = false

    init(ssl: OpaquePointer, fd: Int32, timeoutMS: Int32) {
        self.ssl = ssl
        self.fd = fd
        self.timeoutMS = max(1, timeoutMS)
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        SSL_set_fd(ssl, fd)
    }

    deinit { SSL_free(ssl) }

    /// Runs the server handshake; nil when done, else OpenSSL's reason.
    func handshake() -> String? {
        let deadline = Self.nowMS() + Int(timeoutMS)
        while true {
            ERR_clear_error()
            let rc = SSL_accept(ssl)
            if rc == 1 { established = true; return nil }
            let err = SSL_get_error(ssl, rc)
            let left = Int32(clamping: max(0, deadline - Self.nowMS()))
            switch err {
            case SSL_ERROR_WANT_READ:
                guard Socket.waitReadable(fd, timeoutMS: left, wakeFD: nil) == .ready else { return "timed out or failed waiting for the client" }
            case SSL_ERROR_WANT_WRITE:
                guard Socket.waitReadable(fd, timeoutMS: left, wakeFD: nil, events: Int16(POLLOUT)) == .ready else { return "timed out sending to the client" }
            default:
                let reason = TLSContext.lastError()
                return reason.isEmpty ? "the client closed the connection (SSL error \(err))" : reason
            }
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, timeoutMS wait: Int32, wakeFD: Int32?) -> StreamReadResult {
        let deadline = Self.nowMS() + Int(wait)
        while true {
            ERR_clear_error()
            let n = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
            if n > 0 { return .data(Int(n)) }
            let err = SSL_get_error(ssl, n)
            let left = Int32(clamping: max(0, deadline - Self.nowMS()))
            switch err {
            case SSL_ERROR_WANT_READ:
                switch Socket.waitReadable(fd, timeoutMS: left, wakeFD: wakeFD) {
                case .ready: continue
                case .timeout: return .timeout
                case .woken: return .woken
                case .failed: return .failed
                }
            case SSL_ERROR_WANT_WRITE:
                guard Socket.waitReadable(fd, timeoutMS: left, wakeFD: nil, events: Int16(POLLOUT)) == .ready else { return .timeout }
            case SSL_ERROR_ZERO_RETURN:
                return .eof
            default:
                // A TCP close without close_notify, a reset, or a protocol error: the stream is over.
                finished = true
                return n == 0 && err == SSL_ERROR_SYSCALL ? .eof : .failed
            }
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var off = 0
        while off < bytes.count {
            ERR_clear_error()
            let n = SSL_write(ssl, bytes.baseAddress! + off, Int32(clamping: bytes.count - off))
            if n > 0 { off += Int(n); continue }
            switch SSL_get_error(ssl, n) {
            case SSL_ERROR_WANT_WRITE:
                guard Socket.waitReadable(fd, timeoutMS: timeoutMS, wakeFD: nil, events: Int16(POLLOUT)) == .ready else { return false }
            case SSL_ERROR_WANT_READ:
                guard Socket.waitReadable(fd, timeoutMS: timeoutMS, wakeFD: nil) == .ready else { return false }
            default:
                finished = true
                return false
            }
        }
        return true
    }

    /// Sends close_notify once (without waiting for the client's), if the session is still sound.
    public func finish() {
        guard established && !finished else { return }
        finished = true
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
    }

    private static func nowMS() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
    }
}
