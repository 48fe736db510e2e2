import Foundation
import KubeClient
import Model
import Providers
import StatusPatcher
import Synchronization
import Testing

/// A status source the test drives: each `snapshot()` answers the next
/// scripted map (the last one repeats), or the live map when not scripted;
/// `set` also publishes the change to `changes()` subscribers, as StatusView does.
final class FakeStatusSource: PodStatusSource {
    private struct State {
        var live: [String: PodStatus] = [:]
        var script: [[String: PodStatus]] = []
        var snapshots = 0
        var observers: [AsyncStream<[String: PodStatus?]>.Continuation] = []
    }
    private let state = Mutex(State())
    func set(_ uid: String, _ st: PodStatus?) {
        let observers = state.withLock { s in s.live[uid] = st; return s.observers }
        for o in observers { o.yield([uid: st]) }
    }
    func script(_ maps: [[String: PodStatus]]) { state.withLock { $0.script = maps } }
    func snapshot() -> [String: PodStatus] {
        state.withLock { s in
            s.snapshots += 1
            guard !s.script.isEmpty else { return s.live }
            let next = s.script.count > 1 ? s.script.removeFirst() : s.script[0]
            s.live = next
            return next
        }
    }
    func changes() -> AsyncStream<[String: PodStatus?]> {
        let (stream, c) = AsyncStream.makeStream(of: [String: PodStatus?].self)
        state.withLock { $0.observers.append(c) }
        return stream
    }
    /// How many times the patcher read every status.
    var snapshotCount: Int { state.withLock { $0.snapshots } }
    var subscribers: Int { state.withLock { $0.observers.count } }
}

/// The status patcher against the contract API server: what reaches
/// `pods/{name}/status`, when, and that each patched pod is a valid object.
@Suite struct StatusPatcherTests {
    let dir = makeTempDir()

