import Config
import FoundationEssentials
import Model
import Support
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs each pod as one Slurm batch job through `sbatch`/`squeue`/`scancel`/`sinfo`.
///
/// Contract (see `Provider`): `create` materialises the pod's volumes in
/// `DataRootFolder/<namespace>-<uid>/`, writes the job script (`SlurmScript`)
/// and an index file there, and submits it; called again for the same (uid,
/// attempt) it returns the job it already submitted. `observe` runs exactly one
/// `squeue` and reads local files, reporting every job of this instance, also
/// those already purged from squeue; a job is ours by its comment
/// (`SlurmJobMark`), never by its name alone. Files that exist but cannot be read
/// are errors, never "job lost"; all file work runs off the cooperative pool with
/// a deadline (`SlurmBlockingIO`). `delete` sends TERM to the whole job, waits
/// up to the grace period, then cancels it; `cleanup` removes the pod directory.
/// The Slurm CLIs get this process's environment plus `environment` (e.g. `SLURM_CONF`).
public final class SlurmProvider: Provider {
    public let name = "slurm"
    let config: InterLinkConfig
    let environment: [String: String]
    private let counter = Mutex(0)
    private let pingCache = Mutex<(at: Double, value: PingResponse)?>(nil)
    /// What the last observe read of each pod directory (observes never overlap;
    /// the lock only hands it to the filesystem thread and back).
    let observeCache = SharedObserveCache()
    /// Jobs this process submitted, with the monotonic time sbatch returned: an
    /// observe whose squeue was asked before that may not list them yet.
    private let submitted = Mutex<[String: Double]>([:])

    /// Filesystem work of the pod directories, off the cooperative pool (see `SlurmBlockingIO`).
    let io: SlurmBlockingIO

    public init(config: InterLinkConfig, environment: [String: String] = [:]) {
        self.config = config
        self.environment = environment
        self.io = SlurmBlockingIO(timeout: config.slurmFilesystemTimeoutSeconds)
    }

    public var commandCount: Int { counter.withLock { $0 } }
    /// Pod directories whose files the last observe read (the others were unchanged).
    public var lastObserveReads: Int { observeCache.withLock { $0.lastReads } }

    // MARK: - Create

