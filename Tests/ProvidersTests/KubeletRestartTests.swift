import Testing
import Model
@testable import Providers

@Suite struct KubeletRestartTests {
    @Test func policiesDecideWhichExitsRestart() {
        #expect(KubeletRestart.restarts(.always, exitCode: 0))
        #expect(KubeletRestart.restarts(.always, exitCode: 3))
        #expect(!KubeletRestart.restarts(.onFailure, exitCode: 0))
        #expect(KubeletRestart.restarts(.onFailure, exitCode: 137))
        #expect(!KubeletRestart.restarts(.never, exitCode: 1))
        #expect(!KubeletRestart.restartsInit(.always, exitCode: 0))
        #expect(KubeletRestart.restartsInit(.always, exitCode: 1))
        #expect(!KubeletRestart.restartsInit(.never, exitCode: 1))
    }

    @Test func backoffDoublesFromTenSecondsUpToFiveMinutes() {
        #expect((1...7).map { KubeletRestart.backoffSeconds(streak: $0) } == [10, 20, 40, 80, 160, 300, 300])
        #expect(KubeletRestart.backoffSeconds(streak: 10_000) == 300)
        #expect(KubeletRestart.backoffSeconds(streak: 0) == 10)
    }

    @Test func tenMinutesOfRunningResetsTheBackoff() {
        #expect(KubeletRestart.nextStreak(previous: 5, ranSeconds: 599) == 6)
        #expect(KubeletRestart.nextStreak(previous: 5, ranSeconds: 600) == 1)
        #expect(KubeletRestart.nextStreak(previous: 0, ranSeconds: 1) == 1)
    }
}
