import FoundationEssentials

/// The API server's `metav1.Status`: what it says when it refuses a call.
public struct KubeStatus: Codable, Sendable, Equatable {
    public var kind: String?
    public var apiVersion: String?
    public var status: String?
    public var message: String?
    public var reason: String?
    public var code: Int?

    public init(status: String? = "Failure", message: String? = nil, reason: String? = nil, code: Int? = nil) {
        self.kind = "Status"; self.apiVersion = "v1"
        self.status = status; self.message = message; self.reason = reason; self.code = code
    }
}

/// Why a Kubernetes API call failed. `description` is one sentence a user can
/// act on; callers switch on the case (a 404 stops work on a pod, a 410 means
/// relist, a 409 a lost race or a UID precondition).
public enum KubeError: Error, Sendable, CustomStringConvertible {
    /// No usable connection settings (missing kubeconfig, bad context, ...).
    case config(String)
    /// The kubeconfig asks for something this client does not do (exec plugins).
    case unsupported(String)
    /// No answer after every retry: connection refused, reset, timed out.
    case transport(method: String, path: String, message: String, attempts: Int)
    /// The API server answered a non-2xx status; `status` is its own `Status` object.
    case status(code: Int, method: String, path: String, status: KubeStatus?)
    /// 410 Gone on a watch or list: the resourceVersion is too old; list again.
    case gone(path: String, message: String)
    /// The answer was not the JSON expected.
    case decode(path: String, message: String)
    /// The request cannot be sent as given.
    case invalidRequest(String)
    case cancelled

    public var description: String {
        switch self {
        case .config(let m): return "Kubernetes connection: \(m)"
        case .unsupported(let m): return "Kubernetes connection: \(m)"
        case .transport(let method, let path, let m, let attempts):
            return "\(method) \(path) failed after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(m)"
        case .status(let code, let method, let path, let s):
            let msg = s?.message.flatMap { $0.isEmpty ? nil : $0 } ?? "no message"
            let reason = s?.reason.map { " (\($0))" } ?? ""
            return "\(method) \(path): API server answered \(code)\(reason): \(msg)"
        case .gone(let path, let m): return "\(path): resource version expired (410 Gone), list again: \(m)"
        case .decode(let path, let m): return "\(path): unexpected answer: \(m)"
        case .invalidRequest(let m): return "invalid Kubernetes request: \(m)"
        case .cancelled: return "Kubernetes request cancelled"
        }
    }

    /// The HTTP status the API server answered, if it answered.
    public var httpStatus: Int? {
        switch self {
        case .status(let code, _, _, _): return code
        case .gone: return 410
        default: return nil
        }
    }

    public var isNotFound: Bool { httpStatus == 404 }
    /// 409: already exists, or a precondition (UID, resourceVersion) did not hold.
    public var isConflict: Bool { httpStatus == 409 }
    public var isGone: Bool { httpStatus == 410 }
}
