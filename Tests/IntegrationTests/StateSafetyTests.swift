import Foundation
import Model
import Providers
import Testing

/// Issue 12 points 2 and 3 against the real binary on the mock provider: a
/// damaged journal never silently drops acknowledged pods (and so never gets
/// their jobs cancelled as orphans), and a state directory that comes up empty
/// never turns into a purge of the backend.
@Suite("Damaged or missing state never deletes running work", .serialized,
       .enabled(if: TestEnv.hasBinary, "needs INTERLINK_TEST_BINARY (make test sets it)"))
struct StateSafetyTests {
    static func state(_ il: InterLinkInstance, _ args: [String]) async throws -> ProcessResult {
        try await ProcessRunner.run(TestEnv.binary!, ["state"] + args + ["--config", il.configPath], timeout: 30)
    }

    static func runningPods(_ il: InterLinkInstance, _ n: Int, prefix: String) async throws -> [Pod] {
        var pods: [Pod] = []
        for i in 0..<n {
            let pod = Pods.make("\(prefix)-\(i)", containers: [Container(name: "main", image: "busybox")])
            #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200)
            pods.append(pod)
        }
        for pod in pods { try await il.waitForStatus(pod, timeout: 30) { $0.phase == .running } }
        return pods
    }

    static func metric(_ il: InterLinkInstance, _ name: String) async throws -> String? {
        let text = try await il.request("GET", "/metrics", body: nil).text
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.map { String($0.dropFirst(name.count + 1)) }
    }

    static func backendJobs(_ il: InterLinkInstance) -> [String: Int] {
        var out: [String: Int] = [:]
        for j in MockProvider.loadJobs(statePath: il.dataRoot + "/mock-backend.json") { out[j.podUID, default: 0] += 1 }
        return out
    }

    /// Frames of a journal: (offset, payload) for each length+CRC+payload record.
    static func frames(_ data: Data) -> [(offset: Int, payload: Data)] {
        let b = [UInt8](data)
        var out: [(Int, Data)] = []
        var off = 0
        while b.count - off >= 8 {
            let len = Int(b[off]) | Int(b[off + 1]) << 8 | Int(b[off + 2]) << 16 | Int(b[off + 3]) << 24
            guard len > 0, off + 8 + len <= b.count else { break }
            out.append((off, Data(b[(off + 8)..<(off + 8 + len)])))
            off += 8 + len
        }
        return out
    }

    @Test func aFlippedByteMidJournalRefusesToStartAndRepairKeepsEveryAcknowledgedPod() async throws {
        try await InterLinkInstance.with(provider: "mock", extraConfig: "MockRunSeconds: 3600") { il in
            let pods = try await Self.runningPods(il, 6, prefix: "journal")
            let jids = try await pods.asyncMap { try await il.status($0).JID }
            #expect(await il.stop() == 0)

            // Damage the record of pod 2's job id, in the middle of the journal.
            let path = il.dataRoot + "/state/journal"
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let all = Self.frames(Data(bytes))
            let target = try #require(all.firstIndex { f in
                let s = String(decoding: f.payload, as: UTF8.self)
                return s.contains(pods[2].uid) && s.contains("\"created\"")
            })
            #expect(target < all.count - 1, "the damaged record has intact records after it")
            let offset = all[target].offset
            bytes[offset + 8 + all[target].payload.count / 2] ^= 0x5A
            let damaged = Data(bytes)
            try damaged.write(to: URL(fileURLWithPath: path))

            // The server refuses, with one line naming the file and the offset.
            do { try await il.start(); Issue.record("started on a damaged journal") } catch {
                #expect("\(error)".contains("journal \(path) is damaged at byte offset \(offset)"), "\(error)")
            }
            #expect(Self.backendJobs(il).count == 6, "nothing was cancelled")

            let check = try await Self.state(il, ["check"])
            #expect(check.exitCode == 1, "\(check.stdoutText)\(check.stderrText)")
            #expect(check.stdoutText.contains("at offset \(offset)"), "\(check.stdoutText)")

