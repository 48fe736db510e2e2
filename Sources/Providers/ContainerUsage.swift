import FoundationEssentials

/// CPU and memory of one running container, as its backend measured them, for
/// the kubelet API's `/stats/summary` (`kubectl top`). A backend that cannot
/// measure leaves the numbers nil: unknown, never made up.
public struct ContainerUsage: Sendable, Equatable {
    public var podUID: String
    public var container: String
    /// CPU in nanocores (1,000,000,000 = one core busy), over the backend's sampling window.
    public var cpuNanoCores: UInt64?
    /// Memory in use, in bytes.
    public var memoryBytes: UInt64?
    /// When the backend took the sample (RFC 3339).
    public var time: String

    public init(podUID: String, container: String, cpuNanoCores: UInt64?, memoryBytes: UInt64?, time: String) {
        self.podUID = podUID; self.container = container
        self.cpuNanoCores = cpuNanoCores; self.memoryBytes = memoryBytes; self.time = time
    }
}

/// A backend that can measure what its running containers use.
public protocol UsageReporting: Sendable {
    /// Every running container of this provider's pods, in a number of backend
    /// commands that does not grow with the number of pods.
    func usage() async throws -> [ContainerUsage]
}

extension RoutingProvider: UsageReporting {
    /// The usage of every backend that measures it; one that fails is left out
    /// (its pods read as unknown) rather than failing the whole summary.
    public func usage() async throws -> [ContainerUsage] {
        await withTaskGroup(of: [ContainerUsage].self) { group in
            for b in backends {
                guard let reporter = b.provider as? any UsageReporting else { continue }
                group.addTask { (try? await reporter.usage()) ?? [] }
            }
            var all: [ContainerUsage] = []
            for await part in group { all += part }
            return all
        }
    }
}
