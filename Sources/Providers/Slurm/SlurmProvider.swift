import Config
import FoundationEssentials
import Model
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
/// those already purged from squeue. `delete` sends TERM to the whole job, waits
/// up to the grace period, then cancels it; `cleanup` removes the pod directory.
/// The Slurm CLIs get this process's environment plus `environment` (e.g. `SLURM_CONF`).
public final class SlurmProvider: Provider {
    public let name = "slurm"
    let config: InterLinkConfig
    let environment: [String: String]
    private let counter = Mutex(0)
    private let pingCache = Mutex<(at: Double, value: PingResponse)?>(nil)

    public init(config: InterLinkConfig, environment: [String: String] = [:]) {
        self.config = config
        self.environment = environment
    }

    public var commandCount: Int { counter.withLock { $0 } }

    // MARK: - Create

    public func create(_ pod: DesiredPod) async throws -> String {
        let layout = SlurmLayout(dataRoot: config.dataRootFolder, namespace: pod.namespace, uid: pod.uid, attempt: pod.attempt)
        let jobName = SlurmJobName.make(instance: config.instanceName, uid: pod.uid, attempt: pod.attempt)
        if let existing = SlurmFiles.readIndex(layout.indexFile), existing.uid == pod.uid, existing.attempt == pod.attempt {
            if !existing.jobID.isEmpty { return existing.jobID }
            // A submission was in flight when we stopped: adopt the job if Slurm has it.
            let found = try await run(config.squeuePath, ["-h", "--states=all", "--name=\(jobName)", "-o", "%i"])
            // Without an answer we cannot know whether the job exists: submitting again could run it twice.
            guard found.succeeded else {
                throw ProviderError.backend(command: "squeue", message: found.stderrText.trimmed.isEmpty ? "exit \(found.exitCode)" : found.stderrText.trimmed, transient: true)
            }
            if let id = found.stdoutText.split(separator: "\n").first.map({ String($0).trimmed }), !id.isEmpty {
                var index = existing; index.jobID = id
                try SlurmFiles.writeIndex(index, to: layout.indexFile)
                return id
            }
        }

        let workspace = PodWorkspace(dataRoot: config.dataRootFolder, namespace: pod.namespace, uid: pod.uid)
        let mounts = try workspace.materialise(pod, allowHostPath: config.allowHostPath)
        var env: [String: [(name: String, value: String)]] = [:]
        for c in pod.pod.initContainers + pod.pod.containers {
            env[c.name] = try EnvResolver.environment(for: c, in: pod.request)
        }
        let script = try SlurmScript.render(pod: pod, mounts: mounts, env: env, config: config)
        if pod.pod.annotations["slurm-job.vk.io/pre-exec"] != nil && !config.allowPreExec {
            Log.warn("pre-exec annotation ignored: allowPreExec is false", ["pod": "\(pod.namespace)/\(pod.name)", "uid": pod.uid])
        }

        // A new attempt starts from clean status files and logs.
        try? FileManager.default.removeItem(atPath: layout.jobDir)
        try SlurmFiles.makeDirectory(layout.jobDir)
        try SlurmFiles.write(Data(script.utf8), to: layout.script, mode: 0o700)
        let all = pod.pod.initContainers + pod.pod.containers
        var index = SlurmIndex(instance: config.instanceName, uid: pod.uid, namespace: pod.namespace, name: pod.name,
                               attempt: pod.attempt, jobID: "", initContainers: pod.pod.initContainers.map(\.name),
                               containers: pod.pod.containers.map(\.name),
                               images: Dictionary(all.map { ($0.name, $0.image) }, uniquingKeysWith: { a, _ in a }))
        try SlurmFiles.writeIndex(index, to: layout.indexFile)

        let result = try await run(config.sbatchPath, ["--parsable", layout.script], workingDirectory: layout.jobDir)
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
        try SlurmFiles.writeIndex(index, to: layout.indexFile)
        Log.info("slurm job submitted", ["pod": "\(pod.namespace)/\(pod.name)", "uid": pod.uid, "job": id, "attempt": String(pod.attempt)])
        return id
    }

    // MARK: - Observe

