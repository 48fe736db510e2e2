#if canImport(Glibc)
import Glibc
#endif

/// The bytes of one connection as the connection loop sees them: a plain
/// socket or a TLS session over it. Used from the connection's own thread only.
/// Every call is bounded in time; none may run on Swift's cooperative pool.
public protocol ByteStream: AnyObject {
    /// The socket underneath (for polls that only need readiness, and for closing).
    var fd: Int32 { get }
    /// Waits up to `timeoutMS` for bytes (or for `wakeFD` to become readable) and reads into `buffer`.
    func read(into buffer: UnsafeMutableRawBufferPointer, timeoutMS: Int32, wakeFD: Int32?) -> StreamReadResult
    /// Writes everything, each wait bounded by the stream's send timeout; false on any failure.
    func write(_ bytes: UnsafeRawBufferPointer) -> Bool
    /// Ends the stream's own framing (a TLS close_notify); the socket stays open for the caller.
    func finish()
}

public enum StreamReadResult: Sendable, Equatable {
    case data(Int)
    case eof
    case timeout
    case woken
    case failed
}

extension ByteStream {
    func writeAll(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { write($0) } }
}

/// A plain TCP or unix socket: blocking recv after poll, send bounded by SO_SNDTIMEO.
final class PlainStream: ByteStream {
    let fd: Int32

    init(fd: Int32, sendTimeoutSeconds: Double) {
        self.fd = fd
        Socket.setSendTimeout(fd, seconds: sendTimeoutSeconds)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, timeoutMS: Int32, wakeFD: Int32?) -> StreamReadResult {
        switch Socket.waitReadable(fd, timeoutMS: timeoutMS, wakeFD: wakeFD) {
        case .ready: break
        case .timeout: return .timeout
        case .woken: return .woken
        case .failed: return .failed
        }
        while true {
            let n = recv(fd, buffer.baseAddress!, buffer.count, 0)
            if n > 0 { return .data(n) }
            if n == 0 { return .eof }
            if errno == EINTR { continue }
            return .failed
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> Bool { Socket.writeAll(fd, bytes) }

    func finish() {}
}