    func client(_ server: ContractServer) throws -> KubeClient {
        let file = dir + "/token"
        try "token-1".write(toFile: file, atomically: true, encoding: .utf8)
        return KubeClient(connection: server.connection(tokenFile: file), qps: 100, burst: 100,
                          retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(10)))
    }

    static func seedPod(_ name: String, uid: String, initContainer: Bool = false) -> [String: Any] {
        var spec: [String: Any] = ["nodeName": "vk", "restartPolicy": "Never",
                                   "containers": [["name": "main", "image": "busybox:1.36"]]]
        if initContainer { spec["initContainers"] = [["name": "setup", "image": "busybox:1.36"]] }
        return ["metadata": ["name": name, "namespace": "default", "uid": uid], "spec": spec,
                "status": ["phase": "Pending", "qosClass": "BestEffort"]]
    }

    static func status(_ name: String, _ uid: String, _ state: ContainerState, restarts: Int32 = 0) -> PodStatus {
        PodStatus(name: name, UID: uid, namespace: "default", JID: "job-1",
                  containers: [ContainerStatus(name: "main", image: "busybox:1.36", restartCount: restarts, state: state)])
    }

    static let creating = ContainerState.waiting("ContainerCreating")
    static let running = ContainerState.running(since: "2026-01-01T00:00:01Z")
    static func exited(_ code: Int32) -> ContainerState {
        .terminated(ContainerStateTerminated(exitCode: code, reason: code == 0 ? "Completed" : "Error",
                                             startedAt: "2026-01-01T00:00:01Z", finishedAt: "2026-01-01T00:00:09Z"))
    }

    func statusPatches(_ server: ContractServer) async throws -> [ContractServer.Recorded] {
        try await server.requests().filter { $0.method == "PATCH" && $0.path.hasSuffix("/status") }
    }

    func phases(_ patches: [ContractServer.Recorded], _ name: String) -> [String] {
        patches.filter { $0.path.contains("/pods/\(name)/") }.compactMap { ($0.json?["status"] as? [String: Any])?["phase"] as? String }
    }

    let u1 = "11111111-1111-4111-8111-111111111111", u2 = "22222222-2222-4222-8222-222222222222"

    @Test func lifecyclePatchesArriveInOrderOnlyOnChangeAndValidate() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        try await server.seed([Self.seedPod("web", uid: u1), Self.seedPod("bad", uid: u2)])
        let source = FakeStatusSource()
        let patcher = StatusPatcher(client: try client(server), source: source)

        for state in [Self.creating, Self.creating, Self.running, Self.running, Self.exited(0), Self.exited(0)] {
            source.set(u1, Self.status("web", u1, state))
            await patcher.flush()
        }
        source.set(u2, Self.status("bad", u2, Self.exited(3)))
        await patcher.flush()
        await patcher.flush()

        let patches = try await statusPatches(server)
        #expect(phases(patches, "web") == ["Pending", "Running", "Succeeded"])
        #expect(phases(patches, "bad") == ["Failed"])
        #expect(patches.allSatisfy { $0.contentType == "application/strategic-merge-patch+json" })
        #expect(patches.allSatisfy { (($0.json?["metadata"] as? [String: Any])?["uid"] as? String).map { [u1, u2].contains($0) } == true },
                "every patch must carry the pod's UID as a precondition")
        #expect(patcher.metrics.patchesSent == 4)

        // Transition times stay put while a condition's state does not change.
        let pods = try await server.pods()
        let web = try #require(pods.first { ($0["metadata"] as? [String: Any])?["name"] as? String == "web" })
        let status = try #require(web["status"] as? [String: Any])
        #expect(status["qosClass"] as? String == "BestEffort", "fields the patcher does not own are left alone")
        let conds = try #require(status["conditions"] as? [[String: Any]])
        let scheduled = try #require(conds.first { $0["type"] as? String == "PodScheduled" })
        let firstPatchConds = try #require((patches.first?.json?["status"] as? [String: Any])?["conditions"] as? [[String: Any]])
        #expect(scheduled["lastTransitionTime"] as? String == firstPatchConds.first { $0["type"] as? String == "PodScheduled" }?["lastTransitionTime"] as? String)
        let ready = try #require(conds.first { $0["type"] as? String == "Ready" })
        #expect(ready["status"] as? String == "False" && ready["reason"] as? String == "PodCompleted")

        try await validate(patches)
    }

    /// Each pod as it stood after each patch, through `kubernetes-validate --strict`.
    func validate(_ patches: [ContractServer.Recorded]) async throws {
        let raw = try JSONSerialization.jsonObject(with: try await ContractServerRaw.requests(patches)) as? [[String: Any]] ?? []
        var files: [String] = []
        for (i, m) in raw.enumerated() {
            let path = dir + "/merged-\(i).json"
            try JSONSerialization.data(withJSONObject: m).write(to: URL(fileURLWithPath: path))
            files.append(path)
        }
        try #require(!files.isEmpty)
        let r = try await ProcessRunner.run("kubernetes-validate", ["--strict", "--quiet"] + files, timeout: 120)
        #expect(r.succeeded, "kubernetes-validate (install it with scripts/install-deps.sh test): \(r.stdoutText) \(r.stderrText)")
    }

    /// `run()`: one snapshot at start, then only the source's change stream (no
    /// polling); each change arrives as one patch, in order, and a patch the
    /// API server refused (500 twice: the client's own retry is spent) is sent
    /// again by the patcher without another change.
    @Test func runConsumesChangesWithoutPollingAndRetriesAFailedPatch() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        try await server.seed([Self.seedPod("web", uid: u1)])
        let source = FakeStatusSource()
        source.set(u1, Self.status("web", u1, Self.creating))   // before start: found by the snapshot
        let patcher = StatusPatcher(client: try client(server), source: source, retryDelay: .milliseconds(50))
        let run = Task { await patcher.run() }
        defer { run.cancel() }
        try await eventually { self.phases(try await self.statusPatches(server), "web") == ["Pending"] }
        source.set(u1, Self.status("web", u1, Self.running))
        try await eventually { self.phases(try await self.statusPatches(server), "web") == ["Pending", "Running"] }
        try await server.inject([["method": "PATCH", "path": "/api/v1/namespaces/default/pods/web/status", "status": 500, "count": 2]])
        source.set(u1, Self.status("web", u1, Self.exited(0)))
        try await eventually { self.phases(try await self.statusPatches(server).filter { $0.code == 200 }, "web").last == "Succeeded" }
        let patches = try await statusPatches(server)
        #expect(patches.map(\.code).filter { $0 == 500 }.count == 2, "the injected failures were met")
        #expect(phases(patches.filter { $0.code == 200 }, "web") == ["Pending", "Running", "Succeeded"])
        #expect(patcher.metrics.patchesFailed == 1)
        #expect(source.snapshotCount == 1, "run() read the whole source once and then only its changes")
        run.cancel()
        await run.value
        #expect(source.subscribers == 1)
    }

    /// Polls `condition` (every 5 ms) and fails the test after `timeout` seconds instead of hanging.
    func eventually(_ timeout: Double = 20, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while !(try await condition()) {
            guard ContinuousClock.now < deadline else { Issue.record("condition not met in \(timeout) s"); throw CancellationError() }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test func afterARestartMatchingStatusesAreNotPatchedAgain() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        try await server.seed([Self.seedPod("web", uid: u1)])
        let source = FakeStatusSource()
        source.set(u1, Self.status("web", u1, Self.running))
        let first = StatusPatcher(client: try client(server), source: source)
        await first.flush()
        #expect(try await statusPatches(server).count == 1)

        let restarted = StatusPatcher(client: try client(server), source: source)
        await restarted.flush()
        #expect(try await statusPatches(server).count == 1, "the API server already shows this status")
        #expect(restarted.metrics.patchesSkipped == 1)
        source.set(u1, Self.status("web", u1, Self.exited(0)))
        await restarted.flush()
        #expect(phases(try await statusPatches(server), "web") == ["Running", "Succeeded"])
    }

    @Test func aPodReusingTheNameIsNeverPatched() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        try await server.seed([Self.seedPod("web", uid: u2)])  // the API server's "web" is another pod
        let source = FakeStatusSource()
        let patcher = StatusPatcher(client: try client(server), source: source)
        source.set(u1, Self.status("web", u1, Self.running))
        await patcher.flush()
        source.set(u1, Self.status("web", u1, Self.exited(0)))
        await patcher.flush()
        #expect(try await statusPatches(server).isEmpty)
        #expect(try await server.requests().count == 1, "one read showed the UID differs; nothing after")
    }

    @Test func notFoundStopsPatchingThatPod() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        let source = FakeStatusSource()
        let patcher = StatusPatcher(client: try client(server), source: source)
        source.set(u1, Self.status("gone", u1, Self.running))
        await patcher.flush()
        source.set(u1, Self.status("gone", u1, Self.exited(0)))
        await patcher.flush()
        #expect(try await server.requests().map(\.code) == [404])
    }

    @Test func changesWhileAPatchIsOutCoalesce() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        try await server.seed([Self.seedPod("web", uid: u1), Self.seedPod("bad", uid: u2)])
        let source = FakeStatusSource()
        let patcher = StatusPatcher(client: try client(server), source: source)
        // "bad" is queued behind "web"; while "web" is being patched it changes again.
        source.script([
            [u1: Self.status("web", u1, Self.running), u2: Self.status("bad", u2, Self.creating)],
            [u1: Self.status("web", u1, Self.running), u2: Self.status("bad", u2, Self.exited(3))],
        ])
        await patcher.flush()
        await patcher.flush()
        let patches = try await statusPatches(server)
        #expect(phases(patches, "bad") == ["Failed"], "only the latest status of a queued pod is sent")
        #expect(patcher.metrics.patchesCoalesced == 1)
    }

    @Test func createFailureAndRestartsBecomeDeduplicatedEvents() async throws {
        let server = try await ContractServer.start(); defer { server.stop() }
        try await server.seed([Self.seedPod("web", uid: u1)])
        let source = FakeStatusSource()
        let patcher = StatusPatcher(client: try client(server), source: source)
        let failing = ContainerState.waiting("CreateFailed", "image busybox:nope not found")
        for st in [Self.status("web", u1, failing), Self.status("web", u1, Self.creating), Self.status("web", u1, failing),
                   Self.status("web", u1, Self.running, restarts: 1)] {
            source.set(u1, st)
            await patcher.flush()
        }
        let events = try await server.events()
        let failed = events.filter { $0["reason"] as? String == "FailedCreate" }
        #expect(failed.count == 1, "a repeated failure updates one Event")
        #expect(failed.first?["count"] as? Int == 2)
        #expect((failed.first?["message"] as? String)?.contains("image busybox:nope not found") == true)
        #expect(events.contains { $0["reason"] as? String == "Restarted" && ($0["involvedObject"] as? [String: Any])?["uid"] as? String == u1 })
        // Events validate as objects too.
        var files: [String] = []
        for (i, e) in events.enumerated() {
            let p = dir + "/event-\(i).json"
            try JSONSerialization.data(withJSONObject: e).write(to: URL(fileURLWithPath: p)); files.append(p)
        }
        let r = try await ProcessRunner.run("kubernetes-validate", ["--strict", "--quiet"] + files, timeout: 120)
        #expect(r.succeeded, "\(r.stdoutText) \(r.stderrText)")
    }
}

/// The `merged` objects the contract server recorded for each status patch.
enum ContractServerRaw {
    static func requests(_ patches: [ContractServer.Recorded]) async throws -> Data {
        try JSONSerialization.data(withJSONObject: patches.compactMap { $0.merged })
    }
}
