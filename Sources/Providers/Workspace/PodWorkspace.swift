import FoundationEssentials
import Model

/// A host directory bound into one container.
public struct Mount: Sendable, Equatable, Codable {
    public var hostPath: String
    public var containerPath: String
    public var readOnly: Bool
    public init(hostPath: String, containerPath: String, readOnly: Bool) {
        self.hostPath = hostPath; self.containerPath = containerPath; self.readOnly = readOnly
    }
}

/// What `PodWorkspace.materialise` produced: the mounts of each container
/// (init and main, by container name), `subPath` already applied.
public struct MaterialisedPod: Sendable, Equatable {
    public var mounts: [String: [Mount]]
    public init(mounts: [String: [Mount]] = [:]) { self.mounts = mounts }
}

/// The per-pod directory `DataRootFolder/<namespace>-<uid>/` where ConfigMaps,
/// Secrets (files 0600 unless `defaultMode` says otherwise), projected volumes
/// and emptyDirs are written, shared by the Docker and Slurm providers.
/// STUB: bodies are filled in by the workspace work.
public struct PodWorkspace: Sendable {
    public let root: String

    public init(dataRoot: String, namespace: String, uid: String) {
        root = dataRoot.hasSuffix("/") ? "\(dataRoot)\(namespace)-\(uid)" : "\(dataRoot)/\(namespace)-\(uid)"
    }

    /// Writes every volume of the pod and returns each container's mounts.
    /// Idempotent; emptyDirs keep their content when called again (restarts).
    /// Throws `.invalidPod` for a missing non-optional ConfigMap/Secret, an
    /// unsupported volume type, or a hostPath when not allowed.
    public func materialise(_ pod: DesiredPod, allowHostPath: Bool) throws(ProviderError) -> MaterialisedPod {
        throw .unavailable("PodWorkspace.materialise is not implemented yet")
    }

    /// Removes the whole pod directory. Idempotent.
    public func remove() throws(ProviderError) {
        throw .unavailable("PodWorkspace.remove is not implemented yet")
    }
}
