import Support
import FoundationEssentials
import Model
#if canImport(Glibc)
import Glibc
#endif

/// Making one container run, kubelet-style restarts and stopping with preStop:
/// the parts of `DockerProvider` that issue 13 added (see its contract).
extension DockerProvider {
    typealias Spec = (c: Container, isInit: Bool, index: Int)

    static func specs(_ pod: DesiredPod) -> [Spec] {
        pod.pod.initContainers.enumerated().map { (c: $0.element, isInit: true, index: $0.offset) }
            + pod.pod.containers.enumerated().map { (c: $0.element, isInit: false, index: $0.offset) }
    }

    /// What creating several containers of one pod shares: volumes are written
    /// once, each image looked up once.
    struct CreateContext {
        var workspace: PodWorkspace
        var materialised: MaterialisedPod? = nil
        var localImages: [String: Bool] = [:]
        var imageUsers: [String: String] = [:]
    }

    /// Creates run `run` of one container (not started) and returns its id.
    func makeContainer(_ pod: DesiredPod, _ spec: Spec, count: Int, run: Int, streak: Int,
                       _ ctx: inout CreateContext) async throws -> String {
        // Volumes are written once, before the first container that needs them
        // (again for a restart: ConfigMaps are refreshed, emptyDirs only created).
        if ctx.materialised == nil { ctx.materialised = try ctx.workspace.materialise(pod, allowHostPath: settings.allowHostPath) }
        if ctx.localImages[spec.c.image] == nil {
            var info = try await imageInfo(spec.c.image)
            // runAsGroup alone needs the image's own user, so such an image is pulled first.
            if info == nil, Self.needsImageUser(spec.c, pod.pod) {
                try await pull(spec.c.image)
                info = try await imageInfo(spec.c.image)
            }
            ctx.localImages[spec.c.image] = info != nil
            ctx.imageUsers[spec.c.image] = info?.user
        }
        var mounts = try pinnedMounts(ctx.materialised?.mounts[spec.c.name] ?? [], pod: pod, spec: spec, run: run,
                                      workspace: ctx.workspace)
        // The pod's terminationMessagePath (default /dev/termination-log); a volume
        // mounted at that very path wins, as it is what the container writes to.
        let messagePath = TerminationMessage.containerPath(of: spec.c)
        if !mounts.contains(where: { $0.containerPath == messagePath }) {
            mounts.append(try TerminationMessage.prepare(TerminationMessage.file(
                dataRoot: dataRoot, namespace: pod.namespace, uid: pod.uid, isInit: spec.isInit,
                index: spec.index, attempt: pod.attempt, restart: run), containerPath: messagePath))
        }
        let lifecycle = try DockerLifecycleSpec.of(spec.c, pod: pod.pod)
        if lifecycle.needsHelper { mounts.append(try helperMount()) }
        var plan = DockerContainerPlan(
            container: spec.c, isInit: spec.isInit, index: spec.index, count: count,
            environment: try EnvResolver.environment(for: spec.c, in: pod.request),
            mounts: mounts,
            imageIsLocal: ctx.localImages[spec.c.image] ?? false,
            envFilePath: ctx.workspace.root + "/.env-\(spec.isInit ? "init" : "main")-\(spec.index)-\(UInt64.random(in: 0...UInt64.max))",
            imageUser: ctx.imageUsers[spec.c.image])
        plan.restart = run; plan.backoffStreak = streak
        plan.lifecycle = lifecycle.isEmpty ? nil : lifecycle
        let command = try DockerCreateArgs.command(pod: pod, plan: plan, settings: settings)
        return try await createContainer(command, image: spec.c.image, pod: pod)
    }

    /// The helper bound read-only into containers whose probes or hooks need it.
    /// It is copied into the data root first: the daemon can see that directory
    /// (pod volumes live there), and a rebuild of the source cannot change a
    /// binary running containers use.
    func helperMount() throws(ProviderError) -> Mount {
        let installed = dataRoot + "/.bin/interlink-probe"
        // Installed again when the source changed size (a new build); running
        // containers keep the inode they bound, the rename replaces it atomically.
        func size(_ path: String) -> Int? {
            var st = stat()
            return stat(path, &st) == 0 ? Int(st.st_size) : nil
        }
        if !WorkspaceFiles.exists(installed) || size(installed) != size(helperSource) {
            guard let data = FileManager.default.contents(atPath: helperSource), !data.isEmpty else {
                throw .unavailable("httpGet and tcpSocket probes and hooks need the interlink-probe helper, which is not at \(helperSource) (build it with swift build, or set DockerProbeHelper)")
            }
            try WorkspaceFiles.makeDirectory(dataRoot + "/.bin", mode: 0o755)
            try WorkspaceFiles.writeAtomically(data, to: installed, mode: 0o755)
        }
        return Mount(hostPath: installed, containerPath: DockerProber.helperPathInContainer, readOnly: true)
    }

