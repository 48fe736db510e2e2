import FoundationEssentials
import KubeClient
import Model
import Reconciler
import Support
import Synchronization

/// Where the patcher reads interLink's pod statuses from: by pod UID, once
/// whole and then as a stream of the entries that changed (nil: the pod is gone).
public protocol PodStatusSource: Sendable {
    func snapshot() -> [String: PodStatus]
    /// Changes from the moment of the call on, in the order they were made.
    func changes() -> AsyncStream<[String: PodStatus?]>
}

extension StatusView: PodStatusSource {}

/// Writes each pod's status to the API server's `pods/{name}/status`
/// subresource, only when it changed, and emits Events for create failures,
/// backend loss and restarts.
///
/// Contract:
/// - `run()` subscribes to the source's `changes()`, reads its snapshot once
///   (what changed while the patcher was not running), then only consumes
///   changes: no polling. A pod whose status changes again before its patch
///   went out is patched once, with the latest status (counted as coalesced).
///   A failed patch is retried after `retryDelay` (or at the pod's next change).
/// - Every pod is read from the API server once first: its UID must be the
///   one interLink knows (else it is another pod reusing the name and is left
///   alone), its current status is what the next patch is computed against, so
///   after a restart statuses that already match are not patched again.
/// - Patches carry `metadata.uid`, so the API server refuses a pod that was
///   replaced in between; a 404 or such a refusal stops patching that pod.
/// - All calls go through the `KubeClient`'s QPS/burst budget.
/// - `run()` returns when its task is cancelled; a call in flight is aborted
///   (the next start reads the API server first, so nothing is lost).
public actor StatusPatcher {
    /// The calls this service makes, for the RBAC rules (a test holds the
    /// kustomization's Role to exactly these).
    public static let apiCalls: [KubeAPICall] = [
        KubeAPICall("get", "pods"),
        KubeAPICall("patch", "pods/status"),
        KubeAPICall("create", "events"),
        KubeAPICall("patch", "events"),
    ]

    public struct Metrics: Sendable, Equatable {
        public var patchesSent = 0
        public var patchesFailed = 0
        public var patchesCoalesced = 0
        /// Changes that needed no patch (the API server already showed them).
        public var patchesSkipped = 0
        public var eventsSent = 0
        public var eventsDropped = 0
    }

    private struct Track {
        var namespace: String
        var name: String
        /// The API server's status as last read or patched; nil until read.
        var server: KubePodStatus?
        var spec: PodSpec?
        /// 404, or the name now belongs to another pod: never patch again.
        var stopped = false
        /// The interLink status last turned into a patch (for Events).
        var lastSent: PodStatus?
    }

    private let client: KubeClient
    private let source: any PodStatusSource
    private let retryDelay: Duration
    /// The latest status of each pod, as the source last said.
    private var seen: [String: PodStatus] = [:]
    private var pending: [String: PodStatus] = [:]
    private var order: [String] = []
    private var tracks: [String: Track] = [:]
    private var recorder = EventRecorder()
    private var metricsValue = Metrics()
    private let metricsBox = Mutex(Metrics())
    /// Wakes `run()` when work was queued (nil outside `run()`).
    private var wake: AsyncStream<Void>.Continuation?

    public init(client: KubeClient, source: any PodStatusSource, retryDelay: Duration = .seconds(1)) {
        self.client = client
        self.source = source
        self.retryDelay = retryDelay
    }

    /// Safe from any thread, without waiting for the actor.
    public nonisolated var metrics: Metrics { metricsBox.withLock { $0 } }

    /// Prometheus text for `/metrics`.
    public nonisolated func metricsText() -> String {
        let m = metrics
        return """
        # HELP interlink_status_patches_total Pod status patches to the API server, by result.
        # TYPE interlink_status_patches_total counter
        interlink_status_patches_total{result="sent"} \(m.patchesSent)
        interlink_status_patches_total{result="failed"} \(m.patchesFailed)
        interlink_status_patches_total{result="coalesced"} \(m.patchesCoalesced)
        interlink_status_patches_total{result="unchanged"} \(m.patchesSkipped)
        # HELP interlink_pod_events_total Events emitted on pods, by result.
        # TYPE interlink_pod_events_total counter
        interlink_pod_events_total{result="sent"} \(m.eventsSent)
        interlink_pod_events_total{result="ratelimited"} \(m.eventsDropped)

        """
    }

    public func run() async {
        // Subscribe before the snapshot, so no change falls between the two
        // (one seen twice is harmless: it is queued once).
        let changes = source.changes()
        resync(source.snapshot())
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.wake = wake
        // Changes arrive on their own task, so those made while a patch is out
        // (this actor waits on the API server) coalesce into the queue.
        let feeder = Task {
            for await batch in changes { self.receive(batch) }   // on this actor (the task inherits it)
            wake.finish()
        }
        var wakeup = wakeups.makeAsyncIterator()
        while !Task.isCancelled {
            while let uid = order.first, !Task.isCancelled {
                order.removeFirst()
                guard let st = pending.removeValue(forKey: uid) else { continue }
                await patch(uid, st)
            }
            if await wakeup.next() == nil { break }   // nil: cancelled, or the source ended
        }
        feeder.cancel()
        self.wake = nil
    }

    /// One pass without `run()`'s stream (tests, bench): compare a snapshot
    /// of the source with what was seen, send what changed, and compare again
    /// after each call (changes made meanwhile coalesce).
    public func flush() async {
        resync(source.snapshot())
        while let uid = order.first {
            order.removeFirst()
            if let st = pending.removeValue(forKey: uid) { await patch(uid, st) }
            resync(source.snapshot())
        }
    }

    /// Queues what differs between `now` (every status) and what was seen.
    private func resync(_ now: [String: PodStatus]) {
        var changes: [String: PodStatus?] = [:]
        for (uid, st) in now where seen[uid] != st { changes[uid] = .some(st) }
        for uid in seen.keys where now[uid] == nil { changes[uid] = .some(nil) }
        enqueue(changes)
    }

    private func receive(_ batch: [String: PodStatus?]) {
        enqueue(batch)
        wake?.yield()
    }

    private func enqueue(_ changes: [String: PodStatus?]) {
        // New work in UID order, so one batch's queue does not depend on hashing.
        for (uid, st) in changes.sorted(by: { $0.key < $1.key }) {
            guard let st else {
                seen[uid] = nil; tracks[uid] = nil; pending[uid] = nil
                recorder.forget(uid: uid)
                continue
            }
            guard seen[uid] != st else { continue }
            seen[uid] = st
            queue(uid, st)
        }
    }

    private func queue(_ uid: String, _ st: PodStatus) {
        if tracks[uid]?.stopped == true { return }
        if pending.updateValue(st, forKey: uid) != nil {
            bump { $0.patchesCoalesced += 1 }
        } else {
            order.append(uid)
        }
    }

    /// After a failed patch: the pod's latest status again, once `retryDelay`
    /// has passed (`flush()` sees it on its next snapshot instead).
    private func retryLater(_ uid: String) {
        guard wake != nil else { return }
        let delay = retryDelay
        Task {
            try? await Task.sleep(for: delay)
            self.retry(uid)
        }
    }

    private func retry(_ uid: String) {
        guard let st = seen[uid], pending[uid] == nil else { return }
        queue(uid, st)
        wake?.yield()
    }

    private func patch(_ uid: String, _ st: PodStatus) async {
        var t = tracks[uid] ?? Track(namespace: st.namespace, name: st.name)
        guard !t.stopped, !st.namespace.isEmpty, !st.name.isEmpty else { return }
        let podPath = KubePath.core("pods", namespace: t.namespace, name: t.name)
        do {
            if t.server == nil {
                let pod = try await client.get(KubePod.self, podPath, call: "get pods")
                guard pod.metadata.uid == uid else {
                    Log.warn("pod name belongs to another pod; not patching its status",
                             ["pod": "\(t.namespace)/\(t.name)", "uid": uid, "apiServerUID": pod.metadata.uid ?? ""])
                    t.stopped = true; tracks[uid] = t
                    return
                }
                t.spec = pod.spec
                t.server = pod.status ?? KubePodStatus()
            }
            await emitEvents(before: t.lastSent, after: st, pod: PodRef(namespace: t.namespace, name: t.name, uid: uid))
            t.lastSent = st
            let desired = PodStatusBuilder.build(st, spec: t.spec, previous: t.server, now: RFC3339.now())
            if PodStatusBuilder.matches(desired, server: t.server) {
                bump { $0.patchesSkipped += 1 }
                tracks[uid] = t
                return
            }
            let body = try StatusPatch.body(uid: uid, desired: desired, server: t.server)
            let answer = try await client.patch(KubePod.self, KubePath.core("pods", namespace: t.namespace, name: t.name, subresource: "status"),
                                                .strategicMerge, body: body, call: "patch pods/status")
            t.server = answer.status
            bump { $0.patchesSent += 1 }
            tracks[uid] = t
        } catch let e as KubeError {
            if e.isNotFound || e.isConflict {
                // Gone, or replaced by a pod of the same name: nothing of ours to patch.
                Log.info("pod status no longer patched", ["pod": "\(t.namespace)/\(t.name)", "uid": uid, "why": e.description])
                t.stopped = true
            } else {
                bump { $0.patchesFailed += 1 }
                Log.warn("pod status patch failed; retrying", ["pod": "\(t.namespace)/\(t.name)", "error": e.description])
                failed(uid)
                t.server = nil   // read afresh before the retry
            }
            tracks[uid] = t
        } catch {
            bump { $0.patchesFailed += 1 }
            failed(uid)
            tracks[uid] = t
        }
    }

    /// A patch that did not go through is sent again: by `flush()` at its next
    /// snapshot (the status counts as unseen), by `run()` after `retryDelay`.
    private func failed(_ uid: String) {
        if wake == nil { seen[uid] = nil } else { retryLater(uid) }
    }

    private func emitEvents(before: PodStatus?, after: PodStatus, pod: PodRef) async {
        for ev in PodEventDetector.events(before: before, after: after) {
            var ev = ev
            if ev.message.utf8.count > 1000 { ev.message = String(ev.message.prefix(1000)) }
            guard let action = recorder.record(ev, pod: pod) else { bump { $0.eventsDropped += 1 }; continue }
            let events = KubePath.core("events", namespace: pod.namespace)
            do {
                switch action {
                case .create(_, let body):
                    _ = try await client.create(IgnoredAnswer.self, events, body: body, call: "create events")
                case .patch(let name, let body):
                    _ = try await client.patch(IgnoredAnswer.self, KubePath.core("events", namespace: pod.namespace, name: name),
                                               .strategicMerge, body: body, call: "patch events")
                }
                bump { $0.eventsSent += 1 }
            } catch {
                Log.debug("event not recorded", ["pod": "\(pod.namespace)/\(pod.name)", "error": "\(error)"])
            }
        }
    }

    private func bump(_ f: (inout Metrics) -> Void) {
        f(&metricsValue)
        let m = metricsValue
        metricsBox.withLock { $0 = m }
    }
}

/// An answer whose body does not matter.
struct IgnoredAnswer: Decodable {}
