import FoundationEssentials
import KubeClient
import Model
import Support

/// client-go's leaderelection on a coordination.k8s.io Lease:
/// - a candidate takes the lease when it has no holder, or when the record it
///   last observed has not changed for `leaseDuration` (measured on the
///   candidate's own clock from when it saw the change, never by comparing
///   clocks across machines);
/// - the leader renews every `retryPeriod`; if no renewal succeeds for
///   `renewDeadline` it stops leading (the caller exits, so two leaders can
///   never act at once for longer than the lease allows);
/// - writes are optimistic (PUT with resourceVersion): of two candidates only one wins.
public actor LeaderElector {
    public static let apiCalls: [KubeAPICall] = [
        KubeAPICall("get", "leases", group: "coordination.k8s.io"),
        KubeAPICall("create", "leases", group: "coordination.k8s.io"),
        KubeAPICall("update", "leases", group: "coordination.k8s.io"),
    ]

    let client: KubeClient
    let namespace: String
    let name: String
    public let identity: String
    let leaseDuration: Double, renewDeadline: Double, retryPeriod: Double
    private var observed: LeaseObject?
    private var observedAt = ContinuousClock.now

    public init(client: KubeClient, namespace: String, name: String, identity: String,
                leaseDuration: Double, renewDeadline: Double, retryPeriod: Double) {
        self.client = client; self.namespace = namespace; self.name = name; self.identity = identity
        self.leaseDuration = leaseDuration; self.renewDeadline = renewDeadline; self.retryPeriod = retryPeriod
    }

    var path: String { KubePath.group("coordination.k8s.io", "v1", "leases", namespace: namespace, name: name) }

    /// Returns once this candidate leads; throws `.cancelled` when its task is cancelled.
    public func acquire() async throws(KubeError) {
        var logged = false
        while true {
            if Task.isCancelled { throw .cancelled }
            do { if try await tryAcquireOrRenew() { Log.info("became leader", ["lease": "\(namespace)/\(name)", "identity": identity]); return } }
            catch { if case .cancelled = error { throw error }; Log.debug("leader election attempt failed", ["error": error.description]) }
            if !logged, let h = observed?.spec?.holderIdentity {
                Log.info("standing by; another replica leads", ["lease": "\(namespace)/\(name)", "leader": h]); logged = true
            }
            do { try await Task.sleep(for: jittered(retryPeriod)) } catch { throw .cancelled }
        }
    }

    /// Renews until cancelled (returns normally) or until leadership is lost (returns false).
    public func holdLeadership() async -> Bool {
        var lastRenew = ContinuousClock.now
        while !Task.isCancelled {
            do { try await Task.sleep(for: .milliseconds(Int(retryPeriod * 1000))) } catch { return true }
            do {
                if try await tryAcquireOrRenew() { lastRenew = .now; continue }
                Log.error("leadership taken by another replica", ["leader": observed?.spec?.holderIdentity ?? "?"])
                return false
            } catch {
                if case .cancelled = error { return true }
                if ContinuousClock.now - lastRenew > .milliseconds(Int(renewDeadline * 1000)) {
                    Log.error("leader lease not renewed within the renew deadline", ["error": error.description])
                    return false
                }
            }
        }
        return true
    }

    /// One client-go `tryAcquireOrRenew`.
    func tryAcquireOrRenew() async throws(KubeError) -> Bool {
        let now = MicroTime.string(Date())
        let current: LeaseObject
        do { current = try await client.get(LeaseObject.self, path, call: "get coordination.k8s.io/leases") } catch {
            guard error.isNotFound else { throw error }
            let l = LeaseObject(metadata: .init(name: name, namespace: namespace),
                                spec: .init(holderIdentity: identity, leaseDurationSeconds: Int(leaseDuration.rounded(.up)),
                                            acquireTime: now, renewTime: now, leaseTransitions: 0))
            do {
                observed = try await client.create(LeaseObject.self, KubePath.group("coordination.k8s.io", "v1", "leases", namespace: namespace),
                                                   body: try encode(l), call: "create coordination.k8s.io/leases")
                observedAt = .now
                return true
            } catch { if error.isConflict { return false }; throw error }
        }
        if current.spec != observed?.spec { observed = current; observedAt = .now }
        let holder = current.spec?.holderIdentity ?? ""
        let duration = Double(current.spec?.leaseDurationSeconds ?? Int(leaseDuration))
        if !holder.isEmpty && holder != identity && ContinuousClock.now - observedAt < .milliseconds(Int(duration * 1000)) {
            return false  // held by another and not expired
        }
        var l = current
        var spec = l.spec ?? .init()
        if holder != identity {
            spec.acquireTime = now
            spec.leaseTransitions = (spec.leaseTransitions ?? 0) + 1
        }
        spec.holderIdentity = identity
        spec.leaseDurationSeconds = Int(leaseDuration.rounded(.up))
        spec.renewTime = now
        l.spec = spec
        do {
            observed = try await client.replace(LeaseObject.self, path, body: try encode(l), call: "update coordination.k8s.io/leases")
            observedAt = .now
            return true
        } catch { if error.isConflict { return false }; throw error }
    }

    private func jittered(_ s: Double) -> Duration { .milliseconds(Int(s * 1000 * Double.random(in: 1.0...1.2))) }

    private func encode<T: Encodable>(_ v: T) throws(KubeError) -> Data {
        do { return try WireJSON.encode(v) } catch { throw .invalidRequest("\(error)") }
    }
}
