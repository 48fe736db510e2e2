import FoundationEssentials
import Model

/// The small local index of pods created with `ctl create`, so later commands
/// can name a pod (`ctl status hello`) although the interLink API works by UID
/// and wants the whole Pod for `/status` and `/delete`.
///
/// Lives in `$INTERLINK_CTL_STATE`, else `~/.interlink/ctl-pods.json`; written
/// whole and atomically on every change.
struct CtlState: Codable {
    struct Entry: Codable {
        var namespace: String
        var name: String
        var uid: String
        /// RFC 3339, when ctl created it (for the AGE column).
        var created: String
        var pod: Pod
    }

    var pods: [Entry] = []

    static func path(environment: [String: String]) -> String {
        if let p = environment["INTERLINK_CTL_STATE"], !p.isEmpty { return p }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "."
        return home + "/.interlink/ctl-pods.json"
    }

    /// A missing file is an empty index; an unreadable one is an error (never
    /// silently overwritten).
    static func load(from path: String) throws(CtlFailure) -> CtlState {
        guard FileManager.default.fileExists(atPath: path) else { return CtlState() }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            return try JSONDecoder().decode(CtlState.self, from: data)
        } catch {
            throw CtlFailure("cannot read the pod index \(path): \(WireJSON.describe(error))")
        }
    }

    func save(to path: String) throws(CtlFailure) {
        do {
            let dir = parentDirectory(of: path)
            if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            try WireJSON.encode(self, pretty: true).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw CtlFailure("cannot write the pod index \(path): \(error)")
        }
    }

    mutating func record(_ pod: Pod, at time: String = RFC3339.now()) {
        pods.removeAll { ($0.namespace == pod.namespace && $0.name == pod.name) || $0.uid == pod.uid }
        pods.append(Entry(namespace: pod.namespace, name: pod.name, uid: pod.uid, created: time, pod: pod))
    }

    mutating func forget(uid: String) { pods.removeAll { $0.uid == uid } }

    /// A pod by UID, or by name within `namespace`.
    func find(_ nameOrUID: String, namespace: String) -> Entry? {
        pods.first { $0.uid == nameOrUID } ?? pods.first { $0.name == nameOrUID && $0.namespace == namespace }
    }
}

/// The directory part of a path ("" when there is none).
func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "" }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}
