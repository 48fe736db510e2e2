import FoundationEssentials
import Model
import Synchronization

/// A provider that drives a plugin ("sidecar") over the interLink -> plugin
/// REST API (WIRE.md): ours (`interlink sidecar`) or an upstream one (Slurm,
/// Docker, HTCondor plugins).
///
/// - `create` sends `POST /create` with `RetrievedPodData`; the plugin's job id
///   (or the pod UID until the plugin reports one in `/status`) is the job id.
/// - `observe` asks about every pod it created in ONE `GET /status` with a
///   `[Pod]` body. A pod the plugin answers with no container state (or not at
///   all) is not observed: it is unknown to the plugin (e.g. the plugin
///   restarted and forgot it), so the reconciler re-adopts or re-creates it per
///   restartPolicy. Any failure of the call throws, so the reconciler keeps the
///   last known state instead of declaring every pod lost.
/// - `ping` is `GET /status` with `[]`, as upstream pings; an answer that is a
///   `PingResponse` object gives the capacity.
/// - Errors, timeouts and non-JSON answers become `ProviderError`s naming the plugin.
public final class RemoteProvider: Provider {
    public let name: String
    let transport: PluginTransport
    let index: RemotePodIndex
    let dataRoot: String
    private let counters = Mutex((commands: 0, session: 0))

    /// - Parameters:
    ///   - name: the backend's name (in logs, and in the index directory name).
    ///   - stateDirectory: where the pod index lives (created on first use).
    public init(name: String = "remote", endpoint: PluginEndpoint, stateDirectory: String, dataRoot: String) {
        self.name = name
        transport = PluginTransport(endpoint: endpoint)
        index = RemotePodIndex(directory: stateDirectory)
        self.dataRoot = dataRoot
    }

    public var commandCount: Int { counters.withLock { $0.commands } }
    public var endpoint: PluginEndpoint { transport.endpoint }

    /// Counts a call and names its session the way the VK does (`<Op>#<n>`).
    func session(_ op: String) -> String {
        let n = counters.withLock { c -> Int in c.commands += 1; c.session += 1; return c.session }
        return "\(op)#\(n)"
    }

    public func create(_ desired: DesiredPod) async throws -> String {
        let uid = desired.uid
        // Recorded first: a pod the plugin may have is always asked about.
        let known = index.entry(uid)
        if known == nil || known!.attempt != desired.attempt {
            try index.put(RemotePodEntry(pod: desired.pod, attempt: desired.attempt, jobID: uid))
        }
        let body = try WireJSON.encode(RetrievedPodBuilder.build(desired.request, dataRoot: dataRoot))
        let answer = try await transport.send("POST", "/create", body: body, session: session("CreatePod"))
        guard answer.status == 200 else {
            throw PluginErrors.status(answer.status, body: answer.body, call: "POST /create", endpoint: endpoint)
        }
        // Upstream plugins answer one CreateStruct; some answer an array of them.
        var jobID = ""
        if let one = try? WireJSON.decode(CreateStruct.self, from: answer.body) { jobID = one.PodJID }
        else if let many = try? WireJSON.decode([CreateStruct].self, from: answer.body) {
            jobID = many.first { $0.PodUID == uid }?.PodJID ?? many.first?.PodJID ?? ""
        } else if !answer.body.isEmpty {
            do { _ = try WireJSON.decode(CreateStruct.self, from: answer.body) } catch {
                throw PluginErrors.notJSON(answer.body, expected: "a CreateStruct", call: "POST /create", endpoint: endpoint, error)
            }
        }
        if jobID.isEmpty { jobID = uid }
        try index.put(RemotePodEntry(pod: desired.pod, attempt: desired.attempt, jobID: jobID))
        return jobID
    }

    public func observe() async throws -> [JobObservation] {
        let entries = index.all
        guard !entries.isEmpty else { return [] }
        let pods = entries.keys.sorted().map { entries[$0]!.pod }
        let statuses = try await status(pods, session: session("GetStatus"))
        var out: [JobObservation] = []
        for st in statuses {
            guard var e = entries[st.UID] else { continue }
            // The plugin may name the backend job only once it exists (our
            // sidecar creates asynchronously): adopt the id it reports, so
            // /status shows the real Slurm job or container id.
            if !st.JID.isEmpty && st.JID != e.jobID && !(st.containers + st.initContainers).isEmpty {
                e.jobID = st.JID
                try? index.put(e)
            }
            if let o = Self.observation(st, entry: e) { out.append(o) }
        }
        return out
    }

