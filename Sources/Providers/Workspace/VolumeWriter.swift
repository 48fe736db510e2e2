import FoundationEssentials
import Model
import Support
#if canImport(Glibc)
import Glibc
#endif

/// Writes one volume of a pod into its workspace directory and says how it is
/// mounted. ConfigMap, Secret, projected and downwardAPI volumes are rewritten
/// in full on every call (files no longer wanted are removed); emptyDirs are
/// only created.
///
/// Projected and downwardAPI volumes follow the upstream VK's contract
/// (`remoteExecutionHandleVolumes`): it resolves every source itself and sends
/// the result as one ConfigMap in `projectedvolumesmaps` named after the
/// volume, keyed by file path (service-account token, `ca.crt`, namespace,
/// downward-API fields...), and it does not repeat the sources' ConfigMaps in
/// `configmaps`. So when a map was sent for the volume it *is* the volume's
/// content, byte for byte; the sources are consulted only for paths it lacks,
/// and a source that cannot be resolved here is an error only when nothing was
/// sent for the volume (a hand-written request, `ctl`).
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
            try projectedFiles(v.name, sources: projected.sources ?? [], defaultMode: projected.defaultMode).write(to: dir)
            return Result(path: dir, alwaysReadOnly: true, isEmptyDir: false)
        }
        if let downward = v.downwardAPI {
            // The VK sends a downwardAPI volume like a projected one with one downwardAPI source.
            let sources = [VolumeProjection(downwardAPI: DownwardAPIProjection(items: downward.items))]
            try projectedFiles(v.name, sources: sources, defaultMode: downward.defaultMode).write(to: dir)
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
        throw .invalidPod("volume \"\(v.name)\" has type \(v.unsupportedType ?? "(none)"), which InterLink does not support (use configMap, secret, projected, downwardAPI, emptyDir or hostPath)")
    }

    // MARK: - Projected and downwardAPI

    /// The sent map first (it wins), then whatever the sources add for paths it lacks.
    private func projectedFiles(_ volume: String, sources: [VolumeProjection], defaultMode: Int32?) throws(ProviderError) -> FileSet {
        var files = FileSet(volume: volume)
        let sent = request.projectedvolumesmaps?.first(where: { $0.metadata.name == volume })
        if let sent {
            for (path, data) in try contents(of: sent, volume: volume) {
                try files.add(path, data, mode: try sentMode(path, sources: sources, defaultMode: defaultMode, volume: volume))
            }
        }
        // With a map sent, a source the VK left out (it does not handle projected
        // Secrets, for one) is not ours to fail the pod for.
        let lenient = sent != nil
        for source in sources {
            if let cm = source.configMap {
                try add(configMap: cm, mode: defaultMode, to: &files, lenient: lenient)
            }
            if let secret = source.secret {
                try add(secret: secret, mode: defaultMode, to: &files, lenient: lenient)
            }
            if let downward = source.downwardAPI {
                let mode = try checkedMode(defaultMode ?? Self.configMapMode, volume: volume)
                for item in downward.items ?? [] where !files.contains(item.path) {
                    let value: String
                    do {
                        value = try downwardValue(item, volume: volume)
                    } catch {
                        if lenient { continue }
                        throw error
                    }
                    let itemMode = try item.mode.map { m throws(ProviderError) in try checkedMode(m, volume: volume) } ?? mode
                    try files.add(item.path, Data(value.utf8), mode: itemMode)
                }
            }
            if let token = source.serviceAccountToken, !files.contains(token.path) {
                // Only the VK can mint a token (TokenRequest API); without it the file is absent.
                Log.warn("projected volume has no service-account token (the VK sent none)",
                         ["pod": "\(request.pod.namespace)/\(request.pod.name)", "volume": volume, "path": token.path])
            }
        }
        return files
    }

    /// The mode of a file the VK sent: the one its source item asks for, else
    /// the volume's `defaultMode`, else 0644 for ConfigMap and downward-API
    /// paths and 0600 for everything else (tokens, Secrets, unknown provenance).
    private func sentMode(_ path: String, sources: [VolumeProjection], defaultMode: Int32?, volume: String) throws(ProviderError) -> mode_t {
        var mode: Int32? = nil
        var fallback = Self.secretMode
        for s in sources {
            if let item = s.configMap?.items?.first(where: { $0.path == path }) { mode = item.mode; fallback = Self.configMapMode; break }
            if let item = s.secret?.items?.first(where: { $0.path == path }) { mode = item.mode; break }
            if let item = s.downwardAPI?.items?.first(where: { $0.path == path }) { mode = item.mode; fallback = Self.configMapMode; break }
            if s.serviceAccountToken?.path == path { break }
        }
        return try checkedMode(mode ?? defaultMode ?? fallback, volume: volume)
    }

    private func downwardValue(_ item: DownwardAPIVolumeFile, volume: String) throws(ProviderError) -> String {
        let context = "volume \"\(volume)\" file \(item.path)"
        if let field = item.fieldRef {
            guard let value = DownwardAPI.fieldValue(field.fieldPath, of: request.pod, inVolume: true) else {
                throw .invalidPod("\(context) uses fieldRef \"\(field.fieldPath)\", which InterLink does not support")
            }
            return value
        }
        if let ref = item.resourceFieldRef {
            return try DownwardAPI.resourceValue(ref, defaultContainer: nil, of: request.pod, context: context)
        }
        throw .invalidPod("\(context) has neither fieldRef nor resourceFieldRef")
    }

    // MARK: - Sources

    /// `lenient`: what cannot be found is skipped (a projected map was sent).
    private func add(configMap src: ConfigMapVolumeSource, mode: Int32?, to files: inout FileSet,
                     lenient: Bool = false) throws(ProviderError) {
        let name = src.name ?? ""
        guard let cm = request.configmaps?.first(where: { $0.metadata.name == name }) else {
            if src.optional == true || lenient { return }
            throw .invalidPod("volume \"\(files.volume)\" refers to ConfigMap \"\(name)\", which was not sent with the pod")
        }
        try add(contents(of: cm, volume: files.volume), items: src.items, defaultMode: mode ?? Self.configMapMode,
                optional: src.optional == true || lenient, what: "ConfigMap \"\(name)\"", to: &files)
    }

    private func add(secret src: SecretVolumeSource, mode: Int32?, to files: inout FileSet,
                     lenient: Bool = false) throws(ProviderError) {
        let name = src.secretName ?? src.name ?? ""
        guard let secret = request.secrets?.first(where: { $0.metadata.name == name }) else {
            if src.optional == true || lenient { return }
            throw .invalidPod("volume \"\(files.volume)\" refers to Secret \"\(name)\", which was not sent with the pod")
        }
        try add(EnvResolver.decodedSecret(secret), items: src.items, defaultMode: mode ?? Self.secretMode,
                optional: src.optional == true || lenient, what: "Secret \"\(name)\"", to: &files)
    }

    /// All keys as files, or only `items` (key -> path, with their own modes).
    private func add(_ data: [String: Data], items: [KeyToPath]?, defaultMode: Int32, optional: Bool,
                     what: String, to files: inout FileSet) throws(ProviderError) {
        let mode = try checkedMode(defaultMode, volume: files.volume)
        guard let items else {
            for (key, bytes) in data where !files.contains(key) { try files.add(key, bytes, mode: mode) }
            return
        }
        for item in items where !files.contains(item.path) {
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
        // Even where the site allows hostPath, DataRootFolder holds every pod's Secrets
        // (and by default the journal): a bind of it, into it or of a parent is refused,
        // compared after resolving symbolic links on both sides.
        let source = Self.resolved(host.path), data = Self.resolved(workspace.dataRoot)
        if source == data || source.hasPrefix(data == "/" ? "/" : data + "/") || data.hasPrefix(source == "/" ? "/" : source + "/") {
            throw .invalidPod("volume \"\(volume)\": hostPath \"\(host.path)\" reaches InterLink's DataRootFolder (\(workspace.dataRoot)), which holds other pods' Secrets")
        }
        return host.path
    }

    /// `path` with symbolic links resolved (realpath); as written, less trailing
    /// slashes, when it does not exist yet.
    static func resolved(_ path: String) -> String {
        if let r = realpath(path, nil) { defer { free(r) }; return String(cString: r) }
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return p
    }
}

