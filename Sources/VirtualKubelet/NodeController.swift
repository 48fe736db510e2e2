import FoundationEssentials
import KubeClient
import Model
import Reconciler
import Support

/// The Node object and its heartbeat, split the way kubelet splits them: the
/// Lease in kube-node-lease is renewed every `nodeLeaseRenew` (cheap), the
/// Node's status is written when something in it changed and at least every
/// `nodeStatusMaxInterval` (heartbeat times). Readiness and capacity come
/// from the provider's ping: no answer means `Ready=False` with a reason.
public actor NodeController {
    public static let apiCalls: [KubeAPICall] = [
        KubeAPICall("get", "nodes"), KubeAPICall("create", "nodes"), KubeAPICall("patch", "nodes"),
        KubeAPICall("patch", "nodes/status"),
        KubeAPICall("get", "leases", group: "coordination.k8s.io"),
        KubeAPICall("create", "leases", group: "coordination.k8s.io"),
        KubeAPICall("update", "leases", group: "coordination.k8s.io"),
    ]

    private let client: KubeClient
    private let core: any PodAPI
    private let settings: VKSettings
    private var nodeUID: String?
    private var lease: LeaseObject?
    /// The status last written, without heartbeat times (to see changes).
    private var lastWritten: NodeStatusBody?
    private var lastWriteAt: ContinuousClock.Instant?
    private var transitions: [String: String] = [:]
    /// For tests and metrics.
    public private(set) var statusWrites = 0
    public private(set) var leaseWrites = 0

    public init(client: KubeClient, core: any PodAPI, settings: VKSettings) {
        self.client = client; self.core = core; self.settings = settings
    }

    /// Registers the node, then keeps lease and status fresh until cancelled.
    public func run() async {
        while !Task.isCancelled {
            do { try await register(); break } catch {
                Log.warn("node registration failed; retrying", ["node": settings.nodeName, "error": "\(error)"])
                try? await Task.sleep(for: .seconds(2))
            }
        }
        await withTaskGroup(of: Void.self) { g in
            g.addTask { await self.leaseLoop() }
            g.addTask { await self.statusLoop() }
        }
    }

    func register() async throws(KubeError) {
        let path = KubePath.core("nodes", namespace: nil)
        let node = NodeObject(metadata: NodeMeta(name: settings.nodeName, labels: settings.labels),
                              spec: NodeSpecBody(taints: settings.taints), status: nil)
        do {
            let body = try encode(node)
            let a = try await client.create(NodeAnswer.self, path, body: body, call: "create nodes")
            nodeUID = a.metadata.uid
            Log.info("node registered", ["node": settings.nodeName])
        } catch let e where e.isConflict {
            // Already there (a restart, or the other replica): make labels and taints ours.
            struct Patch: Encodable { var metadata: NodeMeta; var spec: NodeSpecBody }
            let body = try encode(Patch(metadata: NodeMeta(name: settings.nodeName, labels: settings.labels),
                                        spec: NodeSpecBody(taints: settings.taints)))
            let a = try await client.patch(NodeAnswer.self, KubePath.core("nodes", namespace: nil, name: settings.nodeName),
                                           .merge, body: body, call: "patch nodes")
            nodeUID = a.metadata.uid
            Log.info("node updated", ["node": settings.nodeName])
        }
        try await writeStatus(force: true)
    }

    private func leaseLoop() async {
        while !Task.isCancelled {
            do { try await renewLease() } catch {
                lease = nil  // read afresh next time
                Log.warn("node lease renewal failed", ["node": settings.nodeName, "error": "\(error)"])
            }
            do { try await Task.sleep(for: settings.nodeLeaseRenew) } catch { return }
        }
    }

    func renewLease() async throws(KubeError) {
        let ns = "kube-node-lease"
        let now = MicroTime.string(Date())
        if lease == nil {
            do {
                lease = try await client.get(LeaseObject.self, KubePath.group("coordination.k8s.io", "v1", "leases", namespace: ns, name: settings.nodeName),
                                             call: "get coordination.k8s.io/leases")
            } catch let e where e.isNotFound {
                var l = LeaseObject(metadata: .init(name: settings.nodeName, namespace: ns),
                                    spec: .init(holderIdentity: settings.nodeName, leaseDurationSeconds: settings.nodeLeaseDurationSeconds, renewTime: now))
                if let uid = nodeUID {
                    l.metadata.ownerReferences = [.init(apiVersion: "v1", kind: "Node", name: settings.nodeName, uid: uid)]
                }
                lease = try await client.create(LeaseObject.self, KubePath.group("coordination.k8s.io", "v1", "leases", namespace: ns),
                                                body: try encode(l), call: "create coordination.k8s.io/leases")
                leaseWrites += 1
                return
            }
        }
        guard var l = lease else { return }
        var spec = l.spec ?? .init()
        spec.holderIdentity = settings.nodeName
        spec.leaseDurationSeconds = settings.nodeLeaseDurationSeconds
        spec.renewTime = now
        l.spec = spec
        lease = try await client.replace(LeaseObject.self, KubePath.group("coordination.k8s.io", "v1", "leases", namespace: ns, name: settings.nodeName),
                                         body: try encode(l), call: "update coordination.k8s.io/leases")
        leaseWrites += 1
    }

    private func statusLoop() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: settings.pingInterval) } catch { return }
            do { try await writeStatus(force: false) } catch {
                Log.warn("node status write failed", ["node": settings.nodeName, "error": "\(error)"])
            }
        }
    }

    /// Pings the backend, builds the status, writes it if it changed or the heartbeat is due.
    func writeStatus(force: Bool) async throws(KubeError) {
        var ready = true
        var reason = "KubeletReady", message = "interlink is posting ready status; backend \(settings.providerName) answers"
        var ping: PingResponse? = nil
        do { ping = try await core.ping() } catch {
            ready = false
            reason = "BackendUnreachable"
            message = "the \(settings.providerName) backend does not answer: \(error.description)"
        }
        let status = NodeStatusBuilder.build(settings: settings, ping: ping, ready: ready, reason: reason, message: message)
        let due = lastWriteAt.map { ContinuousClock.now - $0 >= settings.nodeStatusMaxInterval } ?? true
        guard force || due || status != lastWritten else { return }
        let now = RFC3339.now()
        var stamped = status
        for i in stamped.conditions.indices {
            let c = stamped.conditions[i]
            let key = c.type + "=" + c.status
            if lastWritten?.conditions.first(where: { $0.type == c.type })?.status != c.status || transitions[c.type] == nil {
                transitions[c.type] = now
            }
            _ = key
            stamped.conditions[i].lastHeartbeatTime = now
            stamped.conditions[i].lastTransitionTime = transitions[c.type]
        }
        struct Patch: Encodable { var status: NodeStatusBody }
        _ = try await client.patch(NodeAnswer.self, KubePath.core("nodes", namespace: nil, name: settings.nodeName, subresource: "status"),
                                   .merge, body: try encode(Patch(status: stamped)), call: "patch nodes/status")
        if status.conditions != lastWritten?.conditions {
            Log.info("node status", ["node": settings.nodeName, "ready": ready ? "True" : "False", "reason": reason])
        }
        lastWritten = status
        lastWriteAt = .now
        statusWrites += 1
    }

    private func encode<T: Encodable>(_ v: T) throws(KubeError) -> Data {
        do { return try WireJSON.encode(v) } catch { throw .invalidRequest("\(error)") }
    }
}

