import FoundationEssentials
import Model
import Support
import Synchronization

/// The set of pod UIDs the node took from the API server, kept in a small
/// file next to the journal (rewritten whole, atomically, on each change: a
/// node holds at most a few thousand pods). Without a path it lives in memory.
final class OwnedPods: Sendable {
    private let path: String?
    private let set: Mutex<Set<String>>

    init(path: String?) {
        self.path = path
        var s = Set<String>()
        if let path, let data = FileManager.default.contents(atPath: path),
           let list = try? JSONDecoder().decode([String].self, from: data) { s = Set(list) }
        set = Mutex(s)
    }

    func contains(_ uid: String) -> Bool { set.withLock { $0.contains(uid) } }

    func insert(_ uid: String) { change { $0.insert(uid).inserted } }
    func remove(_ uid: String) { change { $0.remove(uid) != nil } }

    private func change(_ f: (inout Set<String>) -> Bool) {
        let snapshot: [String]? = set.withLock { s in f(&s) ? s.sorted() : nil }
        guard let snapshot, let path else { return }
        do { try JSONEncoder().encode(snapshot).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            Log.warn("cannot record the node's pods", ["path": path, "error": "\(error)"])
        }
    }
}
