import FoundationEssentials
import Testing
import Model
@testable import Providers

/// Docker state -> Kubernetes ContainerStatus, and init sequencing, from canned
/// `docker inspect` output (shapes copied from a real daemon).
@Suite struct DockerInspectTests {
    static func container(id: String, uid: String = "u1", name: String = "main", attempt: Int = 0,
                          isInit: Bool = false, index: Int = 0, count: Int = 1, status: String,
                          exitCode: Int = 0, oom: Bool = false, error: String = "",
                          startedAt: String = "0001-01-01T00:00:00Z", finishedAt: String = "0001-01-01T00:00:00Z") -> String {
        """
        {"Id": "\(id)", "Created": "2026-11-29T17:24:15.212579676Z", "Name": "/il-ns-p-\(id)",
         "Image": "sha256:172a0596ee13",
         "State": {"Status": "\(status)", "Running": \(status == "running"), "Paused": false, "Restarting": false,
                   "OOMKilled": \(oom), "Dead": false, "Pid": 0, "ExitCode": \(exitCode), "Error": "\(error)",
                   "StartedAt": "\(startedAt)", "FinishedAt": "\(finishedAt)"},
         "Config": {"Hostname": "x", "Env": ["PATH=/bin"], "Cmd": ["sh"], "Image": "interlink-test/busybox:latest",
                    "Labels": {"interlink.managed": "il", "interlink.pod-uid": "\(uid)", "interlink.namespace": "ns",
                               "interlink.pod-name": "p", "interlink.container": "\(name)",
                               "interlink.attempt": "\(attempt)", "interlink.init": "\(isInit)",
                               "interlink.index": "\(index)", "interlink.count": "\(count)"}}}
        """
    }

    static func records(_ items: [String]) throws -> [DockerContainerRecord] {
        try DockerInspect.records(from: Data("[\(items.joined(separator: ","))]".utf8))
    }

    @Test func createdIsWaitingContainerCreating() throws {
        let r = try Self.records([Self.container(id: "a", status: "created")])
        let s = DockerInspect.status(of: r[0])
        #expect(s.state.waiting?.reason == "ContainerCreating")
        #expect(s.ready == false)
        #expect(s.containerID == "docker://a")
        #expect(s.image == "interlink-test/busybox:latest")
    }

    @Test func runningCarriesStartedAtInSeconds() throws {
        let r = try Self.records([Self.container(id: "a", status: "running", startedAt: "2026-11-29T17:24:15.855679433Z")])
        let s = DockerInspect.status(of: r[0])
        #expect(s.state.running?.startedAt == "2026-11-29T17:24:15Z")
        #expect(s.ready && s.started == true)
    }

    @Test func exitedMapsExitCodeReasonAndTimes() throws {
        let r = try Self.records([
            Self.container(id: "a", status: "exited", exitCode: 0, startedAt: "2026-11-29T17:24:15.8Z", finishedAt: "2026-11-29T17:24:16.1Z"),
            Self.container(id: "b", status: "exited", exitCode: 42),
            Self.container(id: "c", status: "exited", exitCode: 137, oom: true),
            Self.container(id: "d", status: "exited", exitCode: 127, error: "exec: \\\"nope\\\": executable file not found in $PATH"),
        ])
        let t = r.map { DockerInspect.status(of: $0).state.terminated! }
        #expect(t[0].exitCode == 0 && t[0].reason == "Completed")
        #expect(t[0].startedAt == "2026-11-29T17:24:15Z" && t[0].finishedAt == "2026-11-29T17:24:16Z")
        #expect(t[1].exitCode == 42 && t[1].reason == "Error" && t[1].startedAt == nil)
        #expect(t[2].reason == "OOMKilled" && t[2].exitCode == 137)
        #expect(t[3].reason == "ContainerCannotRun" && t[3].message?.contains("executable file not found") == true)
    }

    @Test func containersWithoutOurLabelsAreIgnoredAndEmptyOutputIsNoContainers() throws {
        let foreign = #"{"Id": "z", "Name": "/other", "State": {"Status": "running"}, "Config": {"Labels": null}}"#
        #expect(try Self.records([foreign]).isEmpty)
        #expect(try DockerInspect.records(from: Data("[]\n".utf8)).isEmpty)
        #expect(try DockerInspect.records(from: Data()).isEmpty)
        #expect(throws: (any Error).self) { try DockerInspect.records(from: Data("Error: nonsense".utf8)) }
    }

    // MARK: - sequencing

    func podRecords(initStates: [(String, Int)], mainStates: [String]) throws -> [DockerContainerRecord] {
        let count = initStates.count + mainStates.count
        var items: [String] = []
        for (i, s) in initStates.enumerated() {
            items.append(Self.container(id: "i\(i)", name: "init\(i)", isInit: true, index: i, count: count, status: s.0, exitCode: s.1))
        }
        for (i, s) in mainStates.enumerated() {
            items.append(Self.container(id: "m\(i)", name: "main\(i)", index: i, count: count, status: s))
        }
        return try Self.records(items)
    }

    @Test func firstInitStartsFirstThenTheNextAfterSuccess() throws {
        var p = DockerPodProgress.plan(try podRecords(initStates: [("created", 0), ("created", 0)], mainStates: ["created", "created"]))
        #expect(p.toStart == ["i0"])
        #expect(p.observations.count == 1 && p.observations[0].state == .pending)
        #expect(p.observations[0].containers.allSatisfy { $0.state.waiting?.reason == "PodInitializing" })

        p = DockerPodProgress.plan(try podRecords(initStates: [("running", 0), ("created", 0)], mainStates: ["created", "created"]))
        #expect(p.toStart.isEmpty)
        #expect(p.observations[0].state == .running)

        p = DockerPodProgress.plan(try podRecords(initStates: [("exited", 0), ("created", 0)], mainStates: ["created", "created"]))
        #expect(p.toStart == ["i1"])

        p = DockerPodProgress.plan(try podRecords(initStates: [("exited", 0), ("exited", 0)], mainStates: ["created", "created"]))
        #expect(p.toStart == ["m0", "m1"])
        #expect(p.observations[0].containers.allSatisfy { $0.state.waiting?.reason == "ContainerCreating" })
        #expect(p.observations[0].jobID == "i0,i1,m0,m1")
    }

