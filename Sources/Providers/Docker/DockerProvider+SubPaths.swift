import FoundationEssentials
import Model
import Support
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// subPath mounts of Docker containers: pinned (`SubPathPins`) or checked
/// right before `docker start`, and refused when unsafe.
///
/// Docker binds a mount's source by path when the container starts. With
/// pinning on, the source of a subPath mount is a pin path InterLink owns
/// (`PodWorkspace.pinRoot`/`<init|main>-<index>-<attempt>-<run>/<mount>`, made
/// at create as an empty directory or file); right before the start the subPath
/// is walked without following links and the inode reached is bound onto the
/// pin, so what Docker binds is what was checked, whatever changes after. The
/// pins are detached once `docker start` returns (the container's own mount
/// holds the inode from then on); a pin left by a crash is found in mountinfo
/// and detached before the pod's directory goes. With pinning off, the walk is
/// only a check: a swap after it and before runc's bind is not seen.
extension DockerProvider {
    /// What checking a container's subPaths right before its start found.
    enum StartCheck: Equatable {
        /// Refused, with the reason.
        case refused(String)
        /// Safe to start; `pins` are bound and to be detached after the start.
        case ready(pins: [String])
    }

    /// The mounts of one run of a container, subPath sources replaced by pins
    /// when pinning is on; `.invalidPod` when `SubPathPinning: required` and it
    /// is not available.
    func pinnedMounts(_ mounts: [Mount], pod: DesiredPod, spec: Spec, run: Int,
                      workspace: PodWorkspace) throws(ProviderError) -> [Mount] {
        guard mounts.contains(where: { $0.subPath != nil }) else { return mounts }
        if case .off(let reason) = try pinning.availability() {
            guard pinning.mode == .required else { return mounts }
            throw .invalidPod("container \(spec.c.name) mounts a subPath, and SubPathPinning is required but unavailable: \(reason)")
        }
        try WorkspaceFiles.makeDirectory(workspace.pinRoot, mode: 0o700)
        let dir = workspace.pinRoot + "/\(spec.isInit ? "init" : "main")-\(spec.index)-\(pod.attempt)-\(run)"
        try WorkspaceFiles.makeDirectory(dir, mode: 0o700)
        var out = mounts
        for i in out.indices {
            guard var sub = out[i].subPath else { continue }
            let target = dir + "/\(i)"
            try Self.makePinTarget(target, directory: WorkspaceFiles.isDirectory(out[i].hostPath))
            sub.pin = target
            out[i].subPath = sub
            out[i].hostPath = target
        }
        return out
    }

    /// An empty directory (0700) or file (0600) at `path`, replacing one of the
    /// other kind (detached first, should a pin be on it).
    static func makePinTarget(_ path: String, directory: Bool) throws(ProviderError) {
        var st = stat()
        if lstat(path, &st) == 0 {
            let isDir = (st.st_mode & S_IFMT) == S_IFDIR
            if isDir == directory { return }
            SubPathPins.unpin(path)
            guard (isDir ? rmdir(path) : unlink(path)) == 0 else { throw .posix("remove \(path)", errno: errno) }
        }
        if directory {
            guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw .posix("mkdir \(path)", errno: errno) }
        } else {
            let fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw .posix("create \(path)", errno: errno) }
            close(fd)
        }
    }

    /// Walks each subPath of `r` without following links, right before its
    /// start, and binds what it reached onto its pin (when it has one). Docker
    /// binds by path when the container starts, so this is the last moment
    /// InterLink can look; a pin makes the look what Docker binds.
    func checkBeforeStart(_ r: DockerContainerRecord) -> StartCheck {
        var pins: [String] = []
        func refuse(_ reason: String) -> StartCheck {
            for p in pins { SubPathPins.unpin(p) }
            return .refused(reason)
        }
        for sub in r.subPaths {
            let opened: (path: String, fd: Int32)
            do { opened = try sub.open(container: r.container) } catch { return refuse(error.description) }
            defer { close(opened.fd) }
            guard let pin = sub.pin else { continue }
            var st = stat()
            guard fstat(opened.fd, &st) == 0 else { return refuse("container \(r.container): stat \(opened.path): \(String(cString: strerror(errno)))") }
            do { try Self.makePinTarget(pin, directory: (st.st_mode & S_IFMT) == S_IFDIR) } catch { return refuse(error.description) }
            let e = SubPathPins.pin(opened.fd, at: pin)
            guard e == 0 else {
                return refuse("container \(r.container): subPath \"\(sub.relative)\" of volume \"\(sub.volume)\" could not be pinned at \(pin): \(String(cString: strerror(e)))")
            }
            pins.append(pin)
        }
        return .ready(pins: pins)
    }

    /// Detaches and removes the pins of runs that are gone (older restarts).
    func discardPins(_ records: [DockerContainerRecord]) {
        for r in records {
            var dirs: Set<String> = []
            for pin in r.subPaths.compactMap(\.pin) {
                SubPathPins.unpin(pin)
                if rmdir(pin) != 0 { unlink(pin) }
                if let slash = pin.lastIndex(of: "/") { dirs.insert(String(pin[..<slash])) }
            }
            for d in dirs { rmdir(d) }
        }
    }

    func refusalFile(_ r: DockerContainerRecord) -> String {
        PodWorkspace(dataRoot: dataRoot, namespace: r.namespace, uid: r.podUID).root + "/refused/" + r.id
    }

    /// Records that `r` was refused (in the pod's directory, so it survives a
    /// restart); observe then reports it terminated with the reason.
    func refuse(_ r: DockerContainerRecord, _ reason: String) {
        let dir = PodWorkspace(dataRoot: dataRoot, namespace: r.namespace, uid: r.podUID).root + "/refused"
        do {
            try WorkspaceFiles.makeDirectory(dir, mode: 0o700)
            try WorkspaceFiles.writeAtomically(Data(reason.utf8), to: refusalFile(r), mode: 0o600)
        } catch {
            Log.warn("could not record a refused container", ["container": r.id, "error": "\(error)"])
        }
        Log.warn("container not started: unsafe mount", ["pod": "\(r.namespace)/\(r.podName)", "uid": r.podUID,
                                                          "container": r.container, "reason": reason])
    }

    /// Marks refused containers as having failed to start, with the reason as
    /// Docker's error, so they read as terminated `ContainerCannotRun`.
    func withRefusals(_ records: [DockerContainerRecord]) -> [DockerContainerRecord] {
        records.map { r in
            guard r.status == "created", r.error.isEmpty, !r.subPaths.isEmpty,
                  let data = FileManager.default.contents(atPath: refusalFile(r)) else { return r }
            var refused = r
            refused.error = String(decoding: data, as: UTF8.self)
            return refused
        }
    }
}

/// Test seams of `DockerProvider`.
final class DockerTestHooks: Sendable {
    typealias Hook = @Sendable (DockerContainerRecord) async -> Void
    private let hook = Mutex<Hook?>(nil)

    /// Called for each container with subPaths after they were checked (and
    /// pinned) and before its `docker start`: where a racing container's swap
    /// would land.
    var beforeSubPathStart: Hook? {
        get { hook.withLock { $0 } }
        set { hook.withLock { $0 = newValue } }
    }
}