            let repair = try await Self.state(il, ["repair"])
            #expect(repair.exitCode == 0, "\(repair.stdoutText)\(repair.stderrText)")
            #expect(repair.stdoutText.contains("dropped:") && repair.stdoutText.contains("offset \(offset)"), "\(repair.stdoutText)")
            let backupLine = try #require(repair.stdoutText.split(separator: "\n").first { $0.hasPrefix("backup of the original files: ") })
            let backup = String(backupLine.dropFirst("backup of the original files: ".count))
            #expect(try Data(contentsOf: URL(fileURLWithPath: backup + "/journal")) == damaged, "the original is kept byte for byte")
            #expect(try await Self.state(il, ["check"]).exitCode == 0)

            // Every acknowledged pod is back, on its original job: nothing re-run, nothing cancelled.
            try await il.start()
            for (pod, jid) in zip(pods, jids) {
                let (s, _) = try await il.waitForStatus(pod, timeout: 30) { $0.phase == .running && !$0.JID.isEmpty }
                #expect(s.JID == jid)
                #expect(s.containers.first?.restartCount == 0)
            }
            #expect(Self.backendJobs(il) == Dictionary(uniqueKeysWithValues: pods.map { ($0.uid, 1) }))
            #expect(!il.log().contains("\"reason\":\"orphan\""), "a job was cancelled as an orphan")
        }
    }

    @Test func aDeletedStateDirectoryCancelsNothingWithinTheGraceWindowAndTheJobsAreAdoptedAgain() async throws {
        try await InterLinkInstance.with(provider: "mock", extraConfig: "MockRunSeconds: 3600") { il in
            let pods = try await Self.runningPods(il, 3, prefix: "lost-state")
            await il.kill9()
            try FileManager.default.removeItem(atPath: il.dataRoot + "/state")
            try await il.start()
            try await Task.sleep(nanoseconds: 3_000_000_000)   // six resyncs at 0.5 s
            #expect(Self.backendJobs(il).count == 3, "jobs of unknown pods were cancelled within the grace window")
            #expect(try await Self.metric(il, "interlink_orphans_pending") == "3")
            let reports = il.log().split(separator: "\n").filter { $0.contains("does not know") }
            #expect(reports.count == 3, "one report per unknown job, not one per tick: \(reports.count)")
            #expect(!il.log().contains("cancelled backend job"))
            // The VK sends the pods again: their owner is known, the jobs are adopted.
            for pod in pods { #expect(try await il.create(PodCreateRequests(pod: pod)).status == 200) }
            for pod in pods {
                let (s, _) = try await il.waitForStatus(pod, timeout: 30) { $0.phase == .running && !$0.JID.isEmpty }
                #expect(s.containers.first?.restartCount == 0)
            }
            try await Task.sleep(nanoseconds: 1_000_000_000)   // a resync recounts the unknown jobs
            #expect(try await Self.metric(il, "interlink_orphans_pending") == "0")
            #expect(Self.backendJobs(il).values.allSatisfy { $0 == 1 } && Self.backendJobs(il).count == 3)
        }
    }

    @Test func anEmptyStateDirectoryFacingManyJobsIsALoudRefusalNotAPurge() async throws {
        try await InterLinkInstance.with(provider: "mock", extraConfig: "MockRunSeconds: 3600\nOrphanGraceSeconds: 0.5") { il in
            _ = try await Self.runningPods(il, 12, prefix: "mass")
            await il.kill9()
            try FileManager.default.removeItem(atPath: il.dataRoot + "/state")
            try await il.start()
            try await Task.sleep(nanoseconds: 3_000_000_000)   // well past the (short) grace window
            #expect(Self.backendJobs(il).count == 12, "an empty state directory purged the backend")
            #expect(try await Self.metric(il, "interlink_orphan_collection_refused") == "1")
            let errors = il.log().split(separator: "\n").filter { $0.contains("refusing to collect orphan jobs") }
            #expect(errors.count == 1 && errors[0].contains("\"level\":\"error\""), "\(errors)")
        }
    }
}

extension Array {
    func asyncMap<T>(_ f: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await f(e)) }
        return out
    }
}