    public func create(_ pod: DesiredPod) async throws -> String {
        let layout = SlurmLayout(dataRoot: config.dataRootFolder, namespace: pod.namespace, uid: pod.uid, attempt: pod.attempt)
        let jobName = SlurmJobName.make(instance: config.instanceName, uid: pod.uid, attempt: pod.attempt)
        let mark = SlurmJobMark.make(instance: config.instanceName, uid: pod.uid, attempt: pod.attempt)
        // An index that exists but cannot be read throws: submitting again could run the pod twice.
        let indexFile = layout.indexFile
        if let existing = try await io.run("reading \(indexFile)", { try SlurmFiles.readIndex(indexFile) }),
           existing.uid == pod.uid, existing.attempt == pod.attempt {
            if !existing.jobID.isEmpty { return existing.jobID }
            // A submission was in flight when we stopped: adopt the job if Slurm has it.
            let found = try await run(config.squeuePath, ["-h", "--me", "--states=all", "--name=\(jobName)", "-o", SqueueRecord.format])
            // Without an answer we cannot know whether the job exists: submitting again could run it twice.
            guard found.succeeded else {
                throw ProviderError.backend(command: "squeue", message: found.stderrText.trimmed.isEmpty ? "exit \(found.exitCode)" : found.stderrText.trimmed, transient: true)
            }
            // The name is anyone's to choose: only our mark makes the job ours.
            if let r = SqueueRecord.parse(found.stdoutText).filter({ $0.comment == mark }).max(by: { (Int($0.jobID) ?? 0) < (Int($1.jobID) ?? 0) }) {
                var adopted = existing; adopted.jobID = r.jobID
                noteSubmitted(r.jobID)
                let index = adopted
                try await io.run("writing \(indexFile)") { try SlurmFiles.writeIndex(index, to: indexFile) }
                return r.jobID
            }
        }

        let config = self.config
        let prepared = try await io.run("preparing the job directory \(layout.jobDir)") { () throws -> (SlurmIndex, [String]) in
            let workspace = PodWorkspace(dataRoot: config.dataRootFolder, namespace: pod.namespace, uid: pod.uid)
            let mounts = try workspace.materialise(pod, allowHostPath: config.allowHostPath)
            var env: [String: [(name: String, value: String)]] = [:]
            for c in pod.pod.initContainers + pod.pod.containers {
                env[c.name] = try EnvResolver.environment(for: c, in: pod.request)
            }
            let job = try SlurmScript.renderJob(pod: pod, mounts: mounts, env: env, config: config)
            // A new attempt starts from clean status files and logs.
            try? FileManager.default.removeItem(atPath: layout.jobDir)
            try SlurmFiles.makeDirectory(layout.jobDir)
            try SlurmFiles.write(Data(job.script.utf8), to: layout.script, mode: 0o700)
            let all = pod.pod.initContainers + pod.pod.containers
            let index = SlurmIndex(instance: config.instanceName, uid: pod.uid, namespace: pod.namespace, name: pod.name,
                                   attempt: pod.attempt, jobID: "", initContainers: pod.pod.initContainers.map(\.name),
                                   containers: pod.pod.containers.map(\.name),
                                   images: Dictionary(all.map { ($0.name, $0.image) }, uniquingKeysWith: { a, _ in a }),
                                   notes: job.notes.isEmpty ? nil : job.notes, supervised: true,
                                   logsFallback: Self.logsFallback(all))
            try SlurmFiles.writeIndex(index, to: layout.indexFile)
            return (index, job.notes)
        }
        var index = prepared.0
        let podLabel = "\(pod.namespace)/\(pod.name)"
        if pod.pod.annotations["slurm-job.vk.io/pre-exec"] != nil && !config.allowPreExec {
            Log.warn("pre-exec annotation ignored: allowPreExec is false", ["pod": podLabel, "uid": pod.uid])
        }
        // Once per attempt: adoption above returns before this.
        for note in prepared.1 { Log.warn("slurm flag overridden", ["pod": podLabel, "uid": pod.uid, "note": note]) }

        let result = try await run(config.sbatchPath, sbatchArguments(jobName: jobName, mark: mark, layout: layout),
                                   workingDirectory: layout.jobDir)
        guard result.succeeded else {
            let msg = result.stderrText.trimmed
            // sbatch rejects bad options and impossible requests for good; other failures may pass.
            let permanent = msg.contains("nvalid") || msg.contains("unrecognized") || msg.contains("Requested node configuration is not available")
            throw ProviderError.backend(command: "sbatch", message: msg.isEmpty ? "exit \(result.exitCode)" : msg, transient: !permanent)
        }
        let id = result.stdoutText.trimmed.split(separator: ";").first.map(String.init) ?? ""
        guard !id.isEmpty, id.allSatisfy(\.isNumber) else {
            throw ProviderError.backend(command: "sbatch", message: "unexpected output \"\(result.stdoutText.prefix(200))\"", transient: true)
        }
        index.jobID = id
        noteSubmitted(id)
        let finalIndex = index
        try await io.run("writing \(indexFile)") { try SlurmFiles.writeIndex(finalIndex, to: indexFile) }
        Log.info("slurm job submitted", ["pod": podLabel, "uid": pod.uid, "job": id, "attempt": String(pod.attempt)])
        return id
    }

    private func noteSubmitted(_ jobID: String) {
        let now = ProcessRunner.monotonicSeconds()
        submitted.withLock { s in
            if s.count > 64 { s = s.filter { now - $0.value < 300 } }
            s[jobID] = now
        }
    }

    /// sbatch's command line, which wins over every `#SBATCH` line of the script:
    /// InterLink's identity, output and environment cannot be changed from inside it.
    /// `--export` names the variables of InterLink's environment a job gets
    /// (`SlurmExportEnvironment`, when set); Slurm adds its own `SLURM_*`.
    func sbatchArguments(jobName: String, mark: String, layout: SlurmLayout) -> [String] {
        let env = cliEnvironment()
        let names = config.slurmExportEnvironment.filter { env[$0] != nil }
        return ["--parsable", "--export=\(names.isEmpty ? "NONE" : names.joined(separator: ","))",
                "--job-name=\(jobName)", "--comment=\(mark)", "--output=\(layout.jobOutput)", layout.script]
    }

