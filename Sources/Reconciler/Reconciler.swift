import FoundationEssentials
import Model
import Providers
import Synchronization

/// The core of InterLink: records intent from the API durably, and a loop that
/// observes the backend once per tick, plans (pure `Planner`) and acts through
/// the provider, so lost jobs, orphans and restarts heal themselves.
///
/// Two paths, as in controller-runtime: an event (`/create`, `/delete`, one
/// backend outcome) enqueues its pod's key in a `WorkQueue`, and a worker
/// reconciles that key alone, in O(1) (no copy or plan of every record). The
/// periodic resync (`tickOnce`: observe once, plan all) keeps the loop
/// level-triggered and is the only O(n) pass; it alone concludes that a job was
/// lost or is an orphan, because only it has just observed the whole backend.
///
/// Contract: `create`/`delete` return once the intent is on disk and enqueue
/// the key; `status` answers from the `StatusView` without waiting for a tick or
/// a backend call; `run()` loops until cancelled or `stop()`; `tickOnce()` is one
/// resync (ticks never overlap).
public actor Reconciler: PodAPI {
    public nonisolated let provider: any Provider
    public nonisolated let settings: ReconcilerSettings
    public nonisolated let statusView = StatusView()
    public nonisolated let metricsRegistry = ReconcilerMetrics()
    let store: DesiredStore
    /// Wakes the resync loop early (stop).
    let wake = WakeSignal()
    /// Pod keys to reconcile on their own (the event path).
    nonisolated let queue = WorkQueue()
    nonisolated let slots: ActionSlots
    private let readyFlag = Mutex(false)
    /// Set by the first tick whose observe succeeded (see `hasObserved`).
    let observedFlag = Mutex(false)
    private let stopping = Mutex(false)
    /// Whether the store loaded everything on disk (orphans may be collected).
    let storeClean: Bool
    /// Latest observation of each pod's current attempt (memory only).
    var observed: [String: JobObservation] = [:]
    /// Jobs the last resync saw besides each known pod's current one (older
    /// attempts, duplicates), by pod UID: with `observed`, what the event path plans against.
    var otherJobs: [String: [JobObservation]] = [:]
    /// Grace windows of jobs whose pod is unknown.
    var orphans = OrphanTracker()
    var orphanRefusal: String?
    /// Failed cancels of orphan jobs (they have no record to hold the backoff), by job key.
    var cancelBackoff: [String: (failures: Int, notBefore: Date)] = [:]
    /// Failed advances, by pod UID (retried with backoff; never fail the pod).
    var advanceBackoff: [String: (failures: Int, notBefore: Date)] = [:]
    /// Backend actions still running (possibly from an earlier tick), by `Action.flightKey`.
    var inFlight: Set<String> = []
    private var tickTail: Task<Void, Never>?
    /// Records planned or turned into a status so far: the structural check
    /// that an event costs O(1) (tests read it).
    var recordsVisited = 0

    /// Opens the store under `settings.dataRoot/state` and loads the desired pods.
    public init(provider: any Provider, settings: ReconcilerSettings) async throws(ReconcilerError) {
        self.provider = provider
        self.settings = settings
        slots = ActionSlots(parallel: settings.maxParallelActions, cap: settings.maxRunningActions)
        store = try DesiredStore(directory: settings.stateDirectory, compactAfterRecords: settings.compactAfterRecords,
                                 compactAfterBytes: settings.compactAfterBytes)
        storeClean = await store.loadReport.clean
        let records = await store.all()
        var statuses: [String: PodStatus] = [:]
        for (uid, r) in records { statuses[uid] = StatusMapper.status(r, observation: nil) }
        statusView.replaceAll(statuses)
        Log.info("desired state loaded", ["pods": String(records.count), "dir": settings.stateDirectory,
                                          "provider": provider.name])
    }

    // MARK: PodAPI

    public func create(_ request: PodCreateRequests) async throws(PodAPIError) -> CreateStruct {
        let uid = request.pod.uid
        guard !uid.isEmpty else { throw .invalid("the pod has no metadata.uid, so it cannot be tracked") }
        if let r = await store.record(uid), r.desired, r.request == request {
            return CreateStruct(PodUID: uid, PodJID: r.jobID) // a retried /create: nothing new to record
        }
        let rec = try await persist([(uid, .desired(request))])[uid] ?? nil
        if let rec { recordsVisited += 1; statusView.set(uid, StatusMapper.status(rec, observation: observed[uid])) }
        Log.info("pod desired", fields(request.pod, ["action": "desire"]))
        queue.add(uid)
        return CreateStruct(PodUID: uid, PodJID: rec?.jobID ?? "")
    }

    public func delete(_ pod: Pod) async throws(PodAPIError) {
        let uid = pod.uid
        guard !uid.isEmpty, let r = await store.record(uid), r.desired else { return }
        _ = try await persist([(uid, .undesired)])
        Log.info("pod no longer desired", fields(r.pod, ["action": "undesire"]))
        queue.add(uid)
    }

    public nonisolated func status(_ pods: [Pod]) async -> [PodStatus] { statusView.get(pods) }

    public func logs(_ request: LogStruct) async throws(PodAPIError) -> LogStream {
        guard let rec = await store.record(request.PodUID) else {
            throw .notFound("no pod with UID \(request.PodUID) is known to this InterLink")
        }
        let names = rec.pod.containers.map(\.name) + rec.pod.initContainers.map(\.name)
        guard names.contains(request.ContainerName) else {
            throw .notFound("pod \(rec.pod.namespace)/\(rec.pod.name) has no container named \"\(request.ContainerName)\"")
        }
        var ref = rec.jobRef
        if ref.jobID.isEmpty, let o = observed[rec.uid] { ref.jobID = o.jobID }
        metricsRegistry.backendCommand("logs")
        do {
            return try await provider.logs(ref, container: request.ContainerName, options: request.Opts)
        } catch let e as ProviderError {
            metricsRegistry.backendError("logs", e)
            if case .notFound(let m) = e { throw .notFound(m) }
            throw .unavailable(e.description)
        } catch {
            metricsRegistry.backendError("logs", error)
            throw .internal("reading logs failed: \(error)")
        }
    }

    public func ping() async throws(PodAPIError) -> PingResponse? {
        metricsRegistry.backendCommand("ping")
        do { return try await provider.ping() } catch {
            metricsRegistry.backendError("ping", error)
            // The VK marks the node NotReady on a failed ping: no new pods for a dead backend.
            throw .unavailable("the \(provider.name) backend does not answer: \(error)")
        }
    }

    /// The VK's hint that a pod changed: reconcile its key soon.
    public func updateCache(_ pod: Pod) async { if !pod.uid.isEmpty { queue.add(pod.uid) } }

    public func metrics() async -> String {
        metricsRegistry.render(phases: statusView.phaseCounts(), provider: provider.name,
                               providerCommands: provider.commandCount, desiredPods: await store.count)
    }

    public func isReady() async -> Bool { readyFlag.withLock { $0 } }

    /// Whether an observe of the backend has succeeded since this process started:
    /// before that, statuses are only what the journal remembers.
    public nonisolated var hasObserved: Bool { observedFlag.withLock { $0 } }

    // MARK: Loop

    /// Resyncs every `settings.interval` seconds and reconciles queued keys as
    /// they come, until the task is cancelled or `stop()` is called.
    public func run() async {
        readyFlag.withLock { $0 = true }
        Log.info("reconcile loop started", ["interval": String(settings.interval), "provider": provider.name])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.runKeys() }
            while !Task.isCancelled && !stopping.withLock({ $0 }) {
                await tickOnce()
                await wake.wait(timeout: settings.interval)
            }
            stopping.withLock { $0 = true }
            queue.signal.signal()
            await group.waitForAll()
        }
        Log.info("reconcile loop stopped", [:])
    }

    /// The event path's worker: reconciles due keys one at a time (each is O(1)
    /// and does not wait for its backend actions), sleeping until the next key
    /// or delayed retry.
    func runKeys() async {
        while !isStopping && !Task.isCancelled {
            let (keys, nextIn) = queue.take(max: 256)
            if keys.isEmpty {
                await queue.signal.wait(timeout: min(nextIn ?? settings.interval, settings.interval))
                continue
            }
            for k in keys where !isStopping { await reconcileKey(k) }
        }
    }

    /// Lets the current tick finish, ends `run()`, and closes the journal.
    public func stop() async {
        stopping.withLock { $0 = true }
        wake.signal()
        queue.signal.signal()
        await tickTail?.value
        await store.close()
    }

    /// One observe -> plan -> act pass; waits for a tick already under way first.
    public func tickOnce() async {
        let previous = tickTail
        let t = Task { await previous?.value; await self.tick() }
        tickTail = t
        await t.value
        readyFlag.withLock { $0 = true }
    }

    // MARK: Helpers

    /// Applies events durably; store failures become API errors.
    func persist(_ events: [(uid: String, event: PodEvent)]) async throws(PodAPIError) -> [String: PodRecord?] {
        if stopping.withLock({ $0 }) { throw .unavailable("InterLink is shutting down") }
        do { return try await store.apply(events) } catch {
            Log.error("cannot persist desired state", ["error": error.description])
            throw .internal(error.description)
        }
    }

    nonisolated func fields(_ pod: Pod, _ extra: [String: String] = [:]) -> [String: String] {
        var f = extra
        f["namespace"] = pod.namespace; f["name"] = pod.name; f["uid"] = pod.uid
        return f
    }

    var isStopping: Bool { stopping.withLock { $0 } }
}