    public func observe() async throws -> [JobObservation] {
        let result = try await run(config.squeuePath, ["-h", "--me", "--states=all", "-o", SqueueRecord.format])
        guard result.succeeded else {
            throw ProviderError.backend(command: "squeue", message: result.stderrText.trimmed, transient: true)
        }
        var byJob: [String: SqueueRecord] = [:]
        var ours: [String: SqueueRecord] = [:]   // by job name
        for r in SqueueRecord.parse(result.stdoutText) where SlurmJobName.parse(r.name, instance: config.instanceName) != nil {
            // Several records share a name only after a resubmission; the newest id wins.
            if let old = ours[r.name], (Int(old.jobID) ?? 0) > (Int(r.jobID) ?? 0) { continue }
            ours[r.name] = r
            byJob[r.jobID] = r
        }

        var seenJobs = Set<String>()
        var out: [JobObservation] = []
        for (indexPath, var index) in SlurmFiles.indexes(under: config.dataRootFolder) where index.instance == config.instanceName {
            let podDir = String(indexPath.dropLast("/\(SlurmLayout.folder)/index.json".count))
            let layout = SlurmLayout(podDir: podDir, attempt: index.attempt)
            let name = SlurmJobName.make(instance: index.instance, uid: index.uid, attempt: index.attempt)
            if index.jobID.isEmpty, let r = ours[name] { index.jobID = r.jobID }
            if index.jobID.isEmpty { continue }   // not submitted: create will finish it
            seenJobs.insert(index.jobID)
            let record = byJob[index.jobID]
            if let r = record, !SlurmObservation.liveStates.contains(r.state), !SlurmObservation.pendingStates.contains(r.state),
               index.finalState != r.state {
                // Remember the terminal state: squeue forgets it after MinJobAge.
                index.finalState = r.state
                try? SlurmFiles.writeIndex(index, to: layout.indexFile)
            }
            var files: [String: ContainerFiles] = [:]
            for c in index.initContainers + index.containers { files[c] = SlurmFiles.containerFiles(layout, c) }
            out.append(SlurmObservation.observe(index: index, record: record, files: files))
        }
        // Jobs of ours whose pod directory is gone: orphans the reconciler may cancel.
        for r in ours.values where !seenJobs.contains(r.jobID) {
            guard let parsed = SlurmJobName.parse(r.name, instance: config.instanceName) else { continue }
            let live = SlurmObservation.liveStates.contains(r.state) || SlurmObservation.pendingStates.contains(r.state)
            if !live { continue }
            out.append(JobObservation(podUID: parsed.uid, jobID: r.jobID, attempt: parsed.attempt,
                                      state: SlurmObservation.pendingStates.contains(r.state) ? .pending : .running,
                                      message: "Slurm job \(r.jobID) has no pod directory (\(r.state))"))
        }
        return out
    }

    // MARK: - Delete and cleanup

    public func delete(_ job: JobRef) async throws {
        var jobID = job.jobID
        if jobID.isEmpty {
            let layout = SlurmLayout(dataRoot: config.dataRootFolder, namespace: job.namespace, uid: job.podUID, attempt: job.attempt)
            jobID = SlurmFiles.readIndex(layout.indexFile)?.jobID ?? ""
        }
        guard !jobID.isEmpty else { return }
        if job.gracePeriodSeconds > 0 {
            // TERM to the batch shell and every process of the job; the script records exit codes.
            // Slurm refuses to signal a job that has not started: a pending one is simply cancelled below.
            guard (try? await scancel(["--signal=TERM", "--full", jobID])) != nil else {
                _ = try await scancel([jobID])
                return
            }
            var waited = 0
            while waited < job.gracePeriodSeconds {
                let r = try await run(config.squeuePath, ["-h", "-j", jobID, "-o", "%T"])
                let state = r.stdoutText.trimmed
                if !r.succeeded || state.isEmpty || !(SlurmObservation.liveStates.contains(state) || SlurmObservation.pendingStates.contains(state)) {
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

    public func cleanup(_ job: JobRef) async throws {
        let workspace = PodWorkspace(dataRoot: config.dataRootFolder, namespace: job.namespace, uid: job.podUID)
        try workspace.remove()
    }

    // MARK: - Logs and ping

    public func logs(_ job: JobRef, container: String, options: LogOpts) async throws -> LogStream {
        let podDir = PodWorkspace(dataRoot: config.dataRootFolder, namespace: job.namespace, uid: job.podUID).root
        let attempt = SlurmFiles.readIndex(SlurmLayout(podDir: podDir, attempt: 0).indexFile)?.attempt ?? job.attempt
        let layout = SlurmLayout(podDir: podDir, attempt: attempt)
        guard SlurmScript.isDNSLabel(container), FileManager.default.fileExists(atPath: layout.script) else {
            throw ProviderError.notFound("no Slurm job files for container \(container) of pod \(job.namespace)/\(job.name)")
        }
        return SlurmLogs.stream(log: layout.log(container), exitFile: layout.exitFile(container), options: options)
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

    func run(_ tool: String, _ args: [String], workingDirectory: String? = nil) async throws -> ProcessResult {
        counter.withLock { $0 += 1 }
        var env = ProcessEnvironment.current
        for (k, v) in environment { env[k] = v }
        do {
            return try await ProcessRunner.run(tool, args, environment: env, workingDirectory: workingDirectory, timeout: 60)
        } catch let e as ProcessError {
            throw ProviderError.unavailable("\(tool): \(e.description)")
        }
    }
}

/// Monotonic seconds for cache ages.
enum ProcessRunnerClock {
    static func seconds() -> Double { ProcessRunner.monotonicSeconds() }
}
