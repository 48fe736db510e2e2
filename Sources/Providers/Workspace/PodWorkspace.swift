import FoundationEssentials
import Model
#if canImport(Glibc)
import Glibc
#endif

/// A host directory bound into one container.
public struct Mount: Sendable, Equatable, Codable {
    public var hostPath: String
    public var containerPath: String
    public var readOnly: Bool
    /// Set for a `subPath` mount: it must be resolved again right before the
    /// container starts, since an earlier container may have changed the volume.
    public var subPath: SubPathMount?
    public init(hostPath: String, containerPath: String, readOnly: Bool, subPath: SubPathMount? = nil) {
        self.hostPath = hostPath; self.containerPath = containerPath; self.readOnly = readOnly; self.subPath = subPath
    }
}

/// A `subPath` of a volume: `relative` under the volume's directory `base`.
/// Resolved without following any symbolic link (see
/// `WorkspaceFiles.resolveBeneath`), at create and again right before the
/// container starts: between the two an init container (or an earlier
/// incarnation) may have swapped a directory of an emptyDir for a link to `/`.
/// With `pin` set (Docker, `SubPathPinning` on), Docker binds `pin`, and the
/// inode the last walk reached is bind-mounted there right before the start
/// (`SubPathPins`), so no later swap can redirect it; without, what the last
/// check finds unsafe is refused and a swap after it is not seen.
public struct SubPathMount: Sendable, Equatable, Codable {
    public var base: String
    public var relative: String
    public var volume: String
    /// The path InterLink owns that Docker binds, for a pinned subPath.
    public var pin: String?

    public init(base: String, relative: String, volume: String, pin: String? = nil) {
        self.base = base; self.relative = relative; self.volume = volume; self.pin = pin
    }

    /// The host path to bind, or `.invalidPod` with the reason.
    public func resolve(container: String, createMissing: Bool = false) throws(ProviderError) -> String {
        let (path, fd) = try open(container: container, createMissing: createMissing)
        close(fd)
        return path
    }

    /// `resolve`, keeping what the walk reached open (an `O_PATH` descriptor the
    /// caller closes): the inode a pin binds.
    public func open(container: String, createMissing: Bool = false) throws(ProviderError) -> (path: String, fd: Int32) {
        let what = "container \(container): subPath \"\(relative)\" of volume \"\(volume)\""
        switch try WorkspaceFiles.openBeneath(base: base, relative: relative, createMissing: createMissing) {
        case (.resolved(let path), let fd): return (path, fd)
        case (.symlink(let at), _): throw .invalidPod("\(what) goes through a symbolic link (\(at)), which could lead outside the volume; refused")
        case (.missing(let at), _): throw .invalidPod("\(what) does not exist (\(at))")
        case (.notDirectory(let at), _): throw .invalidPod("\(what): \(at) is not a directory")
        }
    }
}

/// What `PodWorkspace.materialise` produced: the mounts of each container
/// (init and main, by container name), `subPath` already applied.
public struct MaterialisedPod: Sendable, Equatable {
    public var mounts: [String: [Mount]]
    public init(mounts: [String: [Mount]] = [:]) { self.mounts = mounts }
}

/// The per-pod directory `DataRootFolder/<namespace>-<uid>/` (mode 0700) where
/// ConfigMaps, Secrets, projected volumes and emptyDirs are written, shared by
/// the Docker and Slurm providers. Each volume lives in `volumes/<volume-name>/`.
///
/// Contract: `materialise` is idempotent and may run while containers read the
/// files (each file is replaced atomically); emptyDirs keep their content across
/// calls (container restarts); ConfigMap/Secret/projected mounts are read-only,
/// as in Kubernetes. Secret files are 0600 unless `defaultMode`/`mode` says
/// otherwise, deliberately stricter than Kubernetes' 0644: the kubelet keeps them
/// on a private tmpfs, while here they sit on the host's (often shared, for
/// Slurm) file system. A pod whose non-root container must read a secret sets
/// `defaultMode: 0444` (292) as it would for any other restrictive default.
public struct PodWorkspace: Sendable {
    public let root: String
    /// `DataRootFolder`: every pod's files (and by default the journal) live under it,
    /// so no hostPath may reach into it or contain it.
    public let dataRoot: String

