import FoundationEssentials
import KubeClient
import Model
import Reconciler
import Support

/// Pods in and deletions out. Watches the pods bound to this node and treats
/// the API server as the source of truth:
/// - a pod not finished and not known to the core is resolved and created
///   through `PodAPI.create` (the same intake as REST `/create`, so it is
///   journaled and reconciled alike; the provider adopts a job that exists);
/// - on every full list (start, relist after 410) a pod the core has but the
///   API server no longer shows is deleted on the backend;
/// - a pod with `deletionTimestamp` is stopped on the backend, and only when
///   the core no longer shows it running is the API object deleted, with
///   `gracePeriodSeconds=0` and a UID precondition;
/// - a pod whose ConfigMap/Secret/token is missing stays Pending with the
///   reason and an Event, and is retried with exponential backoff.
public actor PodController {
    public static let apiCalls: [KubeAPICall] = [
        KubeAPICall("list", "pods"), KubeAPICall("watch", "pods"), KubeAPICall("delete", "pods"),
        KubeAPICall("patch", "pods/status"), KubeAPICall("create", "events"),
    ]

    private let client: KubeClient
    private let core: any PodAPI
    private let view: StatusView
    private let resolver: PodResolver
    private let nodeName: String
    private let hostIP: String
    /// UIDs of the pods this node put into the core (persisted): only those are
    /// deleted on the backend when the API server no longer has them, so pods
    /// created through the REST API (`ctl`) are left alone.
    private let owned: OwnedPods
    /// Pods waiting for a missing reference: next attempt and failures so far.
    private var retries: [String: (pod: APIPod, failures: Int, at: ContinuousClock.Instant, reason: String)] = [:]
    /// Pods being deleted: the API object to remove once the backend confirms.
    private var deleting: [String: (pod: APIPod, since: ContinuousClock.Instant)] = [:]
    /// Every pod bound to the node, as last seen.
    private var known: [String: APIPod] = [:]
    public private(set) var synced = false

    public init(client: KubeClient, core: any PodAPI, view: StatusView, nodeName: String, hostIP: String = "", stateFile: String? = nil) {
        self.client = client; self.core = core; self.view = view; self.nodeName = nodeName; self.hostIP = hostIP
        self.owned = OwnedPods(path: stateFile)
        self.resolver = PodResolver(client: client)
    }

    var podsPath: String { KubePath.core("pods", namespace: nil) }
    var fieldSelector: String { "spec.nodeName=" + nodeName }

    /// One list and reconcile, before the reconcile loop starts: what the
    /// journal lost is desired again before the loop could take running jobs for orphans.
    public func initialSync() async throws(KubeError) {
        let list = try await client.listAll(APIPod.self, podsPath, ListOptions(fieldSelector: fieldSelector), call: "list pods")
        await handle(.synced(list.items))
    }

    public func run() async {
        let watcher = ListWatcher<APIPod>(client: client, path: podsPath, resource: "pods", fieldSelector: fieldSelector)
        await withTaskGroup(of: Void.self) { g in
            g.addTask { await watcher.run { event in await self.handle(event) } }
            g.addTask { await self.housekeeping() }
        }
    }

    func handle(_ event: ListWatcher<APIPod>.Event) async {
        switch event {
        case .synced(let pods):
            let mine = pods.filter { $0.nodeName == nodeName }
            known = Dictionary(mine.map { ($0.uid, $0) }, uniquingKeysWith: { $1 })
            for p in mine { await process(p) }
            // Desired pods the API server no longer has: stop them on the backend.
            for (uid, st) in view.snapshot() where known[uid] == nil && owned.contains(uid) {
                Log.info("pod gone from the API server; deleting on the backend", ["pod": "\(st.namespace)/\(st.name)", "uid": uid])
                try? await core.delete(Pod(metadata: ObjectMeta(name: st.name, namespace: st.namespace, uid: uid)))
            }
            retries = retries.filter { known[$0.key] != nil }
            synced = true
        case .added(let p), .modified(let p):
            guard p.nodeName == nodeName else { return }
            known[p.uid] = p
            await process(p)
        case .deleted(let p):
            known[p.uid] = nil; retries[p.uid] = nil; deleting[p.uid] = nil
            if view.get(p.uid) != nil, owned.contains(p.uid) { try? await core.delete(p.pod) }
            owned.remove(p.uid)
        }
    }

    private func process(_ p: APIPod) async {
        if p.isDeleting {
            retries[p.uid] = nil
            if deleting[p.uid] == nil {
                deleting[p.uid] = (p, .now)
                Log.info("pod deleting; stopping it on the backend", ["pod": "\(p.pod.namespace)/\(p.pod.name)",
                                                                      "grace": String(p.deletionGracePeriodSeconds ?? 30)])
                do { try await core.delete(p.pod, gracePeriodSeconds: p.deletionGracePeriodSeconds) } catch {
                    Log.warn("backend delete not recorded; retrying", ["pod": p.pod.name, "error": error.description])
                    deleting[p.uid] = nil
                }
            }
            await finishDeletion(p.uid)
            return
        }
        if view.get(p.uid) != nil { return }     // known: the core reconciles it (adopts after a restart)
        if p.isFinished { return }              // done: stays until its owner removes it
        if let r = retries[p.uid], r.at > .now { return }
        await create(p)
    }

    private func create(_ p: APIPod) async {
        var request: PodCreateRequests
        do { request = try await resolver.resolve(p) } catch {
            let failures = (retries[p.uid]?.failures ?? 0) + 1
            let wait = Duration.milliseconds(min(300_000, 1000 << min(failures - 1, 9)))
            let previous = retries[p.uid]?.reason
            retries[p.uid] = (p, failures, .now + wait, error.message)
            Log.warn("pod cannot start yet; retrying", ["pod": "\(p.pod.namespace)/\(p.pod.name)", "why": error.message, "wait": "\(wait)"])
            if previous != error.message { await reportPending(p, error) }
            return
        }
        retries[p.uid] = nil
        // Volatile metadata out: a status write changes the resourceVersion, not the pod to run.
        request.pod.metadata.resourceVersion = nil
        owned.insert(p.uid)
        do { _ = try await core.create(request) } catch {
            Log.warn("pod not accepted by the core", ["pod": "\(p.pod.namespace)/\(p.pod.name)", "error": error.description])
            retries[p.uid] = (p, 1, .now + .seconds(5), error.description)
            return
        }
        // kubelet sets hostIP; the pod runs behind this node, so podIP is the node's address too.
        if !hostIP.isEmpty && p.hostIP != hostIP {
            struct Meta: Encodable { var uid: String }
            struct St: Encodable { var hostIP: String; var podIP: String }
            struct Patch: Encodable { var metadata: Meta; var status: St }
            let body = Patch(metadata: Meta(uid: p.uid), status: St(hostIP: hostIP, podIP: hostIP))
            _ = try? await client.patch(Ignored.self, KubePath.core("pods", namespace: p.pod.namespace, name: p.pod.name, subresource: "status"),
                                        .strategicMerge, body: try WireJSON.encode(body), call: "patch pods/status")
        }
    }

    /// The API object goes once the backend no longer runs the pod.
    private func finishDeletion(_ uid: String) async {
        guard let d = deleting[uid] else { return }
        if let st = view.get(uid), !st.containers.isEmpty,
           !st.containers.allSatisfy({ $0.state.terminated != nil }) {
            return  // still running on the backend
        }
        let pod = d.pod.pod
        do {
            try await client.delete(KubePath.core("pods", namespace: pod.namespace, name: pod.name),
                                    preconditions: Preconditions(uid: uid), gracePeriodSeconds: 0, call: "delete pods")
            Log.info("pod deleted", ["pod": "\(pod.namespace)/\(pod.name)", "uid": uid])
            deleting[uid] = nil; owned.remove(uid)
        } catch {
            if error.isNotFound || error.isConflict { deleting[uid] = nil; owned.remove(uid); return }  // gone, or another pod now
            Log.warn("pod delete failed; retrying", ["pod": pod.name, "error": error.description])
        }
    }

    /// Retries due and deletions waiting on the backend, once a second.
    private func housekeeping() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(1)) } catch { return }
            for uid in Array(deleting.keys) { await finishDeletion(uid) }
            for (uid, r) in retries where r.at <= .now { if let p = known[uid] { await process(p) } else { retries[uid] = nil } }
        }
    }

    /// Pending with the reason on the pod and an Event, as kubelet shows a missing ConfigMap.
    private func reportPending(_ p: APIPod, _ e: ResolveError) async {
        let pod = p.pod
        struct Waiting: Encodable { var reason: String; var message: String }
        struct State: Encodable { var waiting: Waiting }
        struct CS: Encodable { var name: String; var image: String; var ready = false; var restartCount = 0; var state: State }
        struct Cond: Encodable { var type: String; var status: String; var reason: String?; var message: String? }
        struct Status: Encodable { var phase = "Pending"; var conditions: [Cond]; var containerStatuses: [CS] }
        struct Meta: Encodable { var uid: String }
        struct Patch: Encodable { var metadata: Meta; var status: Status }
        let cs = pod.containers.map { CS(name: $0.name, image: $0.image, state: State(waiting: Waiting(reason: e.reason, message: e.message))) }
        let body = Patch(metadata: Meta(uid: pod.uid),
                         status: Status(conditions: [Cond(type: "PodScheduled", status: "True", reason: nil, message: nil),
                                                     Cond(type: "Ready", status: "False", reason: "ContainersNotReady", message: e.message)],
                                        containerStatuses: cs))
        do {
            _ = try await client.patch(Ignored.self, KubePath.core("pods", namespace: pod.namespace, name: pod.name, subresource: "status"),
                                       .strategicMerge, body: try WireJSON.encode(body), call: "patch pods/status")
        } catch { Log.debug("pending status not written", ["pod": pod.name, "error": "\(error)"]) }
        await event(pod, type: "Warning", reason: e.reason == "CreateContainerConfigError" ? "Failed" : e.reason, message: e.message)
    }

    private func event(_ pod: Pod, type: String, reason: String, message: String) async {
        struct Ref: Encodable { var kind = "Pod"; var apiVersion = "v1"; var namespace: String; var name: String; var uid: String }
        struct Source: Encodable { var component = "interlink"; var host: String }
        struct Meta: Encodable { var name: String; var namespace: String }
        struct Ev: Encodable {
            var apiVersion = "v1"; var kind = "Event"; var metadata: Meta; var involvedObject: Ref
            var reason: String; var message: String; var type: String; var count = 1
            var firstTimestamp: String; var lastTimestamp: String; var source: Source
            var reportingComponent = "interlink"; var reportingInstance: String
        }
        let now = RFC3339.now()
        let name = "\(pod.name).\(String(UInt64(Date().timeIntervalSince1970 * 1e9), radix: 16))"
        let ev = Ev(metadata: Meta(name: name, namespace: pod.namespace),
                    involvedObject: Ref(namespace: pod.namespace, name: pod.name, uid: pod.uid),
                    reason: reason, message: String(message.prefix(1000)), type: type, firstTimestamp: now, lastTimestamp: now,
                    source: Source(host: nodeName), reportingInstance: nodeName)
        do {
            _ = try await client.create(Ignored.self, KubePath.core("events", namespace: pod.namespace), body: try WireJSON.encode(ev), call: "create events")
        } catch { Log.debug("event not recorded", ["pod": pod.name, "error": "\(error)"]) }
    }

    /// For tests: pods waiting on a missing reference, with the reason.
    public func pendingReasons() -> [String: String] { retries.mapValues { $0.reason } }
}

struct Ignored: Decodable {}
