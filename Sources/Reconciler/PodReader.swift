import FoundationEssentials
import Model
import Providers
import Support

/// The read side: `/status`, `/getLogs`, `/pinglink`, `/metrics` and
/// readiness. Statuses come from the `StatusView` without waiting for the
/// loop; logs and ping are the only calls that reach the backend.
final class PodReader: Sendable {
    private let provider: any Provider
    private let store: DesiredStore
    private let statusView: StatusView
    private let observed: ObservedJobs
    private let metricsRegistry: ReconcilerMetrics
    private let progress: LoopProgress

    init(provider: any Provider, store: DesiredStore, statusView: StatusView, observed: ObservedJobs,
         metrics: ReconcilerMetrics, progress: LoopProgress) {
        self.provider = provider
        self.store = store
        self.statusView = statusView
        self.observed = observed
        self.metricsRegistry = metrics
        self.progress = progress
    }

    func status(_ pods: [Pod]) -> [PodStatus] { statusView.get(pods) }

    func logs(_ request: LogStruct) async throws(PodAPIError) -> LogStream {
        guard let rec = await store.record(request.PodUID) else {
            throw .notFound("no pod with UID \(request.PodUID) is known to this InterLink")
        }
        let names = rec.pod.containers.map(\.name) + rec.pod.initContainers.map(\.name)
        guard names.contains(request.ContainerName) else {
            throw .notFound("pod \(rec.pod.namespace)/\(rec.pod.name) has no container named \"\(request.ContainerName)\"")
        }
        var ref = rec.jobRef
        if ref.jobID.isEmpty, let o = observed[rec.uid] { ref.jobID = o.jobID }
        metricsRegistry.backendCommand("logs")
        do {
            return try await provider.logs(ref, container: request.ContainerName, options: request.Opts)
        } catch let e as ProviderError {
            metricsRegistry.backendError("logs", e)
            if case .notFound(let m) = e { throw .notFound(m) }
            throw .unavailable(e.description)
        } catch {
            metricsRegistry.backendError("logs", error)
            throw .internal("reading logs failed: \(error)")
        }
    }

    func ping() async throws(PodAPIError) -> PingResponse? {
        metricsRegistry.backendCommand("ping")
        do { return try await provider.ping() } catch {
            metricsRegistry.backendError("ping", error)
            // The VK marks the node NotReady on a failed ping: no new pods for a dead backend.
            throw .unavailable("the \(provider.name) backend does not answer: \(error)")
        }
    }

    func metrics() async -> String {
        metricsRegistry.render(phases: statusView.phaseCounts(), provider: provider.name,
                               providerCommands: provider.commandCount, desiredPods: await store.count)
            + provider.metricsText
    }

    /// The desired state is loaded (it is, once this exists) and the loop has started.
    var isReady: Bool { progress.started }

    /// Whether an observe of the backend has succeeded since this process started:
    /// before that, statuses are only what the journal remembers.
    var hasObserved: Bool { progress.observed }
}