    // MARK: - Observe

    public func observe() async throws -> [JobObservation] {
        // Taken before squeue runs: a job submitted after this instant may be
        // missing from its answer although its index already names it.
        let squeueAt = Date().timeIntervalSince1970, squeueAtMonotonic = ProcessRunner.monotonicSeconds()
        let result = try await run(config.squeuePath, ["-h", "--me", "--states=all", "-o", SqueueRecord.format])
        guard result.succeeded else {
            throw ProviderError.backend(command: "squeue", message: result.stderrText.trimmed, transient: true)
        }
        let instance = config.instanceName
        var byJob: [String: SqueueRecord] = [:]
        var ours: [String: SqueueRecord] = [:]   // by (uid, attempt)
        for r in SqueueRecord.parse(result.stdoutText) {
            byJob[r.jobID] = r
            guard r.isMarked, let id = r.identity(instance: instance), id.instance == instance else { continue }
            // Two records of one (uid, attempt) only after a resubmission; the newest id wins.
            let key = "\(id.uid).\(id.attempt)"
            if let old = ours[key], (Int(old.jobID) ?? 0) > (Int(r.jobID) ?? 0) { continue }
            ours[key] = r
        }
        let seenRecords = byJob, ourRecords = ours, dataRoot = config.dataRootFolder, cache = observeCache
        // A job submitted before this squeue was asked is in its answer, and later
        // observes (they never overlap) ask later still: only the newer ones are kept.
        let submittedSince = submitted.withLock { s in
            s = s.filter { $0.value >= squeueAtMonotonic }
            return Set(s.keys)
        }
        let scanned = try await io.run("reading the Slurm job files under \(dataRoot)") { () throws -> ([JobObservation], Set<String>) in
            try cache.withLock { (c: inout SlurmObserveCache) throws(ProviderError) -> ([JobObservation], Set<String>) in
                try Self.observeFiles(dataRoot: dataRoot, instance: instance, byJob: seenRecords, ours: ourRecords,
                                      squeueAt: squeueAt, submittedSince: submittedSince, cache: &c)
            }
        }
        var out = scanned.0
        // Jobs of ours whose pod directory is gone: orphans the reconciler may cancel.
        for r in ours.values where !scanned.1.contains(r.jobID) {
            guard let id = r.identity(instance: instance) else { continue }
            if SlurmObservation.isTerminal(r.state) { continue }
            out.append(JobObservation(podUID: id.uid, jobID: r.jobID, attempt: id.attempt,
                                      state: SlurmObservation.pendingStates.contains(r.state) ? .pending : .running,
                                      message: "Slurm job \(r.jobID) has no pod directory (\(r.state))"))
        }
        return out
    }

