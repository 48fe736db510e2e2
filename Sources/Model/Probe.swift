// Container probes and lifecycle hooks as Kubernetes spells them. Value types
// only: which provider runs them, and how, is the providers' business; the
// checks on their numbers live in `Validation`.

/// Kubernetes `IntOrString` (probe and hook ports): `8080` or a named port `"http"`.
public enum IntOrString: Codable, Sendable, Equatable, Hashable {
    case int(Int32)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int32.self) { self = .int(i); return }
        self = .string(try c.decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let i): try c.encode(i)
        case .string(let s): try c.encode(s)
        }
    }
}

public struct ExecAction: Codable, Sendable, Equatable, Hashable {
    public var command: [String]?
    public init(command: [String]?) { self.command = command }
}

public struct HTTPHeader: Codable, Sendable, Equatable, Hashable {
    public var name: String
    public var value: String
    public init(name: String, value: String) { self.name = name; self.value = value }
}

public struct HTTPGetAction: Codable, Sendable, Equatable, Hashable {
    public var path: String?
    public var port: IntOrString
    public var host: String?
    /// `HTTP` (default) or `HTTPS`.
    public var scheme: String?
    public var httpHeaders: [HTTPHeader]?
    public init(path: String? = nil, port: IntOrString, host: String? = nil, scheme: String? = nil, httpHeaders: [HTTPHeader]? = nil) {
        self.path = path; self.port = port; self.host = host; self.scheme = scheme; self.httpHeaders = httpHeaders
    }
}

public struct TCPSocketAction: Codable, Sendable, Equatable, Hashable {
    public var port: IntOrString
    public var host: String?
    public init(port: IntOrString, host: String? = nil) { self.port = port; self.host = host }
}

public struct GRPCAction: Codable, Sendable, Equatable, Hashable {
    public var port: Int32
    public var service: String?
    public init(port: Int32, service: String? = nil) { self.port = port; self.service = service }
}

/// `lifecycle.*.sleep` (Kubernetes 1.29+).
public struct SleepAction: Codable, Sendable, Equatable, Hashable {
    public var seconds: Int64
    public init(seconds: Int64) { self.seconds = seconds }
}

/// A probe: one handler and its timing. Unset numbers take the Kubernetes
/// defaults through the `effective*` accessors.
public struct Probe: Codable, Sendable, Equatable, Hashable {
    public var exec: ExecAction?
    public var httpGet: HTTPGetAction?
    public var tcpSocket: TCPSocketAction?
    public var grpc: GRPCAction?
    public var initialDelaySeconds: Int32?
    public var timeoutSeconds: Int32?
    public var periodSeconds: Int32?
    public var successThreshold: Int32?
    public var failureThreshold: Int32?
    public var terminationGracePeriodSeconds: Int64?

    public init(exec: ExecAction? = nil, httpGet: HTTPGetAction? = nil, tcpSocket: TCPSocketAction? = nil,
                grpc: GRPCAction? = nil, initialDelaySeconds: Int32? = nil, timeoutSeconds: Int32? = nil,
                periodSeconds: Int32? = nil, successThreshold: Int32? = nil, failureThreshold: Int32? = nil) {
        self.exec = exec; self.httpGet = httpGet; self.tcpSocket = tcpSocket; self.grpc = grpc
        self.initialDelaySeconds = initialDelaySeconds; self.timeoutSeconds = timeoutSeconds
        self.periodSeconds = periodSeconds; self.successThreshold = successThreshold
        self.failureThreshold = failureThreshold
    }

    /// Kubernetes defaults, applied as its API server does (unset or 0 takes the
    /// default): delay 0, timeout 1 s, period 10 s, success 1, failure 3.
    public var effectiveInitialDelaySeconds: Int32 { max(0, initialDelaySeconds ?? 0) }
    public var effectiveTimeoutSeconds: Int32 { Self.positive(timeoutSeconds, or: 1) }
    public var effectivePeriodSeconds: Int32 { Self.positive(periodSeconds, or: 10) }
    public var effectiveSuccessThreshold: Int32 { Self.positive(successThreshold, or: 1) }
    public var effectiveFailureThreshold: Int32 { Self.positive(failureThreshold, or: 3) }

    private static func positive(_ v: Int32?, or fallback: Int32) -> Int32 {
        guard let v, v > 0 else { return fallback }
        return v
    }

    /// How many handlers are set (Kubernetes requires exactly one).
    public var handlerCount: Int {
        [exec != nil, httpGet != nil, tcpSocket != nil, grpc != nil].filter { $0 }.count
    }
}

/// A `postStart` / `preStop` hook.
public struct LifecycleHandler: Codable, Sendable, Equatable, Hashable {
    public var exec: ExecAction?
    public var httpGet: HTTPGetAction?
    /// Deprecated in Kubernetes and never run by the kubelet; decoded so it can be refused clearly.
    public var tcpSocket: TCPSocketAction?
    public var sleep: SleepAction?
    public init(exec: ExecAction? = nil, httpGet: HTTPGetAction? = nil, sleep: SleepAction? = nil) {
        self.exec = exec; self.httpGet = httpGet; self.sleep = sleep
    }

    public var handlerCount: Int {
        [exec != nil, httpGet != nil, tcpSocket != nil, sleep != nil].filter { $0 }.count
    }
}

public struct Lifecycle: Codable, Sendable, Equatable, Hashable {
    public var postStart: LifecycleHandler?
    public var preStop: LifecycleHandler?
    public init(postStart: LifecycleHandler? = nil, preStop: LifecycleHandler? = nil) {
        self.postStart = postStart; self.preStop = preStop
    }
}

/// A port a container declares (probes may name it).
public struct ContainerPort: Codable, Sendable, Equatable, Hashable {
    public var name: String?
    public var containerPort: Int32
    public var hostPort: Int32?
    public var `protocol`: String?
    public init(name: String? = nil, containerPort: Int32, hostPort: Int32? = nil, protocol: String? = nil) {
        self.name = name; self.containerPort = containerPort; self.hostPort = hostPort; self.protocol = `protocol`
    }
}
