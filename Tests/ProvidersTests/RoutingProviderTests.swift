import Foundation
import Model
@testable import Providers
import Synchronization
import Testing

/// A backend that can be switched to "does not answer".
final class Switchable: Provider {
    let inner: MockProvider
    let down = Mutex(false)
    init(_ inner: MockProvider) { self.inner = inner }
    var name: String { "switchable" }
    var commandCount: Int { inner.commandCount }
    func check() throws { if down.withLock({ $0 }) { throw ProviderError.backend(command: "observe", message: "connection refused", transient: true) } }
    func create(_ pod: DesiredPod) async throws -> String { try check(); return try await inner.create(pod) }
    func observe() async throws -> [JobObservation] { try check(); return try await inner.observe() }
    func delete(_ job: JobRef) async throws { try check(); try await inner.delete(job) }
    func cleanup(_ job: JobRef) async throws { try await inner.cleanup(job) }
    func logs(_ job: JobRef, container: String, options: LogOpts) async throws -> LogStream { try await inner.logs(job, container: container, options: options) }
    func ping() async throws -> PingResponse? { try check(); return try await inner.ping() }
}

/// Several named backends behind one provider.
@Suite("Routing provider")
struct RoutingProviderTests {
    let hpc = MockProvider(runSeconds: 3600, startDelaySeconds: 0)
    let box = MockProvider(runSeconds: 3600, startDelaySeconds: 0)

    var routing: RoutingProvider {
        RoutingProvider(backends: [("hpc", hpc), ("box", box)],
                        rule: RoutingRule(matchLabels: [("hpc", ["gpu": "true"])], defaultName: "box"))
    }

    func desired(_ n: Int, annotations: [String: String] = [:], labels: [String: String]? = nil) -> DesiredPod {
        DesiredPod(request: PodCreateRequests(pod: RemoteFx.pod(n, annotations: annotations, labels: labels)))
    }

    @Test func podsGoByAnnotationThenLabelRuleThenDefaultAndEachBackendSeesOnlyItsOwn() async throws {
        let r = routing
        let a = try await r.create(desired(1, annotations: [RoutingRule.annotation: "hpc"]))
        let b = try await r.create(desired(2, labels: ["gpu": "true"]))
        let c = try await r.create(desired(3))
        let d = try await r.create(desired(4, annotations: [RoutingRule.annotation: "box"], labels: ["gpu": "true"]))
        #expect(a.hasPrefix("hpc/") && b.hasPrefix("hpc/") && c.hasPrefix("box/") && d.hasPrefix("box/"))
        #expect(Set(try await hpc.observe().map(\.podUID)) == [RemoteFx.uid(1), RemoteFx.uid(2)])
        #expect(Set(try await box.observe().map(\.podUID)) == [RemoteFx.uid(3), RemoteFx.uid(4)])
        let all = try await r.observe()
        #expect(all.count == 4)
        #expect(all.first { $0.podUID == RemoteFx.uid(1) }?.jobID == a)
    }

    @Test func aPodsNodeSelectorRoutesItAndSurvivesTheJournalEncoding() throws {
        var pod = RemoteFx.pod(7, annotations: [:], labels: ["accelerator": "gpu"])
        pod.spec?.nodeSelector = ["site": "hpc", "zone": "a"]
        // Journaled as JSON: the selector must come back or the pod would route differently after a restart.
        let back = try JSONDecoder().decode(Pod.self, from: try JSONEncoder().encode(pod))
        #expect(back.spec?.nodeSelector == ["site": "hpc", "zone": "a"])
        let rule = RoutingRule(matchLabels: [("box", ["accelerator": "gpu"])], defaultName: "box",
                               matchNodeSelector: [("hpc", ["site": "hpc"])])
        #expect(rule.choose(back, known: ["hpc", "box"]) == .backend("hpc"))
        pod.spec?.nodeSelector = ["site": "other"]
        #expect(rule.choose(pod, known: ["hpc", "box"]) == .backend("box"))
    }

    @Test func anAnnotationNamingNoBackendIsAnInvalidPod() async throws {
        do { _ = try await routing.create(desired(1, annotations: [RoutingRule.annotation: "nope"])); Issue.record("must throw") }
        catch let e as ProviderError {
            #expect(e == .invalidPod("annotation interlink.io/provider=\"nope\" names no backend of this InterLink; use one of box, hpc"))
        }
    }

    @Test func deleteLogsAndCleanupReachTheBackendTheJobIdNames() async throws {
        let r = routing
        // The annotation says hpc; even if the pod later changed, the id decides.
        let id = try await r.create(desired(1, annotations: [RoutingRule.annotation: "hpc"]))
        let obs = try #require(try await r.observe().first)
        var ref = obs.ref; ref.pod = RemoteFx.pod(1)  // no annotation now: would route to box by rule
        let backendJob = try #require(try await hpc.observe().first)
        #expect(id == "hpc/" + backendJob.jobID)
        let direct = try await RemoteFx.text(try await hpc.logs(backendJob.ref, container: "main", options: LogOpts()))
        #expect(try await RemoteFx.text(try await r.logs(ref, container: "main", options: LogOpts())) == direct)
        try await r.delete(ref)
        #expect(try await hpc.observe().filter { $0.state != .finished }.isEmpty)
        try await r.cleanup(ref)
    }

    @Test func oneBackendFailingFailsTheObservationSoNothingLooksLostAndPingSaysDegraded() async throws {
        let flaky = Switchable(box)
        let r = RoutingProvider(backends: [("hpc", hpc), ("box", flaky)], rule: RoutingRule(matchLabels: [], defaultName: "box"))
        _ = try await r.create(desired(1))
        flaky.down.withLock { $0 = true }
        do { _ = try await r.observe(); Issue.record("must throw") } catch let e as ProviderError {
            #expect(e.description.contains("observe of backend box"), "\(e)")
        }
        let p = try #require(try await r.ping())
        #expect(p.status?.hasPrefix("degraded") == true && p.status?.contains("box: unreachable") == true, "\(p)")
        let alone = try #require(try await hpc.ping()?.resources)
        #expect(try Quantity.parse(p.resources!.cpu) == (try Quantity.parse(alone.cpu)), "only the backend that answered counts")
        flaky.down.withLock { $0 = false }
        #expect(try await r.observe().count == 1)
    }

    @Test func pingFailsWhenNoBackendAnswers() async throws {
        let a = Switchable(hpc), b = Switchable(box)
        a.down.withLock { $0 = true }; b.down.withLock { $0 = true }
        let r = RoutingProvider(backends: [("hpc", a), ("box", b)], rule: RoutingRule(matchLabels: [], defaultName: "box"))
        await #expect(throws: ProviderError.self) { _ = try await r.ping() }
    }

    @Test func pingAddsUpCapacityAndNamesBackendsThatDoNotAnswer() async throws {
        let one = try #require(try await hpc.ping()?.resources)
        let p = try #require(try await routing.ping())
        let cpu = try Quantity.parse(one.cpu).milliValue * 2
        #expect(try Quantity.parse(try #require(p.resources).cpu).milliValue == cpu)
        #expect(try Quantity.parse(p.resources!.memory).milliValue == (try Quantity.parse(one.memory).milliValue) * 2)
        #expect(p.status?.hasPrefix("ok") == true)
    }
}
