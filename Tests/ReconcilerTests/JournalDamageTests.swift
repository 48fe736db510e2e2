import FoundationEssentials
import Testing
import Model
@testable import Reconciler
#if canImport(Glibc)
import Glibc
#endif

/// A torn tail is cut; damage with intact records after it is a refusal that
/// names the offset; `StateMaintenance` reports and repairs, keeping a backup.
@Suite struct JournalDamageTests {
    func journalWith(_ n: Int) async throws -> (dir: String, path: String) {
        let dir = Fx.tempDir()
        let s = try DesiredStore(directory: dir + "/state")
        for i in 0..<n { try await s.apply([(Fx.uid(i), .desired(Fx.request(i)))]) }
        await s.close()
        return (dir, dir + "/state/journal")
    }

    @Test func aZeroFilledTailCountsAsTornAndIsCut() async throws {
        let (dir, path) = try await journalWith(3)
        let good = Fx.fileSize(path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes.append(Data(repeating: 0, count: 4096))   // the file was extended, the data never written
        try bytes.write(to: URL(fileURLWithPath: path))
        let s = try DesiredStore(directory: dir + "/state")
        #expect(await s.count == 3)
        #expect(await s.loadReport.clean, "an interrupted write does not make the load unclean")
        await s.close()
        #expect(Fx.fileSize(path) == good)
    }

    @Test func damageWithIntactRecordsAfterItRefusesToOpenNamingTheOffset() async throws {
        let (dir, path) = try await journalWith(5)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let scan = JournalScan.scan(Data(bytes))
        let victim = scan.frames[1]
        bytes[victim.offset + 8 + 10] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try DesiredStore(directory: dir + "/state")
            Issue.record("opened a journal damaged in the middle")
        } catch {
            guard case .damagedJournal(let p, let offset, _, let after) = error else { Issue.record("wrong error \(error)"); return }
            #expect(p == path && offset == victim.offset && after == 3)
            #expect(error.description.contains("byte offset \(victim.offset)"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(bytes), "nothing was truncated")

        let report = try StateMaintenance.check(directory: dir + "/state")
        #expect(report.damaged)
        #expect(report.text.contains("at offset \(victim.offset), 3 intact records after it"))

        let repaired = try StateMaintenance.repair(directory: dir + "/state")
        #expect(repaired.contains { $0.contains("dropped:") && $0.contains("offset \(victim.offset)") })
        let s = try DesiredStore(directory: dir + "/state")
        #expect(await s.all().keys.sorted() == [0, 2, 3, 4].map(Fx.uid), "every intact record after the damage is kept")
        await s.close()
        #expect(try StateMaintenance.check(directory: dir + "/state").damaged == false)
    }

    @Test func repairRefusesWhileAServerHoldsTheStore() async throws {
        let (dir, _) = try await journalWith(1)
        let s = try DesiredStore(directory: dir + "/state")
        #expect(throws: ReconcilerError.self) { _ = try StateMaintenance.repair(directory: dir + "/state") }
        await s.close()
        #expect(try StateMaintenance.repair(directory: dir + "/state").last == "nothing to repair")
    }
}
