import FoundationEssentials
import Model
#if canImport(Glibc)
import Glibc
#endif

/// Writes one volume of a pod into its workspace directory and says how it is
/// mounted. ConfigMap, Secret and projected volumes are rewritten in full on
/// every call (files no longer wanted are removed); emptyDirs are only created.
struct VolumeWriter {
    struct Result {
        /// Host directory to bind (the volume dir, or the hostPath).
        var path: String
        /// ConfigMap/Secret/projected: Kubernetes mounts them read-only whatever the pod says.
        var alwaysReadOnly: Bool
        var isEmptyDir: Bool
    }

    let request: PodCreateRequests
    let workspace: PodWorkspace
    let allowHostPath: Bool

    static let configMapMode: Int32 = 0o644
    /// Stricter than Kubernetes' 0644; see `PodWorkspace`.
    static let secretMode: Int32 = 0o600

    func write(_ v: Volume) throws(ProviderError) -> Result {
        // Volume names become directory names: keep them to what Kubernetes allows.
        guard Validation.isDNSLabel(v.name) else {
            throw .invalidPod("volume name \"\(v.name)\" is not a valid DNS label")
        }
        let dir = workspace.volumeDirectory(v.name)
        if let cm = v.configMap {
            var files = FileSet(volume: v.name)
            try add(configMap: cm, mode: cm.defaultMode, to: &files)
            try files.write(to: dir)
            return Result(path: dir, alwaysReadOnly: true, isEmptyDir: false)
        }
        if let secret = v.secret {
            var files = FileSet(volume: v.name)
            try add(secret: secret, mode: secret.defaultMode, to: &files)
            try files.write(to: dir)
            return Result(path: dir, alwaysReadOnly: true, isEmptyDir: false)
        }
        if let projected = v.projected {
            var files = FileSet(volume: v.name)
            for source in projected.sources ?? [] {
                if let cm = source.configMap { try add(configMap: cm, mode: projected.defaultMode, to: &files) }
                if let secret = source.secret { try add(secret: secret, mode: projected.defaultMode, to: &files) }
            }
            // The VK sends what it resolved itself (service-account token, CA, namespace)
            // as a ConfigMap named after the volume.
            if let sent = request.projectedvolumesmaps?.first(where: { $0.metadata.name == v.name }) {
                let mode = try checkedMode(projected.defaultMode ?? Self.secretMode, volume: v.name)
                for (key, data) in try contents(of: sent, volume: v.name) {
                    try files.add(key, data, mode: mode)
                }
            }
            try files.write(to: dir)
            return Result(path: dir, alwaysReadOnly: true, isEmptyDir: false)
        }
        if v.emptyDir != nil {
            // 0777 so that a container running as any uid can write, as the kubelet does.
            try WorkspaceFiles.makeDirectory(dir, mode: 0o777)
            return Result(path: dir, alwaysReadOnly: false, isEmptyDir: true)
        }
        if let host = v.hostPath {
            return Result(path: try hostPath(host, volume: v.name), alwaysReadOnly: false, isEmptyDir: false)
        }
        throw .invalidPod("volume \"\(v.name)\" has type \(v.unsupportedType ?? "(none)"), which InterLink does not support (use configMap, secret, projected, emptyDir or hostPath)")
    }

    // MARK: - Sources

    private func add(configMap src: ConfigMapVolumeSource, mode: Int32?, to files: inout FileSet) throws(ProviderError) {
        let name = src.name ?? ""
        guard let cm = request.configmaps?.first(where: { $0.metadata.name == name }) else {
            if src.optional == true { return }
            throw .invalidPod("volume \"\(files.volume)\" refers to ConfigMap \"\(name)\", which was not sent with the pod")
        }
        try add(contents(of: cm, volume: files.volume), items: src.items, defaultMode: mode ?? Self.configMapMode,
                optional: src.optional == true, what: "ConfigMap \"\(name)\"", to: &files)
    }

    private func add(secret src: SecretVolumeSource, mode: Int32?, to files: inout FileSet) throws(ProviderError) {
        let name = src.secretName ?? src.name ?? ""
        guard let secret = request.secrets?.first(where: { $0.metadata.name == name }) else {
            if src.optional == true { return }
            throw .invalidPod("volume \"\(files.volume)\" refers to Secret \"\(name)\", which was not sent with the pod")
        }
        try add(EnvResolver.decodedSecret(secret), items: src.items, defaultMode: mode ?? Self.secretMode,
                optional: src.optional == true, what: "Secret \"\(name)\"", to: &files)
    }

