import CShims
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Bind mounts that pin a resolved `subPath`, as the kubelet has done since
/// CVE-2017-1002101: the subPath is walked with `O_NOFOLLOW` per component
/// (`WorkspaceFiles.openBeneath`), and the descriptor of what the walk reached
/// is bound (`/proc/self/fd/N`, `MS_BIND`) onto a pin path InterLink owns,
/// outside every volume. Docker is then given the pin path: it names the
/// checked inode, so a later swap of any directory of the subPath for a
/// symbolic link cannot redirect the bind.
///
/// Pins live under the pod's directory (`PodWorkspace.pinRoot`), are found
/// again through `/proc/self/mountinfo` (never from memory, so a restart loses
/// none), and are detached (`MNT_DETACH | UMOUNT_NOFOLLOW`) before anything
/// under them is removed.
enum SubPathPins {
    /// Binds the inode behind `fd` onto `target`, which must exist (an empty
    /// directory for a directory, an empty file for anything else). Whatever
    /// was pinned there before is detached first. Returns 0, or the errno.
    static func pin(_ fd: Int32, at target: String) -> Int32 {
        unpin(target)
        return cshims_bind_mount("/proc/self/fd/\(fd)", target) == 0 ? 0 : errno
    }

    /// Detaches every mount stacked on `target` (none: nothing happens).
    static func unpin(_ target: String) {
        // Bounded: a mount point that keeps answering would be a kernel surprise, not a loop to spin in.
        for _ in 0..<16 where cshims_umount_detach(target) == 0 {}
    }

    /// Mount points strictly below `root` in this process's mount namespace,
    /// deepest first (the order to detach them in).
    static func mountPoints(under root: String) -> [String] {
        let canonical = canonicalPath(root)
        let prefix = canonical.hasSuffix("/") ? canonical : canonical + "/"
        return parseMountPoints(readMountinfo()).filter { $0.hasPrefix(prefix) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0 > $1 }
    }

    /// Detaches the pins (every mount below `pins`), then checks that no mount at
    /// all is left below `root`: a directory removal must never descend through a
    /// bind into a volume or the host. A mount InterLink did not make (a runtime's
    /// leftover) is not InterLink's to detach: it is reported and the directory
    /// kept. Throws (transient) naming what stayed mounted.
    static func unpinAll(under root: String, pins: String) throws(ProviderError) {
        for point in mountPoints(under: pins) { unpin(point) }
        let left = mountPoints(under: root)
        guard left.isEmpty else {
            throw .backend(command: "umount \(left[0])",
                           message: "\(left.count) mount(s) below \(root) are still mounted (\(left[0])); the directory is kept", transient: true)
        }
    }

    /// The mount points (fifth field) of `/proc/self/mountinfo` text, unescaped.
    static func parseMountPoints(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: false)
            return fields.count > 4 ? unescape(fields[4]) : nil
        }
    }

    /// The kernel writes space, tab, newline and backslash in mountinfo as `\ooo`.
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var out: [UInt8] = []
        let bytes = Array(field.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count {
                let digits = bytes[(i + 1)...(i + 3)]
                if digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "7")).contains($0) }) {
                    out.append(digits.reduce(0) { $0 &* 8 &+ ($1 - UInt8(ascii: "0")) })
                    i += 4
                    continue
                }
            }
            out.append(bytes[i]); i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func readMountinfo() -> String {
        // procfs reports size 0: read to the end in blocks.
        let fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// `path` with symbolic links and `.`/`..` resolved (mountinfo names
    /// canonical paths); `path` itself when it does not exist.
    static func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
