import FoundationEssentials
import Model
import Providers
import Support

/// The core of InterLink, as three parts with one job each over one journaled
/// store (`DesiredStore`) and one status view (`StatusView`):
/// - `PodIntake` records desired state (`create`, `delete`, `updateCache`);
/// - `ReconcileLoop` (a `Service`) observes, plans and acts;
/// - `PodReader` answers `status`, `logs`, `ping`, `metrics` and readiness.
/// This type opens the store, wires the parts and implements `PodAPI` by
/// delegating, so the REST API, the virtual kubelet and tests see one seam.
///
/// Contract: `create`/`delete` return once the intent is on disk and enqueue
/// the key; `status` answers from the `StatusView` without waiting for a tick or
/// a backend call; `run()` loops until cancelled or `stop()`; `tickOnce()` is one
/// resync (ticks never overlap); `stop()` closes intake, lets the loop finish
/// its tick, then closes the journal.
public final class Reconciler: PodAPI, Sendable {
    public let provider: any Provider
    public let settings: ReconcilerSettings
    public let statusView = StatusView()
    public let metricsRegistry = ReconcilerMetrics()
    public let loop: ReconcileLoop
    let intake: PodIntake
    let reader: PodReader
    let store: DesiredStore
    let queue = WorkQueue()

    /// Opens the store under `settings.dataRoot/state` and loads the desired pods.
    public init(provider: any Provider, settings: ReconcilerSettings) async throws(ReconcilerError) {
        self.provider = provider
        self.settings = settings
        store = try DesiredStore(directory: settings.stateDirectory, compactAfterRecords: settings.compactAfterRecords,
                                 compactAfterBytes: settings.compactAfterBytes)
        let observed = ObservedJobs(), progress = LoopProgress()
        loop = ReconcileLoop(provider: provider, settings: settings, store: store, storeClean: await store.loadReport.clean,
                             statusView: statusView, metrics: metricsRegistry, queue: queue, observed: observed,
                             progress: progress)
        intake = PodIntake(store: store, statusView: statusView, observed: observed, queue: queue)
        reader = PodReader(provider: provider, store: store, statusView: statusView, observed: observed,
                           metrics: metricsRegistry, progress: progress)
        let records = await store.table()
        var statuses: [String: PodStatus] = [:]
        statuses.reserveCapacity(records.count)
        for (uid, r) in records.entries { statuses[uid] = StatusMapper.status(r, observation: nil) }
        statusView.replaceAll(statuses)
        Log.info("desired state loaded", ["pods": String(records.count), "dir": settings.stateDirectory,
                                          "provider": provider.name])
    }

    // MARK: PodAPI (intake and read side)

    public func create(_ request: PodCreateRequests) async throws(PodAPIError) -> CreateStruct { try await intake.create(request) }
    public func delete(_ pod: Pod) async throws(PodAPIError) { try await intake.delete(pod) }
    public func delete(_ pod: Pod, gracePeriodSeconds: Int64?) async throws(PodAPIError) {
        try await intake.delete(pod, gracePeriodSeconds: gracePeriodSeconds)
    }
    public func updateCache(_ pod: Pod) async { intake.updateCache(pod) }
    public func status(_ pods: [Pod]) async -> [PodStatus] { reader.status(pods) }
    public func logs(_ request: LogStruct) async throws(PodAPIError) -> LogStream { try await reader.logs(request) }
    public func ping() async throws(PodAPIError) -> PingResponse? { try await reader.ping() }
    public func metrics() async -> String { await reader.metrics() }
    public func isReady() async -> Bool { reader.isReady }

    /// Whether an observe of the backend has succeeded since this process started:
    /// before that, statuses are only what the journal remembers.
    public var hasObserved: Bool { reader.hasObserved }

    /// Records many desired pods in one durable batch (benchmarks, bulk import).
    public func seed(_ requests: [PodCreateRequests]) async throws(PodAPIError) { try await intake.seed(requests) }

    // MARK: Loop

    /// Runs the loop until the task is cancelled or `stop()` is called.
    public func run() async { await loop.run() }

    /// One resync (see `ReconcileLoop.tickOnce`).
    public func tickOnce() async { await loop.tickOnce() }

    /// Refuses new intents, lets the loop finish its tick and end `run()`, then closes the journal.
    public func stop() async {
        intake.close()
        await loop.stop()
        await store.close()
    }

    // MARK: For tests and the benchmark

    /// Records planned or turned into a status, by the loop and the intake.
    var recordsVisited: Int { get async { await loop.recordsVisited + intake.visited.load(ordering: .relaxed) } }
    var inFlightCount: Int { get async { await loop.inFlightCount } }
    func reconcileKey(_ uid: String) async { await loop.reconcileKey(uid) }
}
