import FoundationEssentials
import Model

/// One pretend job of the `MockProvider`: a pod incarnation whose containers
/// "run" on a wall-clock timeline. Init containers run one after another, then
/// all main containers run together for `runSeconds` and exit with `exitCode`.
/// Pure value: its status and logs are functions of the time asked about.
public struct MockJob: Codable, Sendable, Equatable {
    public struct Container: Codable, Sendable, Equatable {
        public var name: String
        public var image: String
        public var argv: [String]
        public init(name: String, image: String, argv: [String] = []) {
            self.name = name; self.image = image; self.argv = argv
        }
    }

    public var podUID: String
    public var namespace: String
    public var name: String
    public var attempt: Int
    public var jobID: String
    public var createdAt: Date
    /// Seconds spent "pulling" before the first container starts.
    public var startDelay: Double
    /// Seconds each container runs.
    public var runSeconds: Double
    public var exitCode: Int32
    public var initContainers: [Container]
    public var containers: [Container]

    public init(podUID: String, namespace: String, name: String, attempt: Int, jobID: String, createdAt: Date,
                startDelay: Double, runSeconds: Double, exitCode: Int32,
                initContainers: [Container], containers: [Container]) {
        self.podUID = podUID; self.namespace = namespace; self.name = name; self.attempt = attempt
        self.jobID = jobID; self.createdAt = createdAt; self.startDelay = startDelay; self.runSeconds = runSeconds
        self.exitCode = exitCode; self.initContainers = initContainers; self.containers = containers
    }

    var firstStart: Date { createdAt.addingTimeInterval(startDelay) }
    func initStart(_ i: Int) -> Date { firstStart.addingTimeInterval(Double(i) * runSeconds) }
    var mainStart: Date { initStart(initContainers.count) }
    public var finishedAt: Date { mainStart.addingTimeInterval(runSeconds) }

    /// When `container` starts and ends, and how it exits; nil if there is no such container.
    func window(of container: String) -> (start: Date, end: Date, exitCode: Int32)? {
        if let i = initContainers.firstIndex(where: { $0.name == container }) {
            return (initStart(i), initStart(i + 1), 0)
        }
        guard containers.contains(where: { $0.name == container }) else { return nil }
        return (mainStart, finishedAt, exitCode)
    }

    /// The first instant after `now` at which `observation(at:)` answers
    /// differently (a container starts or ends); `distantFuture` once finished.
    public func nextChange(after now: Date) -> Date {
        var next = Date.distantFuture
        for t in [firstStart] + (0...initContainers.count).map(initStart) + [finishedAt] where t > now && t < next { next = t }
        return next
    }

    /// The job as `observe()` reports it at `now`.
    public func observation(at now: Date) -> JobObservation {
        let inits = initContainers.map { status(of: $0, at: now, isInit: true) }
        let mains = containers.map { status(of: $0, at: now, isInit: false) }
        let state: JobState
        if now >= finishedAt { state = .finished }
        else if now >= firstStart { state = .running }
        else { state = .pending }
        return JobObservation(podUID: podUID, namespace: namespace, name: name, jobID: jobID, attempt: attempt,
                              state: state, containers: mains, initContainers: inits)
    }

    private func status(of c: Container, at now: Date, isInit: Bool) -> ContainerStatus {
        let w = window(of: c.name)!
        var s = ContainerStatus(name: c.name, image: c.image, imageID: "mock://\(c.image)",
                                containerID: containerID(of: c.name))
        if now >= w.end {
            s.state = .terminated(ContainerStateTerminated(
                exitCode: w.exitCode, reason: w.exitCode == 0 ? "Completed" : "Error",
                startedAt: RFC3339.string(w.start), finishedAt: RFC3339.string(w.end),
                containerID: s.containerID))
            s.started = false
        } else if now >= w.start {
            s.state = .running(since: RFC3339.string(w.start))
            s.started = true; s.ready = !isInit
        } else {
            let pulling = now < firstStart
            s.state = .waiting(pulling ? "ContainerCreating" : "PodInitializing")
            s.started = false
        }
        return s
    }

    /// `mock://` and 8 hex digits of a hash of the job id and the container's
    /// name: stable, distinct in practice, and short enough to be stored inline
    /// in the string (every observation of every container holds one).
    func containerID(of container: String) -> String {
        var h: UInt32 = 2_166_136_261   // FNV-1a
        for b in jobID.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        h = (h ^ UInt32(UInt8(ascii: "/"))) &* 16_777_619
        for b in container.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        let hex = String(h, radix: 16)
        return "mock://" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// The log lines of `container` written by `now`, each with its time.
    public func logLines(of container: String, at now: Date) -> [(at: Date, text: String)] {
        guard let w = window(of: container), now >= w.start,
              let c = (initContainers + containers).first(where: { $0.name == container }) else { return [] }
        var lines: [(Date, String)] = [(w.start, "hello from \(c.name) (\(c.image))")]
        if !c.argv.isEmpty { lines.append((w.start, "args: " + c.argv.joined(separator: " "))) }
        lines.append((w.start, "pod \(namespace)/\(name) attempt \(attempt) runs for \(runSeconds)s"))
        if now >= w.end { lines.append((w.end, "exiting with code \(w.exitCode)")) }
        return lines
    }
}