    @Test func aFailedInitFinishesThePodAndStartsNothing() throws {
        let p = DockerPodProgress.plan(try podRecords(initStates: [("exited", 0), ("exited", 3), ("created", 0)], mainStates: ["created"]))
        #expect(p.toStart.isEmpty)
        #expect(p.observations[0].state == .finished)
        #expect(p.observations[0].message == "init container init1 failed with exit code 3")
        #expect(p.observations[0].initContainers.map { $0.state.terminated?.exitCode } == [0, 3, nil])
    }

    @Test func withoutInitsAllMainsStartTogetherAndFinishWhenAllExited() throws {
        var p = DockerPodProgress.plan(try podRecords(initStates: [], mainStates: ["created", "created"]))
        #expect(p.toStart == ["m0", "m1"])
        p = DockerPodProgress.plan(try podRecords(initStates: [], mainStates: ["exited", "running"]))
        #expect(p.observations[0].state == .running)
        p = DockerPodProgress.plan(try podRecords(initStates: [], mainStates: ["exited", "exited"]))
        #expect(p.observations[0].state == .finished)
    }

    @Test func anIncompletePodIsNotStarted() throws {
        // count says 2, only one container exists yet (create under way, or one was removed).
        let r = try Self.records([Self.container(id: "m0", name: "a", index: 0, count: 2, status: "created")])
        let p = DockerPodProgress.plan(r)
        #expect(p.toStart.isEmpty)
        #expect(p.observations.count == 1)
    }

    static let created = RFC3339.date("2026-11-29T17:24:15Z")!

    @Test func anIncompleteIncarnationUnderWayIsNotReportedSoTheNextCreateAdoptsIt() throws {
        let r = try Self.records([Self.container(id: "m0", name: "a", index: 0, count: 2, status: "created")])
        let p = DockerPodProgress.plan(r, now: Self.created.addingTimeInterval(30))
        #expect(p.observations.isEmpty)
    }

    @Test func anIncompleteIncarnationBeingRolledBackIsNotReportedEither() throws {
        // `docker rm -f` of a never-started container shows it "removing" for a moment.
        let r = try Self.records([Self.container(id: "m0", name: "a", index: 0, count: 2, status: "removing")])
        #expect(DockerPodProgress.plan(r, now: Self.created.addingTimeInterval(30)).observations.isEmpty)
    }

    @Test func anIncompleteIncarnationLeftForAnHourIsReportedAsLostWork() throws {
        let r = try Self.records([Self.container(id: "m0", name: "a", index: 0, count: 2, status: "created")])
        let p = DockerPodProgress.plan(r, now: Self.created.addingTimeInterval(DockerPodProgress.incompleteGraceSeconds + 1))
        let o = try #require(p.observations.first)
        #expect(o.state == .finished)
        #expect(o.interruption?.contains("1 of 2 containers") == true)
        #expect(o.dueToStart.isEmpty)
    }

    @Test func anIncarnationThatLostAStartedContainerIsLostWorkAndNothingIsDue() throws {
        let r = try Self.records([
            Self.container(id: "i0", name: "init", isInit: true, index: 0, count: 3, status: "exited",
                           startedAt: "2026-11-29T17:24:16.1Z", finishedAt: "2026-11-29T17:24:17.1Z"),
            Self.container(id: "m1", name: "b", index: 1, count: 3, status: "created"),
        ])
        let p = DockerPodProgress.plan(r, now: Self.created.addingTimeInterval(5))
        let o = try #require(p.observations.first)
        #expect(o.state == .finished && o.interruption != nil)
        #expect(o.dueToStart.isEmpty)
    }

    @Test func dueContainersAreNamedInTheirPodsObservation() throws {
        let r = try podRecords(initStates: [("exited", 0)], mainStates: ["created"])
            + Self.records([Self.container(id: "x", uid: "u2", status: "created")])
        let p = DockerPodProgress.plan(r, now: Self.created)
        #expect(p.observations.map(\.dueToStart) == [["m0"], ["x"]])
    }

    @Test func theNewestAttemptIsReportedWithThePreviousAsLastState() throws {
        let r = try Self.records([
            Self.container(id: "old", attempt: 0, status: "exited", exitCode: 1),
            Self.container(id: "new", attempt: 1, status: "running"),
            Self.container(id: "x", uid: "u2", status: "running"),
        ])
        let p = DockerPodProgress.plan(r)
        #expect(p.observations.map(\.podUID) == ["u1", "u2"])
        let u1 = p.observations[0]
        #expect(u1.attempt == 1 && u1.jobID == "new")
        #expect(u1.containers[0].lastState.terminated?.exitCode == 1)
        #expect(u1.containers[0].restartCount == 1)
    }

    @Test func anOlderAttemptStillRunningIsReportedSoItCanBeStopped() throws {
        let r = try Self.records([
            Self.container(id: "old", attempt: 0, status: "running"),
            Self.container(id: "new", attempt: 1, status: "created"),
        ])
        let p = DockerPodProgress.plan(r)
        #expect(p.observations.map(\.attempt) == [0, 1])
    }
}
