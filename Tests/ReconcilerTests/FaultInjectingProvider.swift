import FoundationEssentials
import Model
import Providers
import Synchronization

/// A `MockProvider` wrapper that injects the faults the reconciler must heal:
/// a backend that forgets everything, failing creates, orphans, vanished jobs,
/// and an observe that hangs until released. Counts every call.
final class FaultInjectingProvider: Provider {
    let mock: MockProvider
    let name = "faulty-mock"

    private struct Faults {
        var failNextCreates = 0
        var alwaysFail: String?
        var failMessage = "injected create failure"
        var observeCalls = 0
        var createCalls = 0
        var deleted: [JobRef] = []
        var holdObserve = false
        var held: [CheckedContinuation<Void, Never>] = []
        var holdCreateOf: String?
        var heldCreates: [CheckedContinuation<Void, Never>] = []
        var createCallsByUID: [String: Int] = [:]
        var holdDeleteOf: String?
        var heldDeletes: [CheckedContinuation<Void, Never>] = []
        var failCleanups: String?
        var cleanupCalls = 0
        var due: [String: [String]] = [:]
        var advanced: [(String, [String])] = []
        var failAdvances = 0
        var failObserve: String?
    }
    private let faults = Mutex(Faults())

    init(runSeconds: Double = 3600, statePath: String? = nil) {
        mock = MockProvider(runSeconds: runSeconds, statePath: statePath, startDelaySeconds: 0)
    }

    var commandCount: Int { mock.commandCount }
    var observeCalls: Int { faults.withLock { $0.observeCalls } }
    var createCalls: Int { faults.withLock { $0.createCalls } }
    var deleted: [JobRef] { faults.withLock { $0.deleted } }
    var isHoldingObserve: Bool { faults.withLock { !$0.held.isEmpty } }

    func failNextCreates(_ n: Int, message: String = "injected create failure") {
        faults.withLock { $0.failNextCreates = n; $0.failMessage = message }
    }
    func alwaysFailCreates(_ message: String?) { faults.withLock { $0.alwaysFail = message } }
    /// A sidecar/backend restart that lost every job.
    func forgetAll() { mock.forgetAll() }
    /// One pod's job disappears from the backend.
    func vanish(_ uid: String) { mock.removeJob(podUID: uid) }
    /// A job carrying our labels whose pod nobody wants (left by a crash).
    func injectOrphan(uid: String) {
        mock.insert(MockJob(podUID: uid, namespace: "default", name: "orphan", attempt: 0, jobID: "orphan-job",
                            createdAt: Date(), startDelay: 0, runSeconds: 3600, exitCode: 0,
                            initContainers: [], containers: [.init(name: "main", image: "busybox")]))
    }
    /// A backend that cannot be reached (sidecar, dockerd, slurmctld down): every observe throws.
    func failObserves(_ message: String?) { faults.withLock { $0.failObserve = message } }
    func holdObserve(_ on: Bool) {
        let release: [CheckedContinuation<Void, Never>] = faults.withLock { f in
            f.holdObserve = on
            if on { return [] }
            defer { f.held = [] }
            return f.held
        }
        for c in release { c.resume() }
    }

    func createCalls(of uid: String) -> Int { faults.withLock { $0.createCallsByUID[uid] ?? 0 } }
    var isHoldingCreate: Bool { faults.withLock { !$0.heldCreates.isEmpty } }

    /// Creates of this pod hang until `releaseCreates()` (a slow image pull).
    func holdCreates(of uid: String) { faults.withLock { $0.holdCreateOf = uid } }
    func releaseCreates() {
        let cs: [CheckedContinuation<Void, Never>] = faults.withLock { f in
            f.holdCreateOf = nil
            defer { f.heldCreates = [] }
            return f.heldCreates
        }
        for c in cs { c.resume() }
    }

    func create(_ pod: DesiredPod) async throws -> String {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let hold = faults.withLock { f in
                f.createCallsByUID[pod.uid, default: 0] += 1
                if f.holdCreateOf == pod.uid { f.heldCreates.append(c); return true }
                return false
            }
            if !hold { c.resume() }
        }
        let failure: String? = faults.withLock { f in
            f.createCalls += 1
            if let m = f.alwaysFail { return m }
            if f.failNextCreates > 0 { f.failNextCreates -= 1; return f.failMessage }
            return nil
        }
        if let failure { throw ProviderError.backend(command: "mock create", message: failure, transient: true) }
        return try await mock.create(pod)
    }

    func observe() async throws -> [JobObservation] {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let hold = faults.withLock { f in
                f.observeCalls += 1
                if f.holdObserve { f.held.append(c); return true }
                return false
            }
            if !hold { c.resume() }
        }
        if let m = faults.withLock({ $0.failObserve }) {
            throw ProviderError.backend(command: "observe", message: m, transient: true)
        }
        let due = faults.withLock { $0.due }
        return try await mock.observe().map { o in
            var o = o
            if let ids = due[o.podUID], o.state != .finished { o.dueToStart = ids }
            return o
        }
    }

    func delete(_ job: JobRef) async throws {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let hold = faults.withLock { f in
                f.deleted.append(job)
                if f.holdDeleteOf == job.podUID { f.heldDeletes.append(c); return true }
                return false
            }
            if !hold { c.resume() }
        }
        try await mock.delete(job)
    }

    func cleanup(_ job: JobRef) async throws {
        let failure = faults.withLock { f -> String? in f.cleanupCalls += 1; return f.failCleanups }
        if let failure { throw ProviderError.backend(command: "cleanup", message: failure, transient: true) }
        try await mock.cleanup(job)
    }

    /// Deletes of this pod hang until `releaseDeletes()` (a long grace period).
    func holdDeletes(of uid: String) { faults.withLock { $0.holdDeleteOf = uid } }
    var isHoldingDelete: Bool { faults.withLock { !$0.heldDeletes.isEmpty } }
    func releaseDeletes() {
        let cs: [CheckedContinuation<Void, Never>] = faults.withLock { f in
            f.holdDeleteOf = nil
            defer { f.heldDeletes = [] }
            return f.heldDeletes
        }
        for c in cs { c.resume() }
    }
    /// Every cleanup fails with this message (files a root container left), or succeeds again with nil.
    func failCleanups(_ message: String?) { faults.withLock { $0.failCleanups = message } }
    var cleanupCalls: Int { faults.withLock { $0.cleanupCalls } }
    /// Observations of this pod report these containers as due to start.
    func setDue(_ uid: String, _ ids: [String]) { faults.withLock { $0.due[uid] = ids } }
    func failNextAdvances(_ n: Int) { faults.withLock { $0.failAdvances = n } }
    var advanced: [(String, [String])] { faults.withLock { $0.advanced } }

    func advance(_ job: JobRef, start ids: [String]) async throws {
        let fail = faults.withLock { f -> Bool in
            if f.failAdvances > 0 { f.failAdvances -= 1; return true }
            f.advanced.append((job.podUID, ids))
            f.due[job.podUID] = nil
            return false
        }
        if fail { throw ProviderError.backend(command: "docker start", message: "injected advance failure", transient: true) }
    }

    func logs(_ job: JobRef, container: String, options: LogOpts) async throws -> LogStream {
        try await mock.logs(job, container: container, options: options)
    }

    func ping() async throws -> PingResponse? { try await mock.ping() }
}
