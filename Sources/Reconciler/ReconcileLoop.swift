import FoundationEssentials
import Model
import Providers
import Support
import Synchronization

/// The loop: observe the backend once per resync, plan (pure `Planner`), act
/// through the provider, so lost jobs, orphans and restarts heal themselves.
///
/// Two paths, as in controller-runtime: an event (`/create`, `/delete`, one
/// backend outcome) enqueues its pod's key in a `WorkQueue`, and a worker
/// reconciles that key alone, in O(1) (no copy or plan of every record). The
/// periodic resync (`tickOnce`: observe once, plan all) keeps the loop
/// level-triggered and is the only O(n) pass; it alone concludes that a job was
/// lost or is an orphan, because only it has just observed the whole backend.
///
/// A `Service`: `run()` resyncs every `settings.interval` seconds and works the
/// queue until its task is cancelled or `stop()` is called; a tick under way
/// finishes first (ticks never overlap). It owns what it learns from the
/// backend (observations, orphan windows, backoffs, actions in flight) and
/// writes outcomes to the store and statuses to the view; it never closes the
/// store (the `Reconciler` does, after the intake has stopped).
public actor ReconcileLoop: Service {
    public nonisolated var name: String { "reconcile-loop" }
    nonisolated let provider: any Provider
    nonisolated let settings: ReconcilerSettings
    nonisolated let statusView: StatusView
    nonisolated let metricsRegistry: ReconcilerMetrics
    let store: DesiredStore
    /// Pod keys to reconcile on their own (the event path).
    nonisolated let queue: WorkQueue
    nonisolated let slots: ActionSlots
    /// Latest observation of each pod's current attempt (memory only); the intake and the read side read it.
    nonisolated let observed: ObservedJobs
    nonisolated let progress: LoopProgress
    /// Wakes the resync loop early (stop).
    let wake = WakeSignal()
    private let stopping = Mutex(false)
    /// Whether the store loaded everything on disk (orphans may be collected).
    let storeClean: Bool
    /// Jobs the last resync saw besides each known pod's current one (older
    /// attempts, duplicates), by pod UID: with `observed`, what the event path plans against.
    var otherJobs: [String: [JobObservation]] = [:]
    /// What the last resync saw and concluded of each record (`ResyncMemo`), by record slot.
    var lastResync: ContiguousArray<ResyncMemo> = []
    /// The last resync's observations, in the provider's order, and the map of
    /// each pod's first job built from them (`ResyncIndex`).
    var resyncIndex = ResyncIndex()
    /// For `make bench`'s memory breakdown: drops the resync memos (and the records they share).
    func dropMemosForBench() { lastResync = [] }
    /// Statuses and actions the last resync made (a burst frees the heap it used).
    var changedInLastResync = 0
    /// Records the last resync did not plan again (`ResyncMemo.quiet`), for tests and the bench.
    var quietSkipped = 0
    /// When each unreachable backend's observe failures began (`StatusMapper.unreachable`).
    var unreachableSince: [String: Date] = [:]
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

    init(provider: any Provider, settings: ReconcilerSettings, store: DesiredStore, storeClean: Bool,
         statusView: StatusView, metrics: ReconcilerMetrics, queue: WorkQueue, observed: ObservedJobs,
         progress: LoopProgress) {
        self.provider = provider
        self.settings = settings
        self.store = store
        self.storeClean = storeClean
        self.statusView = statusView
        self.metricsRegistry = metrics
        self.queue = queue
        self.observed = observed
        self.progress = progress
        slots = ActionSlots(parallel: settings.maxParallelActions, cap: settings.maxRunningActions, demoteAfter: settings.actionWaitSeconds)
    }

    /// Resyncs every `settings.interval` seconds and reconciles queued keys as
    /// they come, until the task is cancelled or `stop()` is called.
    public func run() async {
        progress.markStarted()
        Log.info("reconcile loop started", ["interval": String(settings.interval), "provider": provider.name])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.runKeys() }
            while !Task.isCancelled && !isStopping {
                await tickOnce()
                await wake.wait(timeout: settings.interval)
            }
            stopping.withLock { $0 = true }
            queue.signal.signal()
            await group.waitForAll()
        }
        await tickTail?.value
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

    /// Lets the current tick finish and ends `run()`.
    public func stop() async {
        stopping.withLock { $0 = true }
        wake.signal()
        queue.signal.signal()
        await tickTail?.value
    }

    /// One observe -> plan -> act pass; waits for a tick already under way first.
    public func tickOnce() async {
        let previous = tickTail
        let t = Task { await previous?.value; await self.tick() }
        tickTail = t
        await t.value
        progress.markStarted()
    }

    /// Applies the loop's own events (outcomes, adoptions) durably.
    func persist(_ events: [(uid: String, event: PodEvent)]) async throws(PodAPIError) -> [String: PodRecord?] {
        if isStopping { throw .unavailable("InterLink is shutting down") }
        do { return try await store.apply(events) } catch {
            Log.error("cannot persist desired state", ["error": error.description])
            throw .internal(error.description)
        }
    }

    nonisolated var isStopping: Bool { stopping.withLock { $0 } }

    /// Backend actions still running.
    var inFlightCount: Int { inFlight.count }
}