    /// All keys as files, or only `items` (key -> path, with their own modes).
    private func add(_ data: [String: Data], items: [KeyToPath]?, defaultMode: Int32, optional: Bool,
                     what: String, to files: inout FileSet) throws(ProviderError) {
        let mode = try checkedMode(defaultMode, volume: files.volume)
        guard let items else {
            for (key, bytes) in data { try files.add(key, bytes, mode: mode) }
            return
        }
        for item in items {
            guard let bytes = data[item.key] else {
                if optional { continue }
                throw .invalidPod("volume \"\(files.volume)\" refers to key \"\(item.key)\" of \(what), which does not exist")
            }
            let itemMode = try item.mode.map { m throws(ProviderError) in try checkedMode(m, volume: files.volume) } ?? mode
            try files.add(item.path, bytes, mode: itemMode)
        }
    }

    /// A ConfigMap's `data` (UTF-8) and `binaryData` (base64) as bytes.
    private func contents(of cm: ConfigMap, volume: String) throws(ProviderError) -> [String: Data] {
        var out: [String: Data] = [:]
        for (key, text) in cm.data ?? [:] { out[key] = Data(text.utf8) }
        for (key, encoded) in cm.binaryData ?? [:] {
            guard let bytes = Data(base64Encoded: encoded) else {
                throw .invalidPod("binaryData key \"\(key)\" of ConfigMap \"\(cm.metadata.name ?? "")\" is not valid base64")
            }
            out[key] = bytes
        }
        return out
    }

    private func checkedMode(_ mode: Int32, volume: String) throws(ProviderError) -> mode_t {
        guard (0...0o777).contains(mode) else {
            throw .invalidPod("volume \"\(volume)\" has file mode \(mode), which is not between 0 and 0777 (511)")
        }
        return mode_t(mode)
    }

    private func hostPath(_ host: HostPathVolumeSource, volume: String) throws(ProviderError) -> String {
        guard allowHostPath else {
            throw .invalidPod("volume \"\(volume)\": hostPath volumes are disabled (AllowHostPath)")
        }
        guard host.path.hasPrefix("/") else {
            throw .invalidPod("volume \"\(volume)\": hostPath \"\(host.path)\" is not an absolute path")
        }
        switch host.type ?? "" {
        case "DirectoryOrCreate":
            if !WorkspaceFiles.exists(host.path) { try WorkspaceFiles.makeDirectory(host.path, mode: 0o755) }
        case "Directory":
            guard WorkspaceFiles.isDirectory(host.path) else {
                throw .invalidPod("volume \"\(volume)\": hostPath \"\(host.path)\" is not an existing directory")
            }
        case "", "File", "FileOrCreate", "Socket", "CharDevice", "BlockDevice":
            break  // the container runtime reports what it cannot bind
        default:
            throw .invalidPod("volume \"\(volume)\": hostPath type \"\(host.type ?? "")\" is unknown")
        }
        return host.path
    }
}

/// The files of one ConfigMap/Secret/projected volume, by relative path.
struct FileSet {
    let volume: String
    var files: [String: (data: Data, mode: mode_t)] = [:]

    init(volume: String) { self.volume = volume }

    mutating func add(_ path: String, _ data: Data, mode: mode_t) throws(ProviderError) {
        guard WorkspaceFiles.isContained(path), !path.hasSuffix("/"),
              !path.split(separator: "/").contains(where: { $0 == "." }) else {
            throw .invalidPod("volume \"\(volume)\": file path \"\(path)\" must be relative and stay inside the volume")
        }
        files[path] = (data, mode)
    }

    /// Writes every file atomically, then removes what an earlier call left.
    func write(to dir: String) throws(ProviderError) {
        try WorkspaceFiles.makeDirectory(dir, mode: 0o755)
        var keep = Set<String>()
        for (path, file) in files.sorted(by: { $0.key < $1.key }) {
            let parts = path.split(separator: "/", omittingEmptySubsequences: true)
            var parent = ""
            for part in parts.dropLast() {
                parent = parent.isEmpty ? String(part) : parent + "/" + part
                if keep.insert(parent).inserted, !WorkspaceFiles.isDirectory(dir + "/" + parent) {
                    try WorkspaceFiles.makeDirectory(dir + "/" + parent, mode: 0o755)
                }
            }
            keep.insert(parts.joined(separator: "/"))
            try WorkspaceFiles.writeAtomically(file.data, to: dir + "/" + parts.joined(separator: "/"), mode: file.mode)
        }
        WorkspaceFiles.prune(dir, keeping: keep)
    }
}
