import FoundationEssentials
import Model
import Support
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What the remote provider remembers of one pod it sent to the plugin.
struct RemotePodEntry: Codable, Sendable, Equatable {
    var pod: Pod
    var attempt: Int
    /// The plugin's job id, or the pod UID when the plugin answered none.
    var jobID: String
}

/// The pods this provider has handed to its plugin, one small JSON file per
/// pod under `<DataRootFolder>/remote-<name>/`. The plugin API has no "list
/// everything" call: `/status` answers only for the pods it is asked about, so
/// the provider must know them itself, and across restarts of InterLink (the
/// reconciler calls `observe` before any `create` after a restart). An entry is
/// written before `/create` is sent, so a crash in between leaves a pod that is
/// asked about (and, if the plugin never got it, seen missing and re-created),
/// never a job nobody asks about; it is removed by `cleanup`.
final class RemotePodIndex: Sendable {
    let directory: String
    private let entries: Mutex<[String: RemotePodEntry]>

    init(directory: String) {
        self.directory = directory
        var loaded: [String: RemotePodEntry] = [:]
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for n in names where n.hasSuffix(".json") && !n.hasPrefix(".") {
            guard let d = FileManager.default.contents(atPath: directory + "/" + n),
                  let e = try? WireJSON.decode(RemotePodEntry.self, from: d) else {
                Log.warn("ignoring an unreadable remote pod index file", ["path": directory + "/" + n])
                continue
            }
            loaded[e.pod.uid] = e
        }
        entries = Mutex(loaded)
    }

    var all: [String: RemotePodEntry] { entries.withLock { $0 } }

    func entry(_ uid: String) -> RemotePodEntry? { entries.withLock { $0[uid] } }

    /// Only UIDs safe as a file name are stored (Kubernetes UIDs always are).
    static func fileName(_ uid: String) -> String? {
        guard !uid.isEmpty, uid.utf8.count <= 128,
              uid.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || $0 == 0x2D })
        else { return nil }
        return uid + ".json"
    }

    func put(_ e: RemotePodEntry) throws(ProviderError) {
        guard let name = Self.fileName(e.pod.uid) else {
            throw .invalidPod("pod UID \"\(e.pod.uid)\" is not a Kubernetes UID (letters, digits and '-')")
        }
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .backend(command: "mkdir \(directory)", message: "\(error)", transient: true)
        }
        let data: Data
        do { data = try WireJSON.encode(e) } catch {
            throw .backend(command: "encode remote pod index", message: "\(error)", transient: false)
        }
        try WorkspaceFiles.writeAtomically(data, to: directory + "/" + name, mode: 0o600)
        entries.withLock { $0[e.pod.uid] = e }
    }

    func remove(_ uid: String) {
        entries.withLock { $0[uid] = nil }
        if let name = Self.fileName(uid) { unlink(directory + "/" + name) }
    }
}
