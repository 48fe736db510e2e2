import Config
import FoundationEssentials
import Model
import Support
#if canImport(Glibc)
import Glibc
#endif

/// Runs each pod as Docker containers, one per pod container, through the
/// `docker` CLI (never the Engine API).
///
/// Contract (beyond `Provider`'s):
/// - Every container carries `DockerLabel`s (instance, pod UID, namespace, name,
///   container, attempt, init/index/count), so the daemon is the only record: a
///   restarted provider re-adopts what it finds and removes nothing on start.
/// - `create` creates all containers of an incarnation, starts the first step
///   (the first init container, or all main containers) and returns. A create
///   that fails part way removes what it made, so the next try starts clean and
///   a half-made pod is never adopted.
/// - `observe` only observes: `docker ps` plus one batched `docker inspect`. It
///   names in `dueToStart` the containers whose turn has come (see
///   `DockerPodProgress`); `advance` starts them, after checking they still wait.
/// - The previous incarnation's containers are kept (stopped) until the next one
///   is created, for `Previous` logs.
/// - Restarts are kubelet's (`KubeletRestart`): each restart of a container is a
///   new Docker container of the same incarnation with the next `restart` label
///   and the backoff streak, so restartCount, lastState and the backoff are read
///   from Docker on every observe. observe names due restarts (and containers a
///   probe or postStart hook condemned) in `restartDue`; the planner's `.create`
///   of the same attempt kills or re-creates them here. The run before the newest
///   is kept (for `Previous` logs and lastState), older runs are removed.
/// - Probes and postStart run in `DockerProber`; preStop runs in `delete` (and
///   before a probe kill) and counts against the grace period.
public final class DockerProvider: Provider {
    public let name = "docker"
    let cli: DockerCLI
    let settings: DockerSettings
    let dataRoot: String
    /// Held from `inspect` to `docker start`, so two callers (create and advance)
    /// never both act on the same stale "created" state: starting an init container
    /// that already exited would run it twice.
    let startLock = AsyncSerialLock()
    /// Termination messages of finished containers, read once each.
    let terminationMessages = TerminationMessages()
    /// Runs probes and postStart hooks; its verdicts feed observe.
    let prober: DockerProber
    /// Where the `interlink-probe` helper is built or installed (see `helperMount`).
    let helperSource: String
    /// Whether subPaths are pinned before `docker start` (`SubPathPinning`).
    let pinning: SubPathPinning
    let testHooks = DockerTestHooks()

    public init(config: InterLinkConfig) {
        cli = DockerCLI(path: config.dockerPath, host: config.dockerHost)
        settings = DockerSettings(instanceName: config.instanceName, network: config.dockerNetwork,
                                  allowHostPath: config.allowHostPath, enableGPU: config.enableGPU,
                                  restartBackoffSeconds: config.dockerRestartBackoffSeconds)
        dataRoot = config.dataRootFolder
        prober = DockerProber(cli: cli)
        helperSource = config.dockerProbeHelper.isEmpty ? Self.besideExecutable("interlink-probe") : config.dockerProbeHelper
        pinning = SubPathPinning(mode: SubPathPinning.Mode(rawValue: config.subPathPinning) ?? .auto, dataRoot: config.dataRootFolder,
                                 dockerHost: config.dockerHost, instanceName: config.instanceName)
    }

