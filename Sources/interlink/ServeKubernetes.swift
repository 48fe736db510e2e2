import Config
import FoundationEssentials
import KubeClient
import Model
import Providers
import Reconciler
import StatusPatcher
import Support

/// `serve`'s Kubernetes side: the status patcher when `Kubernetes.PatchStatus`
/// is on (nil otherwise), and the API core with its metrics added.
enum ServeKubernetes {
    static func statusPatcher(_ config: InterLinkConfig, environment: [String: String],
                              source: any PodStatusSource) throws(KubeError) -> StatusPatcher? {
        let k = config.kubernetes
        guard k.patchStatus else { return nil }
        let options = KubeConnectionOptions(kubeconfig: k.kubeconfig, context: k.context, server: k.server,
                                            tokenFile: k.tokenFile, caFile: k.caFile,
                                            insecureSkipTLSVerify: k.insecureSkipTLSVerify)
        let connection = try KubeConnectionResolver.resolve(options, environment: environment)
        Log.info("patching pod status on the API server", ["server": connection.server, "from": connection.source,
                                                           "qps": String(k.qps), "burst": String(k.burst)])
        return StatusPatcher(client: KubeClient(connection: connection, qps: k.qps, burst: k.burst), source: source)
    }
}

/// The reconciler's API with the status patcher's counters added to `/metrics`.
struct PodAPIWithPatcherMetrics: PodAPI {
    let core: any PodAPI
    let patcher: StatusPatcher

    func create(_ request: PodCreateRequests) async throws(PodAPIError) -> CreateStruct { try await core.create(request) }
    func delete(_ pod: Pod) async throws(PodAPIError) { try await core.delete(pod) }
    func delete(_ pod: Pod, gracePeriodSeconds: Int64?) async throws(PodAPIError) {
        try await core.delete(pod, gracePeriodSeconds: gracePeriodSeconds)
    }
    func status(_ pods: [Pod]) async -> [PodStatus] { await core.status(pods) }
    func logs(_ request: LogStruct) async throws(PodAPIError) -> LogStream { try await core.logs(request) }
    func ping() async throws(PodAPIError) -> PingResponse? { try await core.ping() }
    func updateCache(_ pod: Pod) async { await core.updateCache(pod) }
    func metrics() async -> String { await core.metrics() + patcher.metricsText() }
    func isReady() async -> Bool { await core.isReady() }
}
