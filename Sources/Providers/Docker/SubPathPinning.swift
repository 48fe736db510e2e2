import CShims
import FoundationEssentials
import Support
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Whether the Docker provider pins subPaths (`SubPathPins`), decided once per
/// process from the `SubPathPinning` setting and what the machine allows.
///
/// Pinning needs two things: `mount(2)` (root, `CAP_SYS_ADMIN`), and a Docker
/// daemon in InterLink's own mount namespace, or it would not see the pins.
/// `auto` pins when both hold and otherwise falls back to checking each subPath
/// right before `docker start` (logged once, shown by the
/// `interlink_docker_subpath_pinning` gauge); `required` refuses pods with
/// subPaths when pinning is off; `off` never pins.
public final class SubPathPinning: Sendable {
    public enum Mode: String, Sendable { case auto, required, off }

    public enum Availability: Sendable, Equatable {
        case on
        /// Pinning is off, and why (a sentence for logs and refusals).
        case off(String)
    }

    public let mode: Mode
    let dataRoot: String
    let dockerHost: String?
    let instanceName: String
    private let decided = Mutex<Availability?>(nil)
    /// Test seam: the probe's answer when set before the first decision.
    private let forced = Mutex<String?>(nil)

    init(mode: Mode, dataRoot: String, dockerHost: String?, instanceName: String) {
        self.mode = mode; self.dataRoot = dataRoot; self.dockerHost = dockerHost; self.instanceName = instanceName
    }

    /// Makes the probe find pinning unavailable for `reason` (tests).
    func forceUnavailable(_ reason: String) { forced.withLock { $0 = reason } }

    /// Decided on first use and kept; a daemon that cannot be reached is not a
    /// decision (the create that asked fails and is retried).
    func availability() throws(ProviderError) -> Availability {
        if let known = decided.withLock({ $0 }) { return known }
        let found: Availability
        if mode == .off {
            found = .off("SubPathPinning is off")
        } else if let reason = forced.withLock({ $0 }) {
            found = .off(reason)
        } else {
            found = try probe()
        }
        let first = decided.withLock { state -> Bool in
            guard state == nil else { return false }
            state = found
            return true
        }
        if first {
            switch found {
            case .on: Log.debug("subPath pinning is on", ["mode": mode.rawValue])
            case .off(let reason) where mode == .off:
                Log.info("subPath pinning is off; subPaths are checked right before docker start", ["mode": mode.rawValue, "reason": reason])
            case .off(let reason):
                Log.warn(mode == .required
                         ? "subPath pinning is unavailable; pods with subPaths are refused (SubPathPinning: required)"
                         : "subPath pinning is off; subPaths are checked right before docker start",
                         ["mode": mode.rawValue, "reason": reason])
            }
        }
        return decided.withLock { $0 } ?? found
    }

    /// The gauge, once decided (before the first pod with a subPath it is not known).
    var metricsText: String {
        guard let state = decided.withLock({ $0 }) else { return "" }
        return "# HELP interlink_docker_subpath_pinning 1 when Docker subPath mounts are pinned by a bind mount before docker start, 0 on the check-at-start fallback.\n"
            + "# TYPE interlink_docker_subpath_pinning gauge\n"
            + "interlink_docker_subpath_pinning{instance=\"\(instanceName)\",mode=\"\(mode.rawValue)\"} \(state == .on ? 1 : 0)\n"
    }

    // MARK: - the probe

    private func probe() throws(ProviderError) -> Availability {
        if let reason = mountRefusal() { return .off(reason) }
        return try daemonNamespace()
    }

    /// Binds a scratch directory onto another with the same call pins use;
    /// nil when that works.
    private func mountRefusal() -> String? {
        let scratch = dataRoot + "/.subpath-probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try WorkspaceFiles.makeDirectory(scratch + "/source", mode: 0o700)
            try WorkspaceFiles.makeDirectory(scratch + "/pin", mode: 0o700)
        } catch {
            return "the probe directory \(scratch) could not be made: \(error)"
        }
        defer { rmdir(scratch + "/pin"); rmdir(scratch + "/source"); rmdir(scratch) }
        let fd = cshims_openat_path_nofollow(AT_FDCWD, scratch + "/source")
        guard fd >= 0 else { return "open \(scratch)/source: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        let e = SubPathPins.pin(fd, at: scratch + "/pin")
        if e == 0 { SubPathPins.unpin(scratch + "/pin"); return nil }
        if e == EPERM || e == EACCES {
            return "mount(2) is not permitted (\(String(cString: strerror(e)))): InterLink runs without root or CAP_SYS_ADMIN (rootless, or in a container with the Docker socket only)"
        }
        return "mount(2) of a bind failed: \(String(cString: strerror(e)))"
    }

    /// Whether the process serving the Docker socket shares this mount namespace.
    private func daemonNamespace() throws(ProviderError) -> Availability {
        let host = dockerHost ?? ProcessEnvironment.current["DOCKER_HOST"] ?? "unix:///var/run/docker.sock"
        guard host.hasPrefix("unix://") else {
            return .off("the Docker daemon is reached at \(host), not through a local unix socket, so it cannot be shown to see InterLink's mounts")
        }
        let path = String(host.dropFirst("unix://".count))
        let pid = try Self.peerPID(socketPath: path)
        guard pid > 0 else {
            return .off("the process serving \(path) is not visible from InterLink's PID namespace (InterLink in a container?), so it cannot be shown to share InterLink's mount namespace")
        }
        guard let mine = Self.link("/proc/self/ns/mnt") else { return .off("cannot read /proc/self/ns/mnt") }
        guard let theirs = Self.link("/proc/\(pid)/ns/mnt") else {
            return .off("cannot read /proc/\(pid)/ns/mnt of the process serving \(path): \(String(cString: strerror(errno)))")
        }
        guard mine == theirs else {
            return .off("the process serving \(path) (pid \(pid)) runs in another mount namespace (rootless Docker, or InterLink in a container), so it would not see the pins")
        }
        return .on
    }

    static func peerPID(socketPath path: String) throws(ProviderError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .posix("socket", errno: errno) }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else { throw .unavailable("the Docker socket path \(path) is longer than a unix socket address holds") }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            throw .backend(command: "connect \(path)", message: "the Docker socket does not answer: \(String(cString: strerror(errno)))", transient: true)
        }
        let pid = cshims_peer_pid(fd)
        guard pid >= 0 else { throw .posix("getsockopt SO_PEERCRED on \(path)", errno: errno) }
        return pid
    }

    static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
