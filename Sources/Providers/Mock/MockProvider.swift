import FoundationEssentials
import Model
import Synchronization

/// A backend that pretends to run pods: each container "runs" for a while and
/// exits with a chosen code, with real Kubernetes container statuses and logs.
/// The default provider, so `interlink` works on a machine with no Docker or Slurm.
///
/// Annotations: `interlink.mock/exit-code` (default 0), `interlink.mock/run-seconds`
/// (overrides `runSeconds`), `interlink.mock/fail-create` (create throws a backend
/// error with that message). With `statePath` the jobs survive a restart of the
/// process (the mock stands for a backend living outside InterLink): the file
/// is append-only (one JSON line per created or removed job, so a create costs
/// O(1) whatever the number of jobs) and is rewritten as a snapshot once it
/// holds more than twice as many lines as live jobs.
/// The fault hooks (`forgetAll`, `removeJob`, `insert`) are for tests and demos.
public final class MockProvider: Provider {
    public static let exitCodeAnnotation = "interlink.mock/exit-code"
    public static let runSecondsAnnotation = "interlink.mock/run-seconds"
    public static let failCreateAnnotation = "interlink.mock/fail-create"

    public let name = "mock"
    public let runSeconds: Double
    public let startDelay: Double
    public let statePath: String?
    /// One job and its last observation, valid until the job's next change: an
    /// unchanged job is reported with the very same value (no new strings per
    /// resync, and comparing it with the last one is a pointer check). A class,
    /// so a resync walks the jobs without copying them or looking them up.
    private final class Entry {
        let job: MockJob
        var observation: JobObservation?
        var until = Date.distantPast
        init(_ job: MockJob) { self.job = job }
    }
    private struct State: @unchecked Sendable {  // entries are touched only under the lock
        var jobs: [JobKey: Entry] = [:]
        var commands = 0
        var creates = 0
        var observes = 0
        /// The number in the next job id (`mock-N`, as a batch system numbers its
        /// jobs): short enough to be stored inline, where `mock-<uid>-<attempt>`
        /// took an allocation per job.
        var nextJob = 1
        /// A job inserted from outside: later ids are past its number.
        mutating func noteJobID(_ id: String) { nextJob = max(nextJob, MockStateLog.nextNumber(after: id)) }
    }
    private let state = Mutex(State())
    private let log: MockStateLog?

    /// `startDelaySeconds` is the pretend pull time (default: a fifth of the run, at most 1 s).
    public init(runSeconds: Double, statePath: String? = nil, startDelaySeconds: Double? = nil) {
        self.runSeconds = max(0, runSeconds)
        self.startDelay = max(0, startDelaySeconds ?? min(1, runSeconds / 5))
        self.statePath = statePath
        guard let statePath else { log = nil; return }
        let (jobs, next) = MockStateLog.load(statePath)
        state.withLock { s in
            for j in jobs { s.jobs[Self.key(j.podUID, j.attempt)] = Entry(j) }
            s.nextJob = next
        }
        log = MockStateLog(path: statePath, live: jobs, nextJob: next)
    }

    /// The jobs a state file holds (for tests that look at the backend itself).
    public static func loadJobs(statePath: String) -> [MockJob] { MockStateLog.load(statePath).jobs }

    /// A job's key: the pod's UID (sharing the pod's string) and the attempt, not a
    /// string made of both (a 40-byte allocation per job). `text` is its form in the state file.
    struct JobKey: Hashable {
        var uid: String
        var attempt: Int
        var text: String { Self.text(uid, attempt) }
        static func text(_ uid: String, _ attempt: Int) -> String { "\(uid)/\(attempt)" }
    }

    static func key(_ uid: String, _ attempt: Int) -> JobKey { JobKey(uid: uid, attempt: attempt) }

    public var commandCount: Int { state.withLock { $0.commands } }
    /// Calls of `create` and `observe` so far (for tests and the benchmark).
    public var createCount: Int { state.withLock { $0.creates } }
    public var observeCount: Int { state.withLock { $0.observes } }
    public var jobs: [MockJob] { state.withLock { $0.jobs.values.map(\.job) } }