    /// The blocking half of `observe`: every index of this instance, its status
    /// files, and the final state remembered for jobs squeue is about to forget.
    /// Files are read only for pod directories whose index, status directory or
    /// squeue line changed since the last observe (`SlurmObserveCache`); the
    /// others are reported with the very same observation as then.
    ///
    /// `squeueAt` is when the squeue snapshot in `byJob` was asked for. An index
    /// that names a job squeue did not list and was written after that (within
    /// the filesystem's timestamp tick) belongs to a job submitted while the
    /// snapshot was taken, not to one purged: it is reported pending, not lost,
    /// by the first observe that sees it only (a file server whose clock runs
    /// ahead cannot keep a lost job pending for ever). `submittedSince` holds the
    /// jobs this process submitted after squeue was asked: pending whatever the
    /// file server's clock says.
    static func observeFiles(dataRoot: String, instance: String, byJob: [String: SqueueRecord],
                             ours: [String: SqueueRecord], squeueAt: Double, submittedSince: Set<String> = [],
                             cache: inout SlurmObserveCache,
                             now: Double = Date().timeIntervalSince1970) throws(ProviderError) -> ([JobObservation], Set<String>) {
        var seenJobs = Set<String>()
        var out: [JobObservation] = []
        cache.begin()
        defer { cache.finish() }
        for (dirName, indexPath) in try SlurmFiles.podDirectories(under: dataRoot) {
            guard let indexStamp = try FileStamp.of(indexPath) else { continue }
            let podDir = String(indexPath.dropLast("/\(SlurmLayout.folder)/index.json".count))
            // The fast path of a steady pod: its index unchanged, so what observe needs of
            // it is in the cached observation, and neither index nor status files are read.
            if let e = cache.unchanged(dirName, indexStamp: indexStamp, now: now) {
                let o = e.observation
                seenJobs.insert(o.jobID)
                let record = ownRecord(byJob[o.jobID], instance: instance, uid: o.podUID, attempt: o.attempt)
                // A new terminal state is written to the index, and a job submitted since squeue
                // ran may be reported pending: both are the full path's, below.
                let newTerminal = record.map { SlurmObservation.isTerminal($0.state) && e.finalState != $0.state } ?? false
                let maybeJustSubmitted = record == nil && e.finalState == nil && submittedSince.contains(o.jobID)
                if !newTerminal && !maybeJustSubmitted {
                    let statusStamp = try FileStamp.of(SlurmLayout(podDir: podDir, attempt: o.attempt).statusDirectory)
                    if cache.holds(e, statusStamp: statusStamp, record: record) {
                        cache.keep(dirName)
                        out.append(o)
                        continue
                    }
                }
            }
            guard var index = try SlurmFiles.readIndex(indexPath), index.instance == instance else { continue }
            let layout = SlurmLayout(podDir: podDir, attempt: index.attempt)
            let jobNamedByIndex = !index.jobID.isEmpty
            if index.jobID.isEmpty, let r = ours["\(index.uid).\(index.attempt)"] { index.jobID = r.jobID }
            if index.jobID.isEmpty { continue }   // not submitted: create will finish it
            seenJobs.insert(index.jobID)
            // A job id alone is not enough: ids restart when a cluster is rebuilt.
            let record = ownRecord(byJob[index.jobID], instance: index.instance, uid: index.uid, attempt: index.attempt)
            if let r = record, SlurmObservation.isTerminal(r.state), index.finalState != r.state {
                // Remember the terminal state: squeue forgets it after MinJobAge.
                index.finalState = r.state
                try? SlurmFiles.writeIndex(index, to: indexPath)
                cache.forget(dirName)   // its stamp changed: read it again next time
            }
            if record == nil, index.finalState == nil,
               submittedSince.contains(index.jobID)
                || (indexStamp.modified >= squeueAt - SlurmObserveCache.settleSeconds && cache.firstSight(of: index.jobID, at: dirName)) {
                // Once only: the next observe's squeue lists the job, or its silence counts.
                out.append(SlurmObservation.justSubmitted(index: index))
                cache.keep(dirName)
                continue
            }
            let statusStamp = try FileStamp.of(layout.statusDirectory)
            var files: [String: ContainerFiles] = [:]
            var unreadable: [String: String] = [:]
            for c in index.initContainers + index.containers {
                do {
                    var f = try SlurmFiles.containerFiles(layout, c)
                    // FallbackToLogsOnError: a failed run that wrote no message shows its log's end.
                    if f.terminationMessage == nil, let e = f.exit, e.code != 0, index.logsFallback?.contains(c) == true {
                        f.terminationMessage = try SlurmFiles.logTail(layout.log(c))
                    }
                    files[c] = f
                } catch { unreadable[c] = error.description }
            }
            var o = SlurmObservation.observe(index: index, record: record, files: files)
            if !unreadable.isEmpty { o = SlurmObservation.unreadable(o, problems: unreadable) }
            if let notes = index.notes, !notes.isEmpty {
                o.message = ([o.message].compactMap { $0 } + notes).joined(separator: "; ")
            }
            // Read again (a stamp not yet settled, the periodic refresh) and found as it
            // was: the very same observation, so the reconciler compares a pointer and
            // the one it holds stays (a new copy per pod would leave holes in the heap).
            if let previous = cache.previousObservation(dirName), previous == o { o = previous }
            if unreadable.isEmpty && jobNamedByIndex {
                cache.store(dirName, .init(indexStamp: indexStamp, statusStamp: statusStamp, record: record,
                                           observation: o, finalState: index.finalState, readAt: now))
            } else {
                cache.readWithoutKeeping(dirName)
            }
            out.append(o)
        }
        return (out, seenJobs)
    }

