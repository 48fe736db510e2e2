import FoundationEssentials

/// Kubernetes `ContainerStatus`. Go always emits `name`, `image`, `imageID`,
/// `ready`, `restartCount`, `state` and `lastState`, so this encodes them too.
public struct ContainerStatus: Codable, Sendable, Equatable, Hashable {
    public var name: String
    public var image: String
    public var imageID: String
    public var ready: Bool
    public var restartCount: Int32
    public var started: Bool?
    public var containerID: String?
    public var state: ContainerState
    public var lastState: ContainerState

    public init(name: String, image: String = "", imageID: String = "", ready: Bool = false,
                restartCount: Int32 = 0, started: Bool? = nil, containerID: String? = nil,
                state: ContainerState = ContainerState(), lastState: ContainerState = ContainerState()) {
        self.name = name; self.image = image; self.imageID = imageID; self.ready = ready
        self.restartCount = restartCount; self.started = started; self.containerID = containerID
        self.state = state; self.lastState = lastState
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        image = try c.decodeIfPresent(String.self, forKey: .image) ?? ""
        imageID = try c.decodeIfPresent(String.self, forKey: .imageID) ?? ""
        ready = try c.decodeIfPresent(Bool.self, forKey: .ready) ?? false
        restartCount = try c.decodeIfPresent(Int32.self, forKey: .restartCount) ?? 0
        started = try c.decodeIfPresent(Bool.self, forKey: .started)
        containerID = try c.decodeIfPresent(String.self, forKey: .containerID)
        state = try c.decodeIfPresent(ContainerState.self, forKey: .state) ?? ContainerState()
        lastState = try c.decodeIfPresent(ContainerState.self, forKey: .lastState) ?? ContainerState()
    }
}

/// Exactly one of the three members is set in a known state; none means unknown.
/// Stored as one small payload (running inline; waiting, terminated and the rare
/// combinations out of line), not the three inline: a container status is then
/// less than half the size, and every tracked pod keeps several.
public struct ContainerState: Codable, Sendable, Equatable, Hashable {
    private final class Box: Sendable {
        let waiting: ContainerStateWaiting?
        let running: ContainerStateRunning?
        let terminated: ContainerStateTerminated?
        init(_ w: ContainerStateWaiting?, _ r: ContainerStateRunning?, _ t: ContainerStateTerminated?) {
            waiting = w; running = r; terminated = t
        }
    }
    private final class Waiting: Sendable {
        let value: ContainerStateWaiting
        init(_ value: ContainerStateWaiting) { self.value = value }
    }
    /// 17 bytes where a waiting state inline made it 33: every observation, status
    /// and record holds two per container (`state`, `lastState`), most running or empty.
    private enum Payload: Sendable {
        case none
        case running(ContainerStateRunning)
        case waiting(Waiting)
        case boxed(Box)
    }
    private var payload: Payload

    /// The waiting states every pod goes through, without a message: shared, so a
    /// pending pod's states cost no allocation.
    private static let common: [String: Waiting] = Dictionary(uniqueKeysWithValues:
        ["ContainerCreating", "PodInitializing", "Pending"].map { ($0, Waiting(ContainerStateWaiting(reason: $0))) })

    private static func pack(_ w: ContainerStateWaiting?, _ r: ContainerStateRunning?,
                             _ t: ContainerStateTerminated?) -> Payload {
        switch (w, r, t) {
        case (nil, nil, nil): return .none
        case (nil, let r?, nil): return .running(r)
        case (let w?, nil, nil):
            if w.message == nil, let reason = w.reason, let shared = common[reason] { return .waiting(shared) }
            return .waiting(Waiting(w))
        default: return .boxed(Box(w, r, t))
        }
    }

    public init(waiting: ContainerStateWaiting? = nil, running: ContainerStateRunning? = nil,
                terminated: ContainerStateTerminated? = nil) {
        payload = Self.pack(waiting, running, terminated)
    }

    public var waiting: ContainerStateWaiting? {
        get {
            switch payload {
            case .waiting(let w): return w.value
            case .boxed(let b): return b.waiting
            default: return nil
            }
        }
        set { payload = Self.pack(newValue, running, terminated) }
    }

