import FoundationEssentials
import Model
import Providers
import Support

/// What one backend action came to; turned into durable events by `complete`.
enum ActionOutcome: Sendable {
    case created(uid: String, attempt: Int, jobID: String)
    case createFailed(uid: String, attempt: Int, error: ProviderError)
    case cancelled(JobRef)
    case cancelFailed(JobRef, message: String)
    case cleanedUp(uid: String)
    case cleanupFailed(uid: String, message: String)
    case advanced(uid: String, ids: [String])
    case advanceFailed(uid: String)
    /// The action was no longer wanted when its turn came.
    case skipped(key: String)

    /// The in-flight key of the action this is the outcome of (see `Action.flightKey`).
    var flightKey: String {
        switch self {
        case .created(let uid, _, _), .createFailed(let uid, _, _): return "create:" + uid
        case .cancelled(let ref), .cancelFailed(let ref, _): return "cancel:" + Planner.jobKey(ref)
        case .cleanedUp(let uid), .cleanupFailed(let uid, _): return "forget:" + uid
        case .advanced(let uid, _), .advanceFailed(let uid): return "advance:" + uid
        case .skipped(let k): return k
        }
    }
}

extension Action {
    /// Identifies a backend action while it runs, so it is not started twice.
    var flightKey: String? {
        switch self {
        case .create(let uid, _): return "create:" + uid
        case .cancel(let ref, _): return "cancel:" + Planner.jobKey(ref)
        case .forget(let uid, _): return "forget:" + uid
        case .advance(let ref, _): return "advance:" + ref.podUID
        case .record, .abandon: return nil
        }
    }
}

/// The provider calls behind each action, with their metrics and log lines.
extension ReconcileLoop {
    static func create(_ rec: PodRecord, _ provider: any Provider, _ metrics: ReconcilerMetrics) async -> ActionOutcome {
        metrics.backendCommand("create"); metrics.action("create")
        var f = PodLogFields.of(rec.pod, ["action": "create", "attempt": String(rec.attempt)])
        do {
            let jobID = try await provider.create(rec.desiredPod)
            f["jobID"] = jobID
            Log.info("created pod on the backend", f)
            return .created(uid: rec.uid, attempt: rec.attempt, jobID: jobID)
        } catch {
            metrics.backendError("create", error)
            let e = (error as? ProviderError) ?? .backend(command: "create", message: "\(error)", transient: true)
            f["error"] = e.description
            Log.warn("create failed", f)
            return .createFailed(uid: rec.uid, attempt: rec.attempt, error: e)
        }
    }

    static func cancel(_ ref: JobRef, _ reason: CancelReason, _ provider: any Provider,
                       _ metrics: ReconcilerMetrics) async -> ActionOutcome {
        metrics.backendCommand("delete"); metrics.action("cancel")
        let f = ["action": "cancel", "reason": reason.rawValue, "namespace": ref.namespace, "name": ref.name,
                 "uid": ref.podUID, "jobID": ref.jobID, "attempt": String(ref.attempt)]
        do {
            try await provider.delete(ref)
            Log.info("cancelled backend job", f)
            return .cancelled(ref)
        } catch {
            metrics.backendError("delete", error)
            var g = f; g["error"] = "\(error)"
            Log.warn("cancel failed; will retry with backoff", g)
            return .cancelFailed(ref, message: "\(error)")
        }
    }

    static func cleanup(_ uid: String, _ ref: JobRef, _ provider: any Provider,
                        _ metrics: ReconcilerMetrics) async -> ActionOutcome {
        metrics.backendCommand("cleanup"); metrics.action("forget")
        let f = ["action": "forget", "namespace": ref.namespace, "name": ref.name, "uid": uid]
        do {
            try await provider.cleanup(ref)
            Log.info("pod deleted and forgotten", f)
            return .cleanedUp(uid: uid)
        } catch {
            metrics.backendError("cleanup", error)
            var g = f; g["error"] = "\(error)"
            Log.warn("cleanup failed; will retry with backoff", g)
            return .cleanupFailed(uid: uid, message: "\(error)")
        }
    }

    static func advance(_ ref: JobRef, _ ids: [String], _ provider: any Provider,
                        _ metrics: ReconcilerMetrics) async -> ActionOutcome {
        metrics.backendCommand("advance"); metrics.action("advance")
        var f = ["action": "advance", "namespace": ref.namespace, "name": ref.name, "uid": ref.podUID,
                 "jobID": ref.jobID, "ids": ids.joined(separator: ",")]
        do {
            try await provider.advance(ref, start: ids)
            Log.debug("started the next containers of a pod", f)
            return .advanced(uid: ref.podUID, ids: ids)
        } catch {
            metrics.backendError("advance", error)
            f["error"] = "\(error)"
            Log.warn("starting the next containers failed; will retry with backoff", f)
            return .advanceFailed(uid: ref.podUID)
        }
    }
}
