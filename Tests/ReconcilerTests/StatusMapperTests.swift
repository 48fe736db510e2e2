import FoundationEssentials
import Model
import Providers
@testable import Reconciler
import Testing

@Suite("Status mapping")
struct StatusMapperTests {
    @Test func aFinishedJobWhoseInitContainerFailedReportsTheMainContainersTerminated() {
        let initFailed = ContainerStatus(name: "setup", state: .terminated(ContainerStateTerminated(exitCode: 7, reason: "Error", finishedAt: "2026-11-29T10:00:00Z")))
        let main = ContainerStatus(name: "main", state: .waiting("PodInitializing"))
        let result = StatusMapper.finished([main], initContainers: [initFailed])
        let t = result.first?.state.terminated
        #expect(t?.exitCode == 7)
        #expect(t?.reason == "InitContainerFailed")
        #expect(t?.message?.contains("setup") == true)
        // The VK derives the phase from the main containers: it must read Failed, not Pending.
        #expect(PodPhase.derive(from: result) == .failed)
    }

    @Test func terminatedContainersAreLeftAsTheyAre() {
        let done = ContainerStatus(name: "main", state: .terminated(ContainerStateTerminated(exitCode: 0, reason: "Completed")))
        #expect(StatusMapper.finished([done], initContainers: []) == [done])
    }

    @Test func aContainerThatNeverRanInAFinishedJobIsNotReportedAsSuccess() {
        let never = ContainerStatus(name: "main", state: .waiting("ContainerCreating"))
        let result = StatusMapper.finished([never], initContainers: [])
        #expect(result.first?.state.terminated?.exitCode == 1)
        #expect(PodPhase.derive(from: result) == .failed)
    }
}