    /// `record` when it is the squeue line of this pod's attempt (by its mark or name).
    private static func ownRecord(_ record: SqueueRecord?, instance: String, uid: String, attempt: Int) -> SqueueRecord? {
        guard let r = record, let id = r.identity(instance: instance),
              id.instance == instance, id.uid == uid, id.attempt == attempt else { return nil }
        return r
    }

    static func logsFallback(_ containers: [Container]) -> [String]? {
        let names = containers.filter { $0.terminationMessagePolicy == "FallbackToLogsOnError" }.map(\.name)
        return names.isEmpty ? nil : names
    }

    // MARK: - Delete and cleanup

    public func delete(_ job: JobRef) async throws {
        var jobID = job.jobID
        if jobID.isEmpty {
            let layout = SlurmLayout(dataRoot: config.dataRootFolder, namespace: job.namespace, uid: job.podUID, attempt: job.attempt)
            let indexFile = layout.indexFile
            jobID = try await io.run("reading \(indexFile)") { try SlurmFiles.readIndex(indexFile) }?.jobID ?? ""
        }
        guard !jobID.isEmpty else { return }
        if job.gracePeriodSeconds > 0 {
            // TERM to the batch shell only: its supervisors run each container's preStop hook,
            // then send TERM to their container, and record exit codes; all within the grace
            // period, after which the job is cancelled (KILL). Slurm refuses to signal a job
            // that has not started: a pending one is simply cancelled below.
            guard (try? await scancel(["--signal=TERM", "--batch", jobID])) != nil else {
                _ = try await scancel([jobID])
                return
            }
            var waited = 0
            while waited < job.gracePeriodSeconds {
                let r = try await run(config.squeuePath, ["-h", "-j", jobID, "-o", "%T"])
                let state = r.stdoutText.trimmed
                if !r.succeeded || state.isEmpty || SlurmObservation.isTerminal(state) {
                    return
                }
                try await Task.sleep(nanoseconds: 1_000_000_000)
                waited += 1
            }
        }
        _ = try await scancel([jobID])
    }

    private func scancel(_ args: [String]) async throws -> ProcessResult {
        let r = try await run(config.scancelPath, args)
        let msg = r.stderrText.trimmed
        // Already finished or purged: the job is as gone as we want it.
        if r.succeeded || msg.contains("Invalid job id") || msg.contains("already completed") || msg.contains("Job/step already") {
            return r
        }
        throw ProviderError.backend(command: "scancel", message: msg.isEmpty ? "exit \(r.exitCode)" : msg, transient: true)
    }

    /// Removes the pod directory. A directory that cannot be removed (files a root
    /// container left behind, a hung filesystem) is a clear error; the reconciler
    /// decides how long to keep trying.
    public func cleanup(_ job: JobRef) async throws {
        let workspace = PodWorkspace(dataRoot: config.dataRootFolder, namespace: job.namespace, uid: job.podUID)
        do {
            try await io.run("removing \(workspace.root)") { try workspace.remove() }
        } catch let e as ProviderError {
            throw ProviderError.backend(command: "cleanup", message: "cannot remove the pod directory \(workspace.root) of pod \(job.namespace)/\(job.name): \(e.description)", transient: true)
        }
    }

    // MARK: - Logs and ping