    public var running: ContainerStateRunning? {
        get {
            switch payload {
            case .running(let r): return r
            case .boxed(let b): return b.running
            default: return nil
            }
        }
        set { payload = Self.pack(waiting, newValue, terminated) }
    }

    public var terminated: ContainerStateTerminated? {
        get { if case .boxed(let b) = payload { return b.terminated } else { return nil } }
        set { payload = Self.pack(waiting, running, newValue) }
    }

    private enum CodingKeys: String, CodingKey { case waiting, running, terminated }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        payload = Self.pack(try c.decodeIfPresent(ContainerStateWaiting.self, forKey: .waiting),
                            try c.decodeIfPresent(ContainerStateRunning.self, forKey: .running),
                            try c.decodeIfPresent(ContainerStateTerminated.self, forKey: .terminated))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(waiting, forKey: .waiting)
        try c.encodeIfPresent(running, forKey: .running)
        try c.encodeIfPresent(terminated, forKey: .terminated)
    }

    public static func == (a: ContainerState, b: ContainerState) -> Bool {
        if case .boxed(let x) = a.payload, case .boxed(let y) = b.payload, x === y { return true }
        return a.waiting == b.waiting && a.running == b.running && a.terminated == b.terminated
    }

    public func hash(into h: inout Hasher) {
        h.combine(waiting); h.combine(running); h.combine(terminated)
    }

    public static func waiting(_ reason: String, _ message: String? = nil) -> ContainerState {
        ContainerState(waiting: ContainerStateWaiting(reason: reason, message: message))
    }
    public static func running(since startedAt: String?) -> ContainerState {
        ContainerState(running: ContainerStateRunning(startedAt: startedAt))
    }
    public static func terminated(_ t: ContainerStateTerminated) -> ContainerState {
        ContainerState(terminated: t)
    }

    public var isEmpty: Bool { waiting == nil && running == nil && terminated == nil }
}

public struct ContainerStateWaiting: Codable, Sendable, Equatable, Hashable {
    public var reason: String?
    public var message: String?
    public init(reason: String? = nil, message: String? = nil) { self.reason = reason; self.message = message }
}

public struct ContainerStateRunning: Codable, Sendable, Equatable, Hashable {
    public var startedAt: String?
    public init(startedAt: String? = nil) { self.startedAt = startedAt }
}

public struct ContainerStateTerminated: Codable, Sendable, Equatable, Hashable {
    public var exitCode: Int32
    public var signal: Int32?
    public var reason: String?
    public var message: String?
    public var startedAt: String?
    public var finishedAt: String?
    public var containerID: String?

    public init(exitCode: Int32, signal: Int32? = nil, reason: String? = nil, message: String? = nil,
                startedAt: String? = nil, finishedAt: String? = nil, containerID: String? = nil) {
        self.exitCode = exitCode; self.signal = signal; self.reason = reason; self.message = message
        self.startedAt = startedAt; self.finishedAt = finishedAt; self.containerID = containerID
    }
}

/// Kubernetes pod phase, derived from container statuses the way the VK does.
public enum PodPhase: String, Sendable, Codable, CaseIterable {
    case pending = "Pending", running = "Running", succeeded = "Succeeded", failed = "Failed", unknown = "Unknown"

    /// The VK's rule: all terminated -> Succeeded (Failed if any non-zero);
    /// any running -> Running; otherwise Pending. No containers -> Unknown.
    public static func derive(from containers: [ContainerStatus]) -> PodPhase {
        if containers.isEmpty { return .unknown }
        if containers.allSatisfy({ $0.state.terminated != nil }) {
            return containers.contains { ($0.state.terminated?.exitCode ?? 0) != 0 } ? .failed : .succeeded
        }
        if containers.contains(where: { $0.state.running != nil }) { return .running }
        // Kubelet's rule: a container waiting out its restart backoff has run and
        // will run again, so the pod is Running, not Pending.
        if containers.contains(where: { $0.state.waiting?.reason == "CrashLoopBackOff" && $0.lastState.terminated != nil }) {
            return .running
        }
        return .pending
    }
}