    public init(dataRoot: String, namespace: String, uid: String) {
        self.dataRoot = dataRoot
        root = dataRoot.hasSuffix("/") ? "\(dataRoot)\(namespace)-\(uid)" : "\(dataRoot)/\(namespace)-\(uid)"
    }

    /// The directory of the volume `name` (for emptyDir, ConfigMap, Secret, projected).
    public func volumeDirectory(_ name: String) -> String { "\(root)/volumes/\(name)" }

    /// Writes every volume the containers mount and returns each container's mounts.
    /// Idempotent; emptyDirs keep their content when called again (restarts).
    /// Throws `.invalidPod` for a missing non-optional ConfigMap/Secret, an
    /// unsupported volume type, a path escaping its volume, or a hostPath when
    /// not allowed.
    public func materialise(_ pod: DesiredPod, allowHostPath: Bool) throws(ProviderError) -> MaterialisedPod {
        let containers = pod.pod.initContainers + pod.pod.containers
        var declared: [String: Volume] = [:]
        for v in pod.pod.volumes { declared[v.name] = v }

        // Check every mount before writing anything, so a bad pod leaves no files.
        var used: [Volume] = []
        for c in containers {
            for m in c.volumeMounts ?? [] {
                guard let v = declared[m.name] else {
                    throw .invalidPod("container \(c.name) mounts volume \"\(m.name)\", which the pod does not declare")
                }
                if let sub = m.subPath, !sub.isEmpty, !WorkspaceFiles.isContained(sub) {
                    throw .invalidPod("container \(c.name): subPath \"\(sub)\" of volume \"\(m.name)\" must be a relative path without \"..\"")
                }
                if !used.contains(where: { $0.name == v.name }) { used.append(v) }
            }
        }

        try WorkspaceFiles.makeDirectory(root, mode: 0o700)
        var written: [String: VolumeWriter.Result] = [:]
        let writer = VolumeWriter(request: pod.request, workspace: self, allowHostPath: allowHostPath)
        for v in used { written[v.name] = try writer.write(v) }

        var result = MaterialisedPod()
        for c in containers {
            var mounts: [Mount] = []
            for m in c.volumeMounts ?? [] {
                let w = written[m.name]!
                var host = w.path
                var subPath: SubPathMount? = nil
                if let sub = m.subPath, !sub.isEmpty {
                    // The kubelet creates a missing subPath of a writable volume as a directory.
                    let check = SubPathMount(base: w.path, relative: sub, volume: m.name)
                    host = try check.resolve(container: c.name, createMissing: w.isEmptyDir)
                    subPath = check
                }
                mounts.append(Mount(hostPath: host, containerPath: m.mountPath,
                                    readOnly: w.alwaysReadOnly || (m.readOnly ?? false), subPath: subPath))
            }
            result.mounts[c.name] = mounts
        }
        return result
    }

    /// Where the pins of this pod's subPaths live (`SubPathPins`): beside the
    /// volumes, never inside one, so no container can reach or replace them.
    public var pinRoot: String { Self.pinRoot(of: root) }
    static func pinRoot(of root: String) -> String { "\(root)/subpaths" }

    /// Removes the whole pod directory. Idempotent. Any mount below it (a pin
    /// left by a process that died between pinning and starting) is detached
    /// first, and the directory is kept when one stays: removal must never
    /// descend through a bind into a volume or the host.
    public func remove() throws(ProviderError) {
        guard WorkspaceFiles.exists(root) else { return }
        try SubPathPins.unpinAll(under: root, pins: pinRoot)
        do {
            try FileManager.default.removeItem(atPath: root)
        } catch {
            throw .backend(command: "remove \(root)", message: "\(error)", transient: true)
        }
    }
}