    /// `name` in the directory of the running executable (`swift build` puts the
    /// helper beside `interlink`, and beside the test runner).
    static func besideExecutable(_ name: String) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return name }
        let exe = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)]) + "/" + name
    }

    public var commandCount: Int { cli.commandCount }

    public var metricsText: String { pinning.metricsText }

    var managedFilter: [String] { ["--filter", "label=\(DockerLabel.managed)=\(settings.instanceName)"] }

    // MARK: - create

    public func create(_ pod: DesiredPod) async throws -> String {
        let mains = pod.pod.containers
        guard !mains.isEmpty else { throw ProviderError.invalidPod("pod \(pod.namespace)/\(pod.name) has no containers") }
        // Namespace and UID name the pod's directory: they must stay one path element.
        for part in [pod.namespace, pod.uid] where part.isEmpty || part.contains("/") || part == "." || part == ".." || part.utf8.contains(0) {
            throw ProviderError.invalidPod("pod \(pod.namespace)/\(pod.name): \(DockerCreateArgs.quoted(part)) cannot name a directory")
        }
        let existing = try await listPod(pod.uid)
        try await retireOlderAttempts(existing, current: pod.attempt)

        let mine = existing.filter { $0.attempt == pod.attempt }
        var context = CreateContext(workspace: PodWorkspace(dataRoot: dataRoot, namespace: pod.namespace, uid: pod.uid))
        let specs = Self.specs(pod)
        var ids: [String] = []
        var made = false
        do {
            for spec in specs {
                // The newest run of the container is the container (restarts add runs).
                if let found = mine.filter({ $0.container == spec.c.name && $0.isInit == spec.isInit }).max(by: { $0.restart < $1.restart }) {
                    ids.append(found.id); continue
                }
                ids.append(try await makeContainer(pod, spec, count: specs.count, run: 0, streak: 0, &context))
                made = true
            }
        } catch {
            await rollBack(pod)
            throw error
        }
        if made {
            Log.info("docker containers created", ["pod": "\(pod.namespace)/\(pod.name)", "uid": pod.uid,
                                                   "attempt": String(pod.attempt)])
        }
        // Start the first step now rather than on the next tick; `advance` does the
        // rest (and this too, had we died right here).
        try await startDue(ids)
        // The same attempt again, for an incarnation that exists: restarts due.
        if !mine.isEmpty, try await restartDue(pod, specs, &context) {
            let now = try await listPod(pod.uid).filter { $0.attempt == pod.attempt }
            ids = specs.compactMap { spec in
                now.filter { $0.container == spec.c.name && $0.isInit == spec.isInit }.max { $0.restart < $1.restart }?.id
            }
        }
        return ids.joined(separator: ",")
    }

    /// Removes the containers of a create that failed part way. None of them has
    /// started (the first step starts only once all exist), so nothing is lost;
    /// what cannot be removed now is reported by observe once it is old.
    func rollBack(_ pod: DesiredPod) async {
        guard let made = try? await listPod(pod.uid).filter({ $0.attempt == pod.attempt && $0.state == "created" }),
              !made.isEmpty else { return }
        do {
            try await remove(made.map(\.id))
            Log.info("docker create failed part way; removed what it made",
                     ["pod": "\(pod.namespace)/\(pod.name)", "uid": pod.uid, "containers": String(made.count)])
        } catch {
            Log.warn("docker create failed part way and its containers could not be removed",
                     ["pod": "\(pod.namespace)/\(pod.name)", "uid": pod.uid, "error": "\(error)"])
        }
    }

    /// Creates one container; a name conflict means an earlier call (or a racing one)
    /// already made it, which is adopted when its labels say it is this pod's.
    func createContainer(_ command: DockerCreateCommand, image: String, pod: DesiredPod) async throws(ProviderError) -> String {
        let args = command.args
        var envFile: String? = nil
        if let content = command.environment.file, let flag = args.first(where: { $0.hasPrefix("--env-file=") }) {
            let path = String(flag.dropFirst("--env-file=".count))
            try WorkspaceFiles.writeAtomically(content, to: path, mode: 0o600)
            envFile = path
        }
        // The values were needed only while docker create read them.
        defer { if let envFile { unlink(envFile) } }
        let result = try await cli.run(args, timeout: 600, extraEnvironment: command.environment.inherited)
        if result.succeeded { return result.stdoutText.trimmed.split(separator: "\n").last.map(String.init) ?? "" }
        let message = result.stderrText.trimmed
        if DockerCLI.isImageMissing(message) {
            throw .imageNotFound(image: image, message: String(message.prefix(1000)))
        }
        if message.contains("is already in use"), let nameArg = args.first(where: { $0.hasPrefix("--name=") }) {
            let name = String(nameArg.dropFirst("--name=".count))
            if let found = try await inspect([name]).first, found.podUID == pod.uid, found.attempt == pod.attempt {
                return found.id
            }
            throw .backend(command: "docker create", message: "a container named \(name) exists but belongs to another pod", transient: false)
        }
        throw DockerCLI.failure(args, result)
    }

    /// The image's id and own `USER` when it is local, nil when it is not.
    func imageInfo(_ image: String) async throws(ProviderError) -> (id: String, user: String)? {
        let result = try await cli.run(["image", "inspect", "--format={{.Id}} {{json .Config.User}}", "--", image])
        if !result.succeeded && DockerCLI.isDaemonTrouble(result.stderrText) { throw DockerCLI.failure(["image"], result) }
        guard result.succeeded else { return nil }
        let text = result.stdoutText.trimmed
        let space = text.firstIndex(of: " ") ?? text.endIndex
        let json = text[space...].trimmed
        let user = (try? JSONDecoder().decode(String.self, from: Data(json.utf8))) ?? ""
        return (String(text[..<space]), user)
    }

    static func needsImageUser(_ c: Container, _ pod: Pod) -> Bool {
        (c.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser) == nil
            && (c.securityContext?.runAsGroup ?? pod.spec?.securityContext?.runAsGroup) != nil
    }

    func pull(_ image: String) async throws(ProviderError) {
        let r = try await cli.run(["pull", "--quiet", "--", image], timeout: 600)
        guard !r.succeeded else { return }
        if DockerCLI.isImageMissing(r.stderrText) { throw .imageNotFound(image: image, message: String(r.stderrText.trimmed.prefix(1000))) }
        throw DockerCLI.failure(["pull"], r)
    }

    /// Incarnations older than the previous one are removed; the previous one is
    /// stopped if it still runs (the reconciler replaced it) and kept for its logs.
    func retireOlderAttempts(_ existing: [PodContainer], current: Int) async throws(ProviderError) {
        let stale = existing.filter { $0.attempt < current - 1 }.map(\.id)
        let previousRunning = existing.filter { $0.attempt == current - 1 && $0.isRunning }.map(\.id)
        if !stale.isEmpty { try await remove(stale) }
        if !previousRunning.isEmpty {
            let r = try await cli.run(["kill", "--"] + previousRunning)
            if !r.succeeded && !DockerCLI.isNoSuchContainer(r.stderrText) && !r.stderrText.contains("is not running") {
                throw DockerCLI.failure(["kill"], r)
            }
        }
    }

    // MARK: - observe

    public func observe() async throws -> [JobObservation] {
        let ps = try await cli.check(["ps", "-a", "-q", "--no-trunc"] + managedFilter)
        let ids = ps.stdoutText.split(whereSeparator: \.isNewline).map(String.init)
        var records = terminationMessages.fill(
            withRefusals(try await inspect(ids).filter { $0.managedBy == settings.instanceName }), dataRoot: dataRoot)
        // FallbackToLogsOnError: the end of a failed container's log, read once per container.
        for r in terminationMessages.needingLogs(records) {
            // A failed read is tried again next round; only an answer is kept.
            guard let tail = try? await cli.run(["logs", "--tail=\(TerminationMessage.fallbackLines)", "--", r.id],
                                                timeout: 30, mergeStderr: true), tail.succeeded else { continue }
            terminationMessages.setLogs(TerminationMessage.fallback(fromLogTail: tail.stdout), for: r.id)
        }
        records = terminationMessages.withLogFallbacks(records)
        // The prober's verdicts as of now (it also starts probing what started since).
        let probes = await prober.sync(records)
        let killed = await prober.allKillReasons()
        if !killed.isEmpty { for i in records.indices where records[i].isTerminated { records[i].killReason = killed[records[i].id] } }
        return DockerPodProgress.plan(records, probes: probes, backoffBase: settings.restartBackoffSeconds).observations
    }

    /// Starts the containers an observation named due, in one `docker start`.
    /// The observation may be stale (create or an earlier advance started them
    /// since), so the pod's incarnation is inspected again under `startLock` and
    /// only the ids still due are started: an init container that already ran
    /// never runs twice. `job.jobID` (the incarnation's ids) saves a `docker ps`.
    public func advance(_ job: JobRef, start ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        var group = job.jobID.split(separator: ",").map(String.init)
        if group.isEmpty {
            group = try await listPod(job.podUID).filter { $0.attempt == job.attempt }.map(\.id)
        }
        try await startDue(Array(Set(group + ids)), only: Set(ids))
    }

    /// Inspects one incarnation's containers and starts those whose turn has come
    /// (restricted to `only` when given), under `startLock`.
    func startDue(_ group: [String], only: Set<String>? = nil) async throws(ProviderError) {
        guard !group.isEmpty else { return }
        do {
            try await startLock.withLock {
                let records = self.withRefusals(try await self.inspect(group))
                let due = DockerPodProgress.plan(records).toStart.filter { only?.contains($0) ?? true }
                // Docker binds a subPath by path when its container starts, so a container
                // started before it in the same `docker start` could swap a directory of that
                // path for a link first. Containers with subPaths therefore start before the
                // rest of their step, one at a time, each checked (and pinned) right before
                // its own start; the pins are detached once Docker holds its own bind.
                func launch(_ ids: [String]) async throws(ProviderError) {
                    guard !ids.isEmpty else { return }
                    let starting = records.filter { ids.contains($0.id) }
                    await self.prober.willStart(starting)
                    try await self.start(ids)
                    // postStart runs right after the start, beside the container.
                    await self.prober.started(starting)
                }
                var rest: [String] = []
                for id in due {
                    guard let r = records.first(where: { $0.id == id }) else { continue }
                    if r.subPaths.isEmpty { rest.append(id); continue }
                    switch self.checkBeforeStart(r) {
                    case .refused(let reason): self.refuse(r, reason)
                    case .ready(let pins):
                        if let hook = self.testHooks.beforeSubPathStart { await hook(r) }
                        do { try await launch([id]) } catch { for p in pins { SubPathPins.unpin(p) }; throw error }
                        for p in pins { SubPathPins.unpin(p) }
                    }
                }
                try await launch(rest)
            }
        } catch let e as ProviderError {
            throw e
        } catch {
            throw .backend(command: "docker start", message: "\(error)", transient: true)
        }
    }

    /// Batched `docker inspect` (one command per `DockerInspect.chunks` run of
    /// ids, so its argv stays under ARG_MAX); ids that vanished since `ps` are skipped.
    func inspect(_ ids: [String]) async throws(ProviderError) -> [DockerContainerRecord] {
        var records: [DockerContainerRecord] = []
        for chunk in DockerInspect.chunks(ids) {
            let result = try await cli.run(["inspect", "--type=container", "--"] + chunk, timeout: 120)
            if !result.succeeded && DockerCLI.isDaemonTrouble(result.stderrText) { throw DockerCLI.failure(["inspect"], result) }
            do {
                records += try DockerInspect.records(from: result.stdout)
            } catch {
                throw DockerCLI.failure(["inspect"], result)
            }
        }
        return records
    }

    /// One `docker start` for every container due to start. A container whose
    /// process cannot run ends up exited with Docker's error, which observe reports.
    func start(_ ids: [String]) async throws(ProviderError) {
        guard !ids.isEmpty else { return }
        let r = try await cli.run(["start", "--"] + ids, timeout: 300)
        if !r.succeeded {
            if DockerCLI.isDaemonTrouble(r.stderrText) { throw DockerCLI.failure(["start"], r) }
            Log.warn("docker start failed for some containers", ["error": String(r.stderrText.trimmed.prefix(500))])
        }
    }

    // MARK: - delete and cleanup

    public func delete(_ job: JobRef) async throws {
        let doomed = try await listPod(job.podUID).filter { $0.attempt <= job.attempt }
        guard !doomed.isEmpty else { return }
        let running = doomed.filter(\.isRunning).map(\.id)
        if !running.isEmpty {
            try await stop(try await inspect(running), grace: Self.clampedGrace(job.gracePeriodSeconds))
        }
        try await remove(doomed.map(\.id))
        Log.info("docker containers removed", ["pod": "\(job.namespace)/\(job.name)", "uid": job.podUID,
                                               "containers": String(doomed.count)])
    }

    /// The longest grace period the provider waits for, in seconds (about 23 days):
    /// a pod may ask for any number, but the wait becomes a process timeout in
    /// milliseconds that must fit an `Int32`, and `docker stop --time` an int.
    public static let maxGraceSeconds = 2_000_000

    /// `seconds` within 0...`maxGraceSeconds`, whatever the pod said.
    static func clampedGrace(_ seconds: Int) -> Int { min(max(0, seconds), maxGraceSeconds) }

    public func cleanup(_ job: JobRef) async throws {
        let left = try await listPod(job.podUID)
        // A newer incarnation still uses the pod's directory (emptyDirs live there).
        if left.contains(where: { $0.attempt > job.attempt }) { return }
        if !left.isEmpty { try await remove(left.map(\.id)) }
        try PodWorkspace(dataRoot: dataRoot, namespace: job.namespace, uid: job.podUID).remove()
    }

    func remove(_ ids: [String]) async throws(ProviderError) {
        guard !ids.isEmpty else { return }
        let r = try await cli.run(["rm", "-f", "-v", "--"] + ids, timeout: 300)
        if !r.succeeded {
            // Gone already is what we wanted; anything else is reported.
            let others = r.stderrText.split(whereSeparator: \.isNewline).filter {
                !DockerCLI.isNoSuchContainer(String($0)) && !$0.contains("is already in progress")
            }
            if !others.isEmpty { throw DockerCLI.failure(["rm"], r) }
        }
    }

    // MARK: - listing one pod

    struct PodContainer: Sendable {
        var id: String
        var container: String
        var attempt: Int
        var isInit: Bool
        var state: String
        var restart: Int = 0
        var isRunning: Bool { state == "running" || state == "paused" || state == "restarting" }
    }

    /// This pod's containers (all incarnations) in one `docker ps`.
    func listPod(_ uid: String, container: String? = nil) async throws(ProviderError) -> [PodContainer] {
        var args = ["ps", "-a", "--no-trunc"] + managedFilter + ["--filter", "label=\(DockerLabel.podUID)=\(uid)"]
        if let container { args += ["--filter", "label=\(DockerLabel.container)=\(container)"] }
        args.append("--format={{.ID}}\t{{.Label \"\(DockerLabel.attempt)\"}}\t{{.Label \"\(DockerLabel.isInit)\"}}\t{{.State}}\t{{.Label \"\(DockerLabel.restart)\"}}\t{{.Label \"\(DockerLabel.container)\"}}")
        let result = try await cli.check(args)
        return result.stdoutText.split(whereSeparator: \.isNewline).compactMap { line in
            let f = line.split(separator: "\t", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
            guard f.count == 6 else { return nil }
            // The container name label is last: it is the one field that could hold a tab.
            return PodContainer(id: f[0], container: f[5], attempt: Int(f[1]) ?? 0, isInit: f[2] == "true", state: f[3],
                                restart: Int(f[4]) ?? 0)
        }
    }
}