    /// One `/status` round trip for these pods.
    func status(_ pods: [Pod], session: String) async throws -> [PodStatus] {
        let answer = try await transport.send("GET", "/status", body: try WireJSON.encode(pods), session: session)
        guard answer.status == 200 else {
            throw PluginErrors.status(answer.status, body: answer.body, call: "GET /status", endpoint: endpoint)
        }
        do { return try WireJSON.decode([PodStatus].self, from: answer.body) } catch {
            throw PluginErrors.notJSON(answer.body, expected: "a JSON array of PodStatus", call: "GET /status", endpoint: endpoint, error)
        }
    }

    /// The plugin's status as the reconciler's observation, or nil when the
    /// plugin knows nothing of the pod (no container state at all).
    static func observation(_ st: PodStatus, entry: RemotePodEntry) -> JobObservation? {
        let all = st.containers + st.initContainers
        guard !all.isEmpty, all.contains(where: { $0.state != ContainerState() }) else { return nil }
        let pod = entry.pod
        let mains = pod.containers.map(\.name)
        // In spec order, as the reconciler expects; containers the pod does not have are dropped.
        let ordered = mains.isEmpty ? st.containers : mains.compactMap { n in st.containers.first { $0.name == n } }
        let state: JobState
        if !ordered.isEmpty && ordered.count == mains.count && ordered.allSatisfy({ $0.state.terminated != nil }) {
            state = .finished
        } else if ordered.contains(where: { $0.state.running != nil }) {
            state = .running
        } else {
            state = .pending
        }
        let message = ordered.compactMap { $0.state.waiting?.message ?? $0.state.terminated?.message }.first
        return JobObservation(podUID: pod.uid, namespace: pod.namespace, name: pod.name, jobID: entry.jobID,
                              attempt: entry.attempt, state: state, containers: ordered,
                              initContainers: st.initContainers, message: message)
    }

    public func delete(_ job: JobRef) async throws {
        let pod = job.pod ?? index.entry(job.podUID)?.pod
            ?? Pod(metadata: ObjectMeta(name: job.name, namespace: job.namespace, uid: job.podUID))
        let answer = try await transport.send("POST", "/delete", body: try WireJSON.encode(pod), session: session("DeletePod"))
        // Deleting what the plugin does not have is done.
        guard answer.status == 200 || answer.status == 404 else {
            throw PluginErrors.status(answer.status, body: answer.body, call: "POST /delete", endpoint: endpoint)
        }
        // An orphan (the reconciler has no record, so it passes no pod) is never
        // cleaned up through `cleanup`: stop asking the plugin about it now.
        if job.pod == nil { index.remove(job.podUID) }
    }

    public func cleanup(_ job: JobRef) async throws {
        index.remove(job.podUID)
    }

    public func logs(_ job: JobRef, container: String, options: LogOpts) async throws -> LogStream {
        let req = LogStruct(Namespace: job.namespace, PodUID: job.podUID, PodName: job.name,
                            ContainerName: container, Opts: options)
        let body = try WireJSON.encode(GoLogStruct(req))
        return transport.stream("GET", "/getLogs", body: body, session: session("GetLogs"))
    }

    public func ping() async throws -> PingResponse? {
        let answer = try await transport.send("GET", "/status", body: Data("[]".utf8), session: session("Ping"))
        guard answer.status == 200 else {
            throw PluginErrors.status(answer.status, body: answer.body, call: "GET /status (ping)", endpoint: endpoint)
        }
        // Plugins that report capacity answer a PingResponse object; others `[]` or text.
        if let p = try? WireJSON.decode(PingResponse.self, from: answer.body) { return p }
        return nil
    }
}

/// `LogStruct` as the upstream Go server encodes it: every field present and
/// `SinceTime` (a Go `time.Time`) the zero time when unset, so a plugin that
/// parses it as a time always gets one.
struct GoLogStruct: Encodable {
    let value: LogStruct
    init(_ value: LogStruct) { self.value = value }

    enum Keys: String, CodingKey { case Namespace, PodUID, PodName, ContainerName, Opts }
    enum OptKeys: String, CodingKey { case Tail, Bytes, Timestamps, Follow, Previous, SinceSeconds, SinceTime }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(value.Namespace, forKey: .Namespace)
        try c.encode(value.PodUID, forKey: .PodUID)
        try c.encode(value.PodName, forKey: .PodName)
        try c.encode(value.ContainerName, forKey: .ContainerName)
        var o = c.nestedContainer(keyedBy: OptKeys.self, forKey: .Opts)
        let opts = value.Opts
        try o.encode(opts.Tail, forKey: .Tail)
        try o.encode(opts.Bytes, forKey: .Bytes)
        try o.encode(opts.Timestamps, forKey: .Timestamps)
        try o.encode(opts.Follow, forKey: .Follow)
        try o.encode(opts.Previous, forKey: .Previous)
        try o.encode(opts.SinceSeconds, forKey: .SinceSeconds)
        try o.encode(opts.SinceTime ?? "0001-01-01T00:00:00Z", forKey: .SinceTime)
    }
}