    public func logs(_ job: JobRef, container: String, options: LogOpts) async throws -> LogStream {
        let podDir = PodWorkspace(dataRoot: config.dataRootFolder, namespace: job.namespace, uid: job.podUID).root
        let indexFile = SlurmLayout(podDir: podDir, attempt: 0).indexFile
        let (attempt, indexJobID, exists) = try await io.run("reading \(indexFile)") { () throws -> (Int, String, Bool) in
            let index = try SlurmFiles.readIndex(indexFile)
            let attempt = index?.attempt ?? job.attempt
            return (attempt, index?.jobID ?? "", FileManager.default.fileExists(atPath: SlurmLayout(podDir: podDir, attempt: attempt).script))
        }
        let layout = SlurmLayout(podDir: podDir, attempt: attempt)
        guard SlurmScript.isDNSLabel(container), exists else {
            throw ProviderError.notFound("no Slurm job files for container \(container) of pod \(job.namespace)/\(job.name)")
        }
        var jobEnded: (@Sendable () async -> Bool)? = nil
        if options.Follow {
            jobEnded = followedJobEnded(jobID: indexJobID.isEmpty && job.attempt == attempt ? job.jobID : indexJobID,
                                        indexFile: indexFile, attempt: attempt)
        }
        return SlurmLogs.stream(log: layout.log(container), exitFile: layout.exitFile(container), options: options,
                                jobEnded: jobEnded)
    }

    /// A follow's way to learn that its job ended without writing an exit file
    /// (cancelled with KILL, node lost, purged): squeue, rate-limited by
    /// `SlurmJobLiveness`. A job id not known yet (submission in flight) is
    /// looked up in the index again when asked.
    private func followedJobEnded(jobID: String, indexFile: String, attempt: Int) -> @Sendable () async -> Bool {
        let io = self.io
        let known = Mutex(jobID)
        let liveness = SlurmJobLiveness(jobID: {
            if let id = known.withLock({ $0.isEmpty ? nil : $0 }) { return id }
            let index = try? await io.run("reading \(indexFile)") { try SlurmFiles.readIndex(indexFile) }
            guard let index, index.attempt == attempt else { return "" }
            known.withLock { $0 = index.jobID }
            return index.jobID
        }, query: { [self] id in
            try? await self.run(self.config.squeuePath, ["-h", "-j", id, "-o", "%T"])
        })
        return { await liveness.ended() }
    }

    public func ping() async throws -> PingResponse? {
        let now = ProcessRunnerClock.seconds()
        if let cached = pingCache.withLock({ $0 }), now - cached.at < 30 { return cached.value }
        let r = try await run(config.sinfoPath, ["-h", "-N", "-O", "NodeHost:|,CPUsState:|,Memory:|,AllocMem:|,StateLong:|"])
        guard r.succeeded else { throw ProviderError.backend(command: "sinfo", message: r.stderrText.trimmed, transient: true) }
        let value = SlurmCapacity.parse(r.stdoutText)
        pingCache.withLock { $0 = (now, value) }
        return value
    }

    // MARK: - Running the CLIs

    /// The environment the Slurm CLIs run with: this process's, plus `environment`.
    func cliEnvironment() -> [String: String] {
        var env = ProcessEnvironment.current
        for (k, v) in environment { env[k] = v }
        return env
    }

    func run(_ tool: String, _ args: [String], workingDirectory: String? = nil) async throws -> ProcessResult {
        counter.withLock { $0 += 1 }
        let env = cliEnvironment()
        do {
            return try await ProcessRunner.run(tool, args, environment: env, workingDirectory: workingDirectory, timeout: 60)
        } catch let e as ProcessError where e.isResourceExhaustion {
            throw ProviderError.resourcesExhausted("\(tool): \(e.description)")
        } catch let e as ProcessError {
            throw ProviderError.unavailable("\(tool): \(e.description)")
        }
    }
}

/// Monotonic seconds for cache ages.
enum ProcessRunnerClock {
    static func seconds() -> Double { ProcessRunner.monotonicSeconds() }
}

/// `SlurmObserveCache` behind a lock, shared with the filesystem thread.
final class SharedObserveCache: Sendable {
    private let state = Mutex(SlurmObserveCache())
    func withLock<T>(_ body: (inout SlurmObserveCache) throws(ProviderError) -> T) throws(ProviderError) -> T {
        try state.withLock { (c: inout SlurmObserveCache) throws(ProviderError) -> T in try body(&c) }
    }
    func withLock<T>(_ body: (inout SlurmObserveCache) -> T) -> T { state.withLock { body(&$0) } }
}
