import Model
#if canImport(Glibc)
import Glibc
#endif

/// The site's policy for the `slurm-job.vk.io/singularity-options` and
/// `slurm-job.vk.io/singularity-mounts` annotations (apptainer/singularity only).
///
/// Contract: every option word must be in `SingularityAllowedOptions` (by its
/// name before any `=`); a bare word is refused, since apptainer would take it
/// for the image. Binds are `--bind SRC[:DST[:ro|rw]]` (also `-B`, `--bind=`,
/// comma lists); each SRC must be an absolute path without `..` under a prefix of
/// `SingularityAllowedMounts`, and must neither lie in nor contain
/// `DataRootFolder` (InterLink's state and every pod's Secrets), also after
/// resolving symbolic links where the path exists. Errors are
/// `ProviderError.invalidPod` naming the option or path.
struct SingularityPolicy: Sendable {
    let allowedOptions: Set<String>
    let allowedMounts: [String]
    let dataRoot: String

    static let optionsSource = "annotation slurm-job.vk.io/singularity-options"
    static let mountsSource = "annotation slurm-job.vk.io/singularity-mounts"

    func options(_ words: [String]) throws(ProviderError) -> [String] {
        for w in words {
            guard w.hasPrefix("-") else {
                throw .invalidPod("\(Self.optionsSource): \"\(w.prefix(80))\" is not an option; give --name or --name=value")
            }
            let name = String(w.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            if ["--bind", "-B", "--mount"].contains(name) {
                throw .invalidPod("\(Self.optionsSource): give binds in slurm-job.vk.io/singularity-mounts, where the site's SingularityAllowedMounts applies")
            }
            guard allowedOptions.contains(name) else {
                throw .invalidPod("\(Self.optionsSource): the option \(name) is not allowed by this site (SingularityAllowedOptions)")
            }
        }
        return words
    }

    func mounts(_ words: [String]) throws(ProviderError) -> [String] {
        var out: [String] = []
        var i = 0
        while i < words.count {
            let w = words[i]
            let spec: String
            if w == "--bind" || w == "-B" {
                guard i + 1 < words.count else { throw .invalidPod("\(Self.mountsSource): \(w) needs a SRC[:DST] after it") }
                spec = words[i + 1]; i += 2
            } else if w.hasPrefix("--bind=") {
                spec = String(w.dropFirst("--bind=".count)); i += 1
            } else if w.hasPrefix("-B") {
                spec = String(w.dropFirst(2)); i += 1
            } else {
                throw .invalidPod("\(Self.mountsSource): \"\(w.prefix(80))\" is not a bind; give --bind SRC[:DST[:ro]]")
            }
            for one in spec.split(separator: ",", omittingEmptySubsequences: false) {
                try check(String(one))
            }
            out += ["--bind", spec]
        }
        return out
    }

    private func check(_ bind: String) throws(ProviderError) {
        let parts = bind.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count), let src = parts.first, !src.isEmpty else {
            throw .invalidPod("\(Self.mountsSource): \"\(bind.prefix(120))\" is not SRC[:DST[:ro|rw]]")
        }
        if parts.count == 3, parts[2] != "ro", parts[2] != "rw" {
            throw .invalidPod("\(Self.mountsSource): bind option \"\(parts[2].prefix(40))\" of \(src) is not ro or rw")
        }
        if parts.count >= 2, !parts[1].hasPrefix("/") {
            throw .invalidPod("\(Self.mountsSource): the destination \"\(parts[1].prefix(120))\" of \(src) must be an absolute path")
        }
        guard src.hasPrefix("/"), !src.split(separator: "/").contains(".."), !src.split(separator: "/").contains(".") else {
            throw .invalidPod("\(Self.mountsSource): the source \"\(src.prefix(120))\" must be an absolute path without . or ..")
        }
        for path in [src, Self.resolved(src)].compactMap({ $0 }) {
            if Self.overlaps(path, dataRoot) || Self.resolved(dataRoot).map({ Self.overlaps(path, $0) }) == true {
                throw .invalidPod("\(Self.mountsSource): \(src) is or contains InterLink's DataRootFolder (its state and every pod's Secrets); it is never bound")
            }
            guard allowedMounts.contains(where: { Self.isInside(path, $0) }) else {
                throw .invalidPod("\(Self.mountsSource): \(src)\(path == src ? "" : " (resolved to \(path))") is not under a directory this site allows (SingularityAllowedMounts)")
            }
        }
    }

    /// `path` equals `dir` or lies beneath it (lexically; both absolute).
    static func isInside(_ path: String, _ dir: String) -> Bool {
        let d = dir.count > 1 && dir.hasSuffix("/") ? String(dir.dropLast()) : dir
        return path == d || path.hasPrefix(d == "/" ? "/" : d + "/")
    }

    static func overlaps(_ a: String, _ b: String) -> Bool { isInside(a, b) || isInside(b, a) }

    /// The path with every symbolic link resolved, or nil when it does not exist.
    static func resolved(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
