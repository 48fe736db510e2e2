#if canImport(Glibc)
import Glibc
#endif

/// Why the server could not start listening. The description is one sentence
/// naming the address and what to do about it.
public enum HTTPServerError: Error, Sendable, Equatable, CustomStringConvertible {
    case addressInUse(String)
    case permissionDenied(String)
    /// The host did not resolve, the port is out of range, or the unix path is too long.
    case invalidAddress(String, reason: String)
    /// A path exists where the unix socket should go and it is not a socket.
    case pathNotASocket(String)
    case alreadyStarted
    /// Any other system call failure: the call and its errno text.
    case system(address: String, call: String, errno: Int32)

    public var description: String {
        switch self {
        case .addressInUse(let a):
            return "Cannot listen on \(a): the address is already in use by another process."
        case .permissionDenied(let a):
            return "Cannot listen on \(a): permission denied (ports below 1024 need privileges; check the directory of a unix socket)."
        case .invalidAddress(let a, let reason):
            return "Cannot listen on \(a): \(reason)."
        case .pathNotASocket(let p):
            return "Cannot listen on unix://\(p): the path exists and is not a socket, so it was left alone."
        case .alreadyStarted:
            return "The HTTP server was already started."
        case .system(let a, let call, let e):
            return "Cannot listen on \(a): \(call) failed: \(String(cString: strerror(e)))."
        }
    }

    static func from(errno e: Int32, address: String, call: String) -> HTTPServerError {
        switch e {
        case EADDRINUSE: return .addressInUse(address)
        case EACCES, EPERM: return .permissionDenied(address)
        default: return .system(address: address, call: call, errno: e)
        }
    }
}