/// The files of one ConfigMap/Secret/projected volume, by relative path.
/// The first file given for a path is kept (the VK's projected map is added first).
struct FileSet {
    let volume: String
    var files: [String: (data: Data, mode: mode_t)] = [:]

    init(volume: String) { self.volume = volume }

    func contains(_ path: String) -> Bool { files[path] != nil }

    mutating func add(_ path: String, _ data: Data, mode: mode_t) throws(ProviderError) {
        guard Validation.isVolumeFilePath(path) else {
            throw .invalidPod("volume \"\(volume)\": file path \"\(path)\" must be relative and stay inside the volume")
        }
        if files[path] == nil { files[path] = (data, mode) }
    }

    /// Writes every file atomically, then removes what an earlier call left.
    func write(to dir: String) throws(ProviderError) {
        if let (file, inside) = Validation.conflictingPaths(files.keys) {
            throw .invalidPod("volume \"\(volume)\": \"\(file)\" cannot be both a file and the directory of \"\(inside)\"")
        }
        try WorkspaceFiles.makeDirectory(dir, mode: 0o755)
        var keep = Set<String>()
        for (path, file) in files.sorted(by: { $0.key < $1.key }) {
            let parts = path.split(separator: "/", omittingEmptySubsequences: true)
            var parent = ""
            for part in parts.dropLast() {
                parent = parent.isEmpty ? String(part) : parent + "/" + part
                if keep.insert(parent).inserted, !WorkspaceFiles.isDirectory(dir + "/" + parent) {
                    // A file an earlier version of the volume had where a directory is now wanted.
                    if WorkspaceFiles.exists(dir + "/" + parent) { unlink(dir + "/" + parent) }
                    try WorkspaceFiles.makeDirectory(dir + "/" + parent, mode: 0o755)
                }
            }
            let target = dir + "/" + parts.joined(separator: "/")
            keep.insert(parts.joined(separator: "/"))
            // A directory an earlier version of the volume had where a file is now wanted.
            if WorkspaceFiles.isDirectory(target) { try? FileManager.default.removeItem(atPath: target) }
            try WorkspaceFiles.writeAtomically(file.data, to: target, mode: file.mode)
        }
        WorkspaceFiles.prune(dir, keeping: keep)
    }
}