    public func create(_ pod: DesiredPod) async throws -> String {
        state.withLock { $0.commands += 1; $0.creates += 1 }
        let ann = pod.pod.annotations
        if let msg = ann[Self.failCreateAnnotation] {
            throw ProviderError.backend(command: "mock create", message: msg, transient: true)
        }
        var exit: Int32 = 0
        if let s = ann[Self.exitCodeAnnotation] {
            guard let v = Int32(s.trimmed) else {
                throw ProviderError.invalidPod("annotation \(Self.exitCodeAnnotation) must be an integer exit code, not \"\(s)\"")
            }
            exit = v
        }
        var run = runSeconds
        if let s = ann[Self.runSecondsAnnotation] {
            guard let v = Double(s.trimmed), v >= 0, v.isFinite else {
                throw ProviderError.invalidPod("annotation \(Self.runSecondsAnnotation) must be a number of seconds, not \"\(s)\"")
            }
            run = v
        }
        func conv(_ c: Container) -> MockJob.Container {
            // The pod's own array when only one of the two is set (no copy of it per job).
            let command = c.command ?? [], args = c.args ?? []
            let argv = args.isEmpty ? command : command.isEmpty ? args : command + args
            return MockJob.Container(name: c.name, image: c.image, argv: argv)
        }
        let k = Self.key(pod.uid, pod.attempt)
        let (job, isNew): (MockJob, Bool) = state.withLock { s in
            if let existing = s.jobs[k]?.job { return (existing, false) } // idempotent per (uid, attempt)
            let j = MockJob(podUID: pod.uid, namespace: pod.namespace, name: pod.name, attempt: pod.attempt,
                            jobID: "mock-\(s.nextJob)", createdAt: Date(),
                            startDelay: startDelay, runSeconds: run, exitCode: exit,
                            initContainers: pod.pod.initContainers.map(conv), containers: pod.pod.containers.map(conv))
            s.jobs[k] = Entry(j)
            s.nextJob += 1
            return (j, true)
        }
        if isNew { record(put: [job], delete: []) }
        return job.jobID
    }

    public func observe() async throws -> [JobObservation] {
        let now = Date()
        return state.withLock { s in
            s.commands += 1; s.observes += 1
            var out: [JobObservation] = []
            out.reserveCapacity(s.jobs.count)
            for e in s.jobs.values {
                if let o = e.observation, now < e.until { out.append(o); continue }
                let o = e.job.observation(at: now)
                e.observation = o; e.until = e.job.nextChange(after: now)
                out.append(o)
            }
            return out
        }
    }

    public func delete(_ job: JobRef) async throws {
        let k = Self.key(job.podUID, job.attempt)
        let existed = state.withLock { s in
            s.commands += 1
            return s.jobs.removeValue(forKey: k) != nil
        }
        if existed { record(put: [], delete: [k]) }
    }

    /// What a finished job leaves behind (its record, as Docker leaves exited
    /// containers) goes with the pod, every attempt of it.
    public func cleanup(_ job: JobRef) async throws {
        let keys = state.withLock { s -> [JobKey] in
            (0...max(0, job.attempt)).map { Self.key(job.podUID, $0) }.filter { s.jobs.removeValue(forKey: $0) != nil }
        }
        record(put: [], delete: keys)
    }

    public func ping() async throws -> PingResponse? {
        PingResponse(status: "ok", resources: .init(cpu: "64", memory: "256Gi", pods: "1000"))
    }

    public func logs(_ ref: JobRef, container: String, options: LogOpts) async throws -> LogStream {
        let attempt = options.Previous ? ref.attempt - 1 : ref.attempt
        guard let job = state.withLock({ $0.jobs[Self.key(ref.podUID, attempt)]?.job }) else {
            throw ProviderError.notFound("the mock backend has no job for pod \(ref.namespace)/\(ref.name) attempt \(attempt)")
        }
        guard job.window(of: container) != nil else {
            throw ProviderError.notFound("pod \(ref.namespace)/\(ref.name) has no container \"\(container)\"")
        }
        return MockLogs.stream(job, container: container, options: options)
    }

    // MARK: Fault injection (tests and demos)

    /// Forgets every job, as a backend (or sidecar) restart that lost its state would.
    public func forgetAll() {
        let keys = state.withLock { s in defer { s.jobs = [:] }; return Array(s.jobs.keys) }
        record(put: [], delete: keys)
    }

    /// Removes the jobs of one pod without telling anyone (a job that vanished).
    public func removeJob(podUID: String) {
        let keys = state.withLock { s -> [JobKey] in
            let ks = s.jobs.filter { $0.value.job.podUID == podUID }.map(\.key)
            for k in ks { s.jobs[k] = nil }
            return ks
        }
        record(put: [], delete: keys)
    }

    /// Adds a job as if someone (an earlier InterLink) had created it.
    public func insert(_ job: MockJob) {
        state.withLock { s in
            let k = Self.key(job.podUID, job.attempt)
            s.jobs[k] = Entry(job)
            s.noteJobID(job.jobID)
        }
        record(put: [job], delete: [])
    }

    /// Appends the change to the state file; the log compacts itself from the
    /// live jobs when it has grown to twice their number.
    private func record(put: [MockJob], delete: [JobKey]) {
        guard let log, !(put.isEmpty && delete.isEmpty) else { return }
        log.append(put: put, delete: delete.map(\.text)) { self.state.withLock { ($0.jobs.values.map(\.job), $0.nextJob) } }
    }
}
