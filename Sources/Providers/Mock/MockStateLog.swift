import FoundationEssentials
import Model
import Support
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The mock backend's state file: JSON lines, each `{"put": job}`,
/// `{"del": "uid/attempt"}` or `{"next": N}` (the next job number, written at
/// each rewrite so an id is never given twice), appended with one `write` (O_APPEND) per change,
/// so a create costs O(1). Once the file holds more than twice as many lines as
/// live jobs it is rewritten atomically from them (amortised O(1)). A line a
/// kill cut short is ignored on load. The old format (one JSON array) is read
/// too and rewritten in this one.
final class MockStateLog: Sendable {
    private struct Line: Codable { var put: MockJob?; var del: String?; var next: Int? }
    private struct State { var fd: Int32 = -1; var lines = 0; var live = 0 }
    private let state: Mutex<State>
    let path: String

    init(path: String, live: [MockJob], nextJob: Int) {
        self.path = path
        state = Mutex(State())
        // The provider opens before the store has created the data root.
        let parent = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !parent.isEmpty {
            try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true,
                                                     attributes: [.posixPermissions: 0o700])
        }
        state.withLock { s in s.live = live.count; Self.rewrite(path, live, nextJob: nextJob, &s) }
    }

    deinit { state.withLock { s in if s.fd >= 0 { close(s.fd) } } }

    /// The live jobs, and the next job number: past every id the file ever
    /// held (removed jobs too) and past its `next` line.
    static func load(_ path: String) -> (jobs: [MockJob], nextJob: Int) {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)), !data.isEmpty else { return ([], 1) }
        let decoder = JSONDecoder()
        if data.first == UInt8(ascii: "[") {
            if let jobs = try? decoder.decode([MockJob].self, from: data) {
                return (jobs, jobs.reduce(1) { max($0, nextNumber(after: $1.jobID)) })
            }
            Log.warn("mock provider state file is unreadable; starting with no jobs", ["path": path])
            return ([], 1)
        }
        var jobs: [String: MockJob] = [:]
        var order: [String] = []
        var next = 1
        for raw in data.split(separator: UInt8(ascii: "\n")) {
            guard let line = try? decoder.decode(Line.self, from: Data(raw)) else { continue }  // a torn last line
            if let j = line.put {
                let k = MockProvider.JobKey.text(j.podUID, j.attempt)
                if jobs[k] == nil { order.append(k) }
                jobs[k] = j
                next = max(next, nextNumber(after: j.jobID))
            }
            if let k = line.del { jobs[k] = nil }
            if let n = line.next { next = max(next, n) }
        }
        return (order.compactMap { jobs[$0] }, next)
    }

    /// The job number after `id` when it is `mock-N` (1 otherwise: an id of another form).
    static func nextNumber(after id: String) -> Int {
        guard id.hasPrefix("mock-"), let n = Int(id.dropFirst(5)), n >= 0, n < Int.max else { return 1 }
        return n + 1
    }

    func append(put: [MockJob], delete: [String], live: () -> (jobs: [MockJob], nextJob: Int)) {
        let encoder = JSONEncoder()
        var out = Data()
        for j in put { if let d = try? encoder.encode(Line(put: j)) { out.append(d); out.append(0x0A) } }
        for k in delete { if let d = try? encoder.encode(Line(del: k)) { out.append(d); out.append(0x0A) } }
        state.withLock { s in
            s.live += put.count - delete.count
            if s.fd >= 0 {
                if !FileDescriptor.writeAll(s.fd, out) { Log.warn("mock provider cannot save its state", ["path": path, "error": String(cString: strerror(errno))]) }
                s.lines += put.count + delete.count
            }
            // Under the same lock as the appends, so no change lands in the old file after the copy.
            if s.lines > max(1024, 2 * s.live) {
                let (jobs, next) = live()
                s.live = jobs.count
                Self.rewrite(path, jobs, nextJob: next, &s)
            }
        }
    }

    /// Replaces the file with the next job number and one `put` line per live
    /// job, and reopens it for appending.
    private static func rewrite(_ path: String, _ jobs: [MockJob], nextJob: Int, _ s: inout State) {
        let encoder = JSONEncoder()
        var out = Data()
        if let d = try? encoder.encode(Line(next: nextJob)) { out.append(d); out.append(0x0A) }
        for j in jobs { if let d = try? encoder.encode(Line(put: j)) { out.append(d); out.append(0x0A) } }
        // A temp file renamed over the old one: a kill leaves one or the other.
        let tmp = path + ".tmp"
        let tfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if tfd < 0 || !FileDescriptor.writeAll(tfd, out) || rename(tmp, path) != 0 {
            Log.warn("mock provider cannot save its state", ["path": path, "error": String(cString: strerror(errno))])
        }
        if tfd >= 0 { close(tfd) }
        if s.fd >= 0 { close(s.fd) }
        s.fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        s.lines = jobs.count
    }
}
