import FoundationEssentials
import Providers

/// Decides when a backend job whose pod this instance does not know may be
/// cancelled, as Kubernetes' garbage collector does for dependents: only once
/// its owner is known to be gone. A job is due when (1) the provider reported
/// it as this instance's (providers filter by `InstanceName`), (2) the store
/// loaded cleanly, (3) it stayed unknown for `grace` seconds since this process
/// first saw it (monotonic clock, so a wall-clock jump cannot shorten it), and
/// (4) unknown jobs are not a mass: many of them, outnumbering the known ones,
/// means the state directory came up empty or truncated, and collecting would
/// be a purge. Then nothing is collected and the reconciler says so loudly.
struct OrphanTracker {
    struct Verdict {
        /// `Planner.jobKey`s that may be cancelled now.
        var due: Set<String> = []
        /// Unknown jobs reported but left alone.
        var pending = 0
        /// Unknown jobs seen for the first time (to log once each).
        var newlySeen: [JobObservation] = []
        /// Why collection is refused (nil: it is not).
        var refusal: String?
    }

    private(set) var firstSeen: [String: ContinuousClock.Instant] = [:]

    mutating func update(orphans: [JobObservation], knownJobs: Int, now: ContinuousClock.Instant,
                         grace: Double, massThreshold: Int, storeClean: Bool) -> Verdict {
        var v = Verdict()
        var seen: [String: ContinuousClock.Instant] = [:]
        seen.reserveCapacity(orphans.count)
        for o in orphans {
            let k = Planner.jobKey(o.ref)
            if let t = firstSeen[k] { seen[k] = t } else { seen[k] = now; v.newlySeen.append(o) }
        }
        // A job no longer unknown (its pod came back, or it is gone) starts over if it reappears.
        firstSeen = seen
        if !storeClean {
            v.refusal = "the desired-state store dropped a damaged record when it loaded, so an unknown job may be an acknowledged pod's"
        } else if orphans.count >= massThreshold && orphans.count > knownJobs {
            v.refusal = "\(orphans.count) of this instance's backend jobs are unknown and only \(knownJobs) known: the state directory looks empty or truncated"
        }
        if v.refusal == nil {
            let window = Duration.milliseconds(Int64(min(grace, 86_400 * 365) * 1000))
            for (k, t) in seen where now - t >= window { v.due.insert(k) }
        }
        v.pending = orphans.count - v.due.count
        return v
    }
}
