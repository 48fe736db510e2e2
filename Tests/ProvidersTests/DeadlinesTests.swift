import FoundationEssentials
import Support
import Synchronization
import Testing

/// Timeouts that almost never fire (a filesystem read's, a wait that a signal
/// ends) are deadlines on one thread: a cancelled one is forgotten at once,
/// instead of a cancelled sleeping task staying alive for its whole timeout
/// (heaptrack: about 1.8 KiB per pod at 10,000 Slurm pods).
@Suite struct DeadlinesTests {
    @Test func aDeadlineFiresOnceAfterItsTimeNotBefore() async throws {
        let d = Deadlines()
        let fired = Mutex<[ContinuousClock.Instant]>([])
        let start = ContinuousClock.now
        d.after(0.2) { fired.withLock { $0.append(.now) } }
        d.after(0.05) { fired.withLock { $0.append(.now) } }
        try await Task.sleep(for: .milliseconds(600))
        let times = fired.withLock { $0 }
        #expect(times.count == 2)
        #expect(times.sorted() == times, "the earlier deadline fires first")
        if times.count == 2 {
            #expect(times[0] - start >= .milliseconds(50))
            #expect(times[1] - start >= .milliseconds(200))
        }
        #expect(d.pending == 0)
    }

    @Test func aCancelledDeadlineNeverFiresAndIsForgottenAtOnce() async throws {
        let d = Deadlines()
        let fired = Mutex(0)
        let tokens = (0..<1000).map { _ in d.after(0.1) { fired.withLock { $0 += 1 } } }
        #expect(d.pending == 1000)
        for t in tokens { d.cancel(t) }
        #expect(d.pending == 0, "cancelled deadlines are not held until their time")
        try await Task.sleep(for: .milliseconds(300))
        #expect(fired.withLock { $0 } == 0)
    }
}