    /// Kills the containers a probe or postStart hook condemned and starts the next
    /// run of those whose backoff is over, as a fresh look at Docker (under
    /// `startLock`) says: the observation that asked may be stale. Returns whether
    /// anything changed.
    func restartDue(_ pod: DesiredPod, _ specs: [Spec], _ ctx: inout CreateContext) async throws -> Bool {
        let group = try await listPod(pod.uid).filter { $0.attempt == pod.attempt }
        var records = withRefusals(try await inspect(group.map(\.id)))
        let probes = await prober.states()
        let killed = await prober.allKillReasons()
        for i in records.indices where records[i].isTerminated { records[i].killReason = killed[records[i].id] }
        guard let obs = DockerPodProgress.plan(records, probes: probes, backoffBase: settings.restartBackoffSeconds)
            .observations.first(where: { $0.attempt == pod.attempt }), !obs.restartDue.isEmpty else { return false }
        var changed = false
        for name in obs.restartDue {
            let runs = records.filter { $0.container == name }
            guard let latest = runs.max(by: { $0.restart < $1.restart }),
                  let spec = specs.first(where: { $0.c.name == name && $0.isInit == latest.isInit }) else { continue }
            if latest.isRunning {
                // Condemned by a probe or its postStart hook: killed as kubelet does
                // (preStop, then the stop signal within the grace period); the next
                // observe sees it exited and restartPolicy decides.
                let reason = await prober.condemnation(latest.id) ?? "killed by InterLink"
                await prober.killing(latest.id, reason: reason)
                Log.info("killing a container", ["pod": "\(pod.namespace)/\(pod.name)", "uid": pod.uid,
                                                 "container": name, "reason": reason])
                let grace = spec.isInit ? pod.pod.spec?.terminationGracePeriodSeconds : (latest.lifecycle.map { Int64($0.graceSeconds) })
                try await stop([latest], grace: Self.clampedGrace(Int(clamping: grace ?? 30)))
                changed = true
                continue
            }
            let id = try await startLock.withLock { () async throws -> String? in
                // Someone (a racing create) started the next run meanwhile: nothing to do.
                let fresh = try await self.listPod(pod.uid, container: name).filter { $0.attempt == pod.attempt && $0.isInit == latest.isInit }
                guard fresh.map(\.restart).max() == latest.restart else { return nil }
                var c = ctx
                let id = try await self.makeContainer(pod, spec, count: specs.count, run: latest.restart + 1,
                                                      streak: DockerPodProgress.nextStreak(after: latest), &c)
                ctx = c
                return id
            }
            guard let id else { continue }
            // Kept: the run that just ended (Previous logs, lastState). Older ones go.
            let older = runs.filter { $0.restart < latest.restart }
            try await remove(older.map(\.id))
            discardPins(older)
            Log.info("restarting a container", ["pod": "\(pod.namespace)/\(pod.name)", "uid": pod.uid, "container": name,
                                                "restartCount": String(latest.attempt + latest.restart + 1)])
            changed = true
            _ = id
        }
        if changed { try await startDue(try await listPod(pod.uid).filter { $0.attempt == pod.attempt }.map(\.id)) }
        return changed
    }

    /// Stops running containers as kubelet does: each one's preStop hook first
    /// (all at once), then the stop signal, then SIGKILL when the grace period is
    /// over. The hooks count against the grace period; after them the stop keeps
    /// kubelet's minimum of 2 s.
    func stop(_ records: [DockerContainerRecord], grace: Int) async throws(ProviderError) {
        let running = records.filter(\.isRunning)
        guard !running.isEmpty else { return }
        let began = Date()
        let hooked = running.filter { $0.lifecycle?.preStop != nil }
        if !hooked.isEmpty {
            let cli = self.cli, limiter = prober.limiter
            await withTaskGroup(of: Void.self) { group in
                for r in hooked {
                    let hook = r.lifecycle!.preStop!, spec = r.lifecycle!
                    group.addTask {
                        if let failure = await DockerHooks.run(hook, in: r.id, spec: spec, cli: cli, limiter: limiter,
                                                               timeout: Double(max(1, grace)), slack: 0) {
                            Log.warn("preStop hook failed", ["pod": "\(r.namespace)/\(r.podName)", "container": r.container,
                                                             "error": failure])
                        }
                    }
                }
            }
        }
        let spent = Int(Date().timeIntervalSince(began).rounded(.down))
        let left = hooked.isEmpty ? grace : max(2, grace - spent)
        let r = try await cli.run(["stop", "--time=\(left)", "--"] + running.map(\.id), timeout: Double(left) + 120)
        if !r.succeeded && !DockerCLI.isNoSuchContainer(r.stderrText) && DockerCLI.isDaemonTrouble(r.stderrText) {
            throw DockerCLI.failure(["stop"], r)
        }
    }
}
