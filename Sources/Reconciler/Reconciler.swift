import FoundationEssentials
import Model
import Providers
import Synchronization

/// The core of InterLink: records intent from the API durably, and a loop that
/// observes the backend once per tick, plans (pure `Planner`) and acts through
/// the provider, so lost jobs, orphans and restarts heal themselves.
///
/// Contract: `create`/`delete` return once the intent is on disk and wake the
/// loop; `status` answers from the `StatusView` without waiting for a tick or a
/// backend call; `run()` loops until cancelled or `stop()`; `tickOnce()` is one
/// observe -> plan -> act pass (ticks never overlap).
public actor Reconciler: PodAPI {
    public nonisolated let provider: any Provider
    public nonisolated let settings: ReconcilerSettings
    public nonisolated let statusView = StatusView()
    public nonisolated let metricsRegistry = ReconcilerMetrics()
    let store: DesiredStore
    let wake = WakeSignal()
    private let readyFlag = Mutex(false)
    private let stopping = Mutex(false)
    /// Latest observation of each pod's current attempt (memory only).
    var observed: [String: JobObservation] = [:]
    /// Per backend job: failed cancels and when to try again.
    var cancelBackoff: [String: (failures: Int, notBefore: Date)] = [:]
    /// Backend actions still running (possibly from an earlier tick), by `Action.flightKey`.
    var inFlight: Set<String> = []
    private var tickTail: Task<Void, Never>?

    /// Opens the store under `settings.dataRoot/state` and loads the desired pods.
    public init(provider: any Provider, settings: ReconcilerSettings) async throws(ReconcilerError) {
        self.provider = provider
        self.settings = settings
        store = try DesiredStore(directory: settings.stateDirectory, compactAfterRecords: settings.compactAfterRecords,
                                 compactAfterBytes: settings.compactAfterBytes)
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
        if let rec { statusView.set(uid, StatusMapper.status(rec, observation: observed[uid])) }
        Log.info("pod desired", fields(request.pod, ["action": "desire"]))
        wake.signal()
        return CreateStruct(PodUID: uid, PodJID: rec?.jobID ?? "")
    }

    public func delete(_ pod: Pod) async throws(PodAPIError) {
        let uid = pod.uid
        guard !uid.isEmpty, let r = await store.record(uid), r.desired else { return }
        _ = try await persist([(uid, .undesired)])
        Log.info("pod no longer desired", fields(r.pod, ["action": "undesire"]))
        wake.signal()
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

    /// The VK's hint that a pod changed: look again soon.
    public func updateCache(_ pod: Pod) async { wake.signal() }

    public func metrics() async -> String {
        metricsRegistry.render(phases: statusView.phaseCounts(), provider: provider.name,
                               providerCommands: provider.commandCount, desiredPods: await store.count)
    }

    public func isReady() async -> Bool { readyFlag.withLock { $0 } }

    // MARK: Loop

    /// Ticks every `settings.interval` seconds, or sooner when woken, until the
    /// task is cancelled or `stop()` is called.
    public func run() async {
        readyFlag.withLock { $0 = true }
        Log.info("reconcile loop started", ["interval": String(settings.interval), "provider": provider.name])
        while !Task.isCancelled && !stopping.withLock({ $0 }) {
            await tickOnce()
            await wake.wait(timeout: settings.interval)
        }
        Log.info("reconcile loop stopped", [:])
    }

    /// Lets the current tick finish, ends `run()`, and closes the journal.
    public func stop() async {
        stopping.withLock { $0 = true }
        wake.signal()
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