/// The node status from settings and the backend's ping (no times: the
/// controller stamps them, so two builds compare equal when nothing changed).
enum NodeStatusBuilder {
    /// What a node shows when neither the provider nor the config says more:
    /// upstream's defaults, so pods with requests still schedule.
    static let fallbackCapacity = ["cpu": "100", "memory": "3000Gi", "pods": "110"]

    static func build(settings: VKSettings, ping: PingResponse?, ready: Bool, reason: String, message: String) -> NodeStatusBody {
        var cap = fallbackCapacity
        if let r = ping?.resources {
            if !r.cpu.isEmpty { cap["cpu"] = r.cpu }
            if !r.memory.isEmpty { cap["memory"] = r.memory }
            if !r.pods.isEmpty { cap["pods"] = r.pods }
            for a in r.accelerators ?? [] where !a.resourceType.isEmpty { cap[a.resourceType] = a.available }
        }
        for (k, v) in settings.capacity { cap[k] = v }
        let pressure = ready ? "False" : "Unknown"
        let conditions = [
            NodeCondition(type: "Ready", status: ready ? "True" : "False", reason: reason, message: message),
            NodeCondition(type: "MemoryPressure", status: pressure, reason: ready ? "KubeletHasSufficientMemory" : "BackendUnreachable",
                          message: ready ? "the backend reports no memory pressure" : "the backend does not answer"),
            NodeCondition(type: "DiskPressure", status: pressure, reason: ready ? "KubeletHasNoDiskPressure" : "BackendUnreachable",
                          message: ready ? "the backend reports no disk pressure" : "the backend does not answer"),
            NodeCondition(type: "PIDPressure", status: pressure, reason: ready ? "KubeletHasSufficientPID" : "BackendUnreachable",
                          message: ready ? "the backend reports no PID pressure" : "the backend does not answer"),
            NodeCondition(type: "NetworkUnavailable", status: "False", reason: "RouteCreated", message: "no pod network to configure"),
        ]
        #if arch(arm64)
        let arch = "arm64"
        #else
        let arch = "amd64"
        #endif
        return NodeStatusBody(capacity: cap, allocatable: cap, conditions: conditions,
                              addresses: [NodeAddress(type: "InternalIP", address: settings.internalIP),
                                          NodeAddress(type: "Hostname", address: settings.nodeName)],
                              daemonEndpoints: .init(kubeletEndpoint: .init(Port: settings.kubeletPort)),
                              nodeInfo: .init(containerRuntimeVersion: "interlink://\(settings.providerName)",
                                              kubeletVersion: "v1.31.0-interlink-\(settings.version)", architecture: arch))
    }
}
