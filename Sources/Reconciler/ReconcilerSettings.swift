import FoundationEssentials
import Config

/// How the reconcile loop behaves. Built from `InterLinkConfig` for the server;
/// tests and the benchmark set fields directly (e.g. `backoffBase = 0`).
public struct ReconcilerSettings: Sendable, Equatable {
    /// Seconds between ticks when nothing wakes the loop earlier.
    public var interval: Double
    /// A pod whose create failed this many times ends Failed with the last error.
    public var maxCreateAttempts: Int
    /// A pod whose backend lost it is re-created at most this many times.
    public var maxRestarts: Int
    /// `DataRootFolder`; the journal lives in `<dataRoot>/state/`.
    public var dataRoot: String
    /// First retry delay after a failed backend action, doubled per failure.
    public var backoffBase: Double
    /// Upper bound of the retry delay.
    public var backoffMax: Double
    /// Backend actions run at most this many at a time within one tick.
    public var maxParallelActions: Int
    /// A tick waits this long for its backend actions; slower ones finish in
    /// the background and are not started again while they run.
    public var actionWaitSeconds: Double
    /// A job created but never observed for this long counts as lost.
    public var unseenGraceSeconds: Double
    /// The journal is compacted into a snapshot once it holds more than
    /// max(this, 2 x live pods) records, or more than `compactAfterBytes`.
    public var compactAfterRecords: Int
    public var compactAfterBytes: Int
    /// A backend job of this instance whose pod is unknown is cancelled as an
    /// orphan only after it stayed unknown this long (measured from first sight
    /// in this process, on the monotonic clock). `OrphanGraceSeconds`.
    public var orphanGraceSeconds: Double
    /// Orphan collection is refused outright (a loud error, nothing cancelled)
    /// while at least this many of this instance's backend jobs are unknown and
    /// they outnumber the known ones: an empty or truncated state directory.
    public var massOrphanThreshold: Int
    /// Cleanup of a deleted pod's files is retried with backoff this many
    /// times; then the leak is recorded (metric, log) and the pod forgotten.
    public var maxCleanupAttempts: Int
    /// Beyond `maxParallelActions`, actions that outlived `actionWaitSeconds`
    /// stop counting; this caps everything running at once (processes, sockets).
    public var maxRunningActions: Int

    public init(interval: Double = 5, maxCreateAttempts: Int = 5, maxRestarts: Int = 10,
                dataRoot: String, backoffBase: Double = 1, backoffMax: Double = 60,
                maxParallelActions: Int = 16, actionWaitSeconds: Double? = nil, unseenGraceSeconds: Double? = nil,
                compactAfterRecords: Int = 4096, compactAfterBytes: Int = 64 << 20,
                orphanGraceSeconds: Double = 300, massOrphanThreshold: Int = 10, maxCleanupAttempts: Int = 8,
                maxRunningActions: Int? = nil) {
        self.interval = interval; self.maxCreateAttempts = max(1, maxCreateAttempts)
        self.maxRestarts = max(0, maxRestarts); self.dataRoot = dataRoot
        self.backoffBase = max(0, backoffBase); self.backoffMax = max(backoffBase, backoffMax)
        self.maxParallelActions = max(1, maxParallelActions)
        self.actionWaitSeconds = max(0, actionWaitSeconds ?? min(interval, 10))
        self.unseenGraceSeconds = unseenGraceSeconds ?? max(30, 3 * interval)
        self.compactAfterRecords = max(1, compactAfterRecords); self.compactAfterBytes = compactAfterBytes
        self.orphanGraceSeconds = max(0, orphanGraceSeconds); self.massOrphanThreshold = max(1, massOrphanThreshold)
        self.maxCleanupAttempts = max(1, maxCleanupAttempts)
        self.maxRunningActions = max(self.maxParallelActions, maxRunningActions ?? 8 * self.maxParallelActions)
    }

    public init(config: InterLinkConfig) {
        self.init(interval: config.reconcileIntervalSeconds, maxCreateAttempts: config.maxCreateAttempts,
                  maxRestarts: config.maxRestarts, dataRoot: config.dataRootFolder,
                  orphanGraceSeconds: config.orphanGraceSeconds)
        stateFolder = config.stateFolder.isEmpty ? nil : config.stateFolder
    }

    /// Delay before retry number `failures` (1 = after the first failure).
    public func backoff(failures: Int) -> Double {
        guard failures > 0, backoffBase > 0 else { return 0 }
        let exp = min(failures - 1, 30)
        return min(backoffMax, backoffBase * Double(1 << exp))
    }

    /// `StateFolder` when the site keeps the journal apart from the pod directories.
    public var stateFolder: String? = nil

    /// The journal's directory: `StateFolder`, else `<dataRoot>/state`.
    public var stateDirectory: String {
        if let s = stateFolder { return s }
        return dataRoot.hasSuffix("/") ? dataRoot + "state" : dataRoot + "/state"
    }
}
