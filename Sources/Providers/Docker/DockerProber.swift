import FoundationEssentials
import Model

/// Runs the probes and the postStart hook of the Docker provider's running
/// containers, and remembers what they concluded (`DockerProbeState`) for the
/// next `observe`. Probing is observation: the prober never kills or restarts
/// anything; a failed liveness/startup probe or postStart hook only *condemns*
/// the container, observe reports it in `restartDue`, and the planner's
/// `.create` makes the provider kill it (and later restart it per policy).
///
/// Where probes run: inside the container's own network namespace, through
/// `docker exec` (test and many production containers run with `--network
/// none`, so nothing outside could reach their ports). exec handlers run as
/// given; httpGet and tcpSocket run the static `interlink-probe` helper that
/// `create` bind-mounts read-only into containers that need it (a helper
/// container joined with `--network container:` would need an image on the
/// host and one more container per probe; the static binary needs nothing from
/// the image, not even a shell). Handler values travel as argv items, never
/// through a shell.
///
/// One task per running container with probes or a postStart hook; every
/// process it starts goes through one `AsyncLimiter`, so many pods times many
/// probes never spawn more than `maxConcurrentProbes` `docker exec` at once.
actor DockerProber {
    /// Probe processes in flight at most, across all pods.
    static let maxConcurrentProbes = 8
    /// Where the helper appears inside containers.
    static let helperPathInContainer = "/.interlink-probe"

    let cli: DockerCLI
    let limiter = AsyncLimiter(DockerProber.maxConcurrentProbes)

    struct Entry {
        var state: DockerProbeState
        var task: Task<Void, Never>?
    }
    private var entries: [String: Entry] = [:]
    /// Containers whose postStart hook is to run when their task starts (set by `started`).
    private var postStartPending: Set<String> = []
    /// Why InterLink killed a container, until Docker forgets the container.
    private var killReasons: [String: String] = [:]

    init(cli: DockerCLI) { self.cli = cli }

    /// Called right before `docker start` of `records`: their postStart hooks are
    /// to run, whoever launches their task first (`started`, or an observe's
    /// `sync` that saw them running in between).
    func willStart(_ records: [DockerContainerRecord]) {
        for r in records where r.lifecycle?.postStart != nil && entries[r.id] == nil { postStartPending.insert(r.id) }
    }

    /// Called right after `docker start` of `records`: their postStart hooks run now.
    func started(_ records: [DockerContainerRecord]) {
        for r in records where r.lifecycle != nil && !(r.lifecycle?.isEmpty ?? true) && entries[r.id] == nil { launch(r) }
    }

    /// Brings the tasks in line with what runs, and returns the states by container id.
    /// A container seen running without a task (InterLink restarted) gets one, its
    /// postStart not run again (it ran, or was cut short, by the process before us).
    func sync(_ records: [DockerContainerRecord]) -> [String: DockerProbeState] {
        let running = Dictionary(records.filter { $0.isRunning && !($0.lifecycle?.isEmpty ?? true) }.map { ($0.id, $0) },
                                 uniquingKeysWith: { a, _ in a })
        for (id, e) in entries where running[id] == nil {
            e.task?.cancel(); entries[id] = nil; postStartPending.remove(id)
        }
        for (id, r) in running where entries[id] == nil { launch(r) }
        let known = Set(records.map(\.id))
        killReasons = killReasons.filter { known.contains($0.key) }
        return entries.mapValues(\.state)
    }

    /// The states by container id, changing nothing (`sync` is for the whole
    /// observe: given one pod's records it would stop every other pod's probes).
    func states() -> [String: DockerProbeState] { entries.mapValues(\.state) }

    func killReason(_ id: String) -> String? { killReasons[id] }
    /// Every kill reason still known, by container id (one call per observe).
    func allKillReasons() -> [String: String] { killReasons }
    func condemnation(_ id: String) -> String? { entries[id]?.state.condemned }

    /// Notes that `id` is being killed for `reason`, and stops probing it.
    func killing(_ id: String, reason: String) {
        killReasons[id] = reason
        entries[id]?.task?.cancel()
    }

    private func launch(_ r: DockerContainerRecord) {
        guard let spec = r.lifecycle else { return }
        let hasPostStart = postStartPending.contains(r.id)
        entries[r.id] = Entry(state: DockerProbeState(started: spec.startupProbe == nil && !hasPostStart,
                                                      ready: false))
        let id = r.id, startedAt = r.startedAt.flatMap(RFC3339.date) ?? Date()
        entries[r.id]?.task = Task { [weak self] in
            await self?.run(id: id, spec: spec, startedAt: startedAt, postStart: hasPostStart)
        }
    }

    private func update(_ id: String, _ change: (inout DockerProbeState) -> Void) {
        guard var e = entries[id] else { return }
        change(&e.state)
        entries[id] = e
    }

    /// One container's probes, kubelet's rules: startup first (liveness and
    /// readiness wait for it), each probe on its own period after its initial
    /// delay (from the container's start), verdicts after `successThreshold` /
    /// `failureThreshold` consecutive results.
    private func run(id: String, spec: DockerLifecycleSpec, startedAt: Date, postStart: Bool) async {
        if postStart, let hook = spec.postStart {
            let result = await DockerHooks.run(hook, in: id, spec: spec, cli: cli, limiter: limiter,
                                               timeout: Double(max(1, spec.graceSeconds)))
            postStartPending.remove(id)
            if let failure = result {
                update(id) { $0.condemned = "FailedPostStartHook: \(failure)"; $0.ready = false }
                return
            }
            update(id) { if spec.startupProbe == nil { $0.started = true } }
        }
        struct Slot { var kind: Kind; var probe: Probe; var due: Date; var ok = 0; var bad = 0 }
        enum Kind: String { case startup = "Startup", liveness = "Liveness", readiness = "Readiness" }
        var slots: [Slot] = []
        func first(_ p: Probe) -> Date { startedAt.addingTimeInterval(Double(p.effectiveInitialDelaySeconds)) }
        if let p = spec.startupProbe { slots.append(Slot(kind: .startup, probe: p, due: first(p))) }
        if let p = spec.livenessProbe { slots.append(Slot(kind: .liveness, probe: p, due: first(p))) }
        if let p = spec.readinessProbe { slots.append(Slot(kind: .readiness, probe: p, due: first(p))) }
        var started = spec.startupProbe == nil
        while !Task.isCancelled {
            // The startup probe runs alone until it succeeds.
            let live = slots.indices.filter { started ? slots[$0].kind != .startup : slots[$0].kind == .startup }
            guard let i = live.min(by: { slots[$0].due < slots[$1].due }) else { return }
            let wait = slots[i].due.timeIntervalSinceNow
            if wait > 0 { try? await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
            if Task.isCancelled { return }
            let p = slots[i].probe
            let failure = await DockerHooks.probe(p, in: id, spec: spec, cli: cli, limiter: limiter)
            slots[i].due = Date().addingTimeInterval(Double(p.effectivePeriodSeconds))
            if failure == nil { slots[i].ok += 1; slots[i].bad = 0 } else { slots[i].bad += 1; slots[i].ok = 0 }
            let ok = slots[i].ok >= Int(p.effectiveSuccessThreshold)
            let failed = slots[i].bad >= Int(p.effectiveFailureThreshold)
            switch slots[i].kind {
            case .startup:
                if ok {
                    started = true
                    // Liveness and readiness start after the startup probe, not before their delay.
                    let now = Date()
                    for j in slots.indices where slots[j].kind != .startup { slots[j].due = max(slots[j].due, now) }
                    update(id) { $0.started = true }
                } else if failed {
                    update(id) { $0.condemned = "Startup probe failed: \(failure ?? "")"; $0.ready = false }
                    return
                }
            case .liveness:
                if failed {
                    update(id) { $0.condemned = "Liveness probe failed: \(failure ?? "")"; $0.ready = false }
                    return
                }
            case .readiness:
                if ok { update(id) { $0.ready = true } } else if failed { update(id) { $0.ready = false } }
            }
        }
    }
}

/// At most `limit` operations at once (callers past it wait their turn, in order).
actor AsyncLimiter {
    private let limit: Int
    private var inUse = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ limit: Int) { self.limit = max(1, limit) }

    func run<T: Sendable>(_ body: @Sendable () async -> T) async -> T {
        if inUse >= limit { await withCheckedContinuation { waiters.append($0) } } else { inUse += 1 }
        defer {
            if waiters.isEmpty { inUse -= 1 } else { waiters.removeFirst().resume() }
        }
        return await body()
    }
}
