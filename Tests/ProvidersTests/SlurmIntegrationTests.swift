import Config
import FoundationEssentials
import Model
import Testing
@testable import Providers

private let slurmConf = ProcessInfo.processInfo.environment["INTERLINK_TEST_SLURM_CONF"]

/// The provider against a real one-node Slurm (scripts/slurm.sh), runtime none.
@Suite(.serialized, .enabled(if: slurmConf != nil, "INTERLINK_TEST_SLURM_CONF is not set (run scripts/slurm.sh start)"))
final class SlurmIntegrationTests {
    let root = SlurmFixtures.tempDir("int")
    // Each test gets its own data root; jobs are finished or cancelled by then.
    deinit { try? FileManager.default.removeItem(atPath: root) }

    func provider(instance: String = "il-int") -> SlurmProvider {
        var c = InterLinkConfig()
        c.containerRuntime = "none"
        c.dataRootFolder = root
        c.instanceName = instance
        return SlurmProvider(config: c, environment: ["SLURM_CONF": slurmConf ?? ""])
    }

    /// `restartPolicy` Never by default: these pods are meant to finish, and under the
    /// in-job supervisor Kubernetes' default (Always) restarts a container that exits.
    func pod(_ containers: [Container], initContainers: [Container]? = nil, volumes: [Volume]? = nil, restartPolicy: String? = "Never",
             request: (inout PodCreateRequests) -> Void = { _ in }) -> DesiredPod {
        let uid = UUID().uuidString.lowercased()
        var r = PodCreateRequests(pod: Pod(metadata: ObjectMeta(name: "p-\(uid.prefix(8))", namespace: "ns", uid: uid),
                                           spec: PodSpec(containers: containers, initContainers: initContainers, volumes: volumes,
                                                         restartPolicy: restartPolicy)))
        request(&r)
        return DesiredPod(request: r)
    }

    /// Observes until the pod's job satisfies `done` (bounded, so a broken cluster fails instead of hanging).
    func waitFor(_ p: SlurmProvider, _ uid: String, seconds: Int = 120,
                 until done: (JobObservation) -> Bool = { $0.state == .finished }) async throws -> JobObservation? {
        for _ in 0..<(seconds * 2) {
            if let o = try await p.observe().first(where: { $0.podUID == uid }), done(o) { return o }
            try await Task.sleep(nanoseconds: 500_000_000)
        }
        return nil
    }

    func logs(_ p: SlurmProvider, _ d: DesiredPod, _ jobID: String, _ c: String, _ o: LogOpts = LogOpts()) async throws -> String {
        var out = Data()
        let ref = JobRef(podUID: d.uid, namespace: d.namespace, name: d.name, jobID: jobID)
        for try await chunk in try await p.logs(ref, container: c, options: o) { out.append(chunk) }
        return String(decoding: out, as: UTF8.self)
    }

    func codes(_ o: JobObservation?) -> [Int32?] { o?.containers.map { $0.state.terminated?.exitCode } ?? [] }

    @Test func helloWorldFinishesWithExitZeroAndItsLogs() async throws {
        let p = provider()
        let d = pod([Container(name: "hello", image: "none", command: ["echo", "hello world"])])
        let id = try await p.create(d)
        let o = try await waitFor(p, d.uid)
        #expect(codes(o) == [0])
        #expect(try await logs(p, d, id, "hello") == "hello world\n")
        let stamped = try await logs(p, d, id, "hello", LogOpts(Timestamps: true))
        #expect(RFC3339.date(String(stamped.prefix(while: { $0 != " " }))) != nil)
    }

    @Test func followStreamsUntilTheContainerFinishes() async throws {
        let p = provider()
        let d = pod([Container(name: "c", image: "none", command: ["sh", "-c", "echo first; sleep 2; echo second"])])
        let id = try await p.create(d)
        _ = try await waitFor(p, d.uid, until: { $0.containers.first?.state.running != nil || $0.state == .finished })
        // Ends on its own once the container's exit file exists, with every line.
        #expect(try await logs(p, d, id, "c", LogOpts(Follow: true)) == "first\nsecond\n")
    }

    /// A job whose container never writes its exit file (its wrapper is killed
    /// outright, as a node failure or a KILL to the job would do) must still end a
    /// follow: the provider asks squeue whether the job lives. Before, the stream
    /// lasted until the client left.
    @Test func followEndsWhenTheJobEndsWithoutAnExitFile() async throws {
        let p = provider()
        // $PPID is the job script's wrapper of this container, which writes the exit file.
        let d = pod([Container(name: "c", image: "none", command: ["sh", "-c", "echo started; sleep 3; kill -9 $PPID; sleep 300"])])
        let id = try await p.create(d)
        #expect(try await waitFor(p, d.uid, until: { $0.containers.first?.state.running != nil }) != nil)
        let ref = JobRef(podUID: d.uid, namespace: d.namespace, name: d.name, jobID: id)
        let stream = try await p.logs(ref, container: "c", options: LogOpts(Follow: true))
        let got = try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                var out = ""
                for try await chunk in stream { out += String(decoding: chunk, as: UTF8.self) }
                return out
            }
            group.addTask {
                try await Task.sleep(for: .seconds(60))
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
        #expect(got != nil, "the follow did not end within 60 s although the job ended")
        #expect(got == "started\n")
        // The path under test: the job ended without the container's exit file.
        let layout = SlurmLayout(dataRoot: root, namespace: d.namespace, uid: d.uid, attempt: d.attempt)
        #expect(!FileManager.default.fileExists(atPath: layout.exitFile("c")))
        _ = try? await ProcessRunner.run("scancel", [id], environment: ["SLURM_CONF": slurmConf ?? "", "PATH": "/usr/bin:/bin"])
    }

    /// Issue 14: status files are read only for jobs that changed. A running job
    /// whose files stay as they are is reported with the very same observation
    /// and no file of its directory is read; the moment its container exits (the
    /// supervisor renames the exit file into the status directory) the next
    /// observe reads it again and reports the exit.
    @Test func unchangedJobsAreNotReadAgainAndAChangeIsSeenAtOnce() async throws {
        let p = provider()
        let d = pod([Container(name: "c", image: "none", command: ["sh", "-c", "sleep 4; exit 3"])])
        _ = try await p.create(d)
        let running = try await waitFor(p, d.uid, until: { $0.containers.first?.state.running != nil })
        #expect(running != nil)
        // Past the settle window of the files just written, two observes in a row.
        try await Task.sleep(for: .milliseconds(1200))
        _ = try await p.observe()
        let a = try await p.observe().first { $0.podUID == d.uid }
        #expect(p.lastObserveReads == 0, "an unchanged job's files were read again")
        let b = try await p.observe().first { $0.podUID == d.uid }
        #expect(a.map { o in b.map { o.isIdentical(to: $0) } ?? false } == true)
        #expect(b?.containers.first?.state.running != nil)
        // The exit is seen by the first observe after it (not a cached answer).
        let ended = try await waitFor(p, d.uid, seconds: 10, until: { $0.containers.first?.state.terminated != nil })
        #expect(ended?.containers.first?.state.terminated?.exitCode == 3)
    }

    @Test func fallbackToLogsOnErrorShowsTheLogsEndWhenAFailedContainerWroteNoMessage() async throws {
        let p = provider()
        var failing = Container(name: "failing", image: "none", command: ["sh", "-c",
            "i=0; while [ $i -lt 100 ]; do echo \"line $i\"; i=$((i+1)); done; exit 3"])
        failing.terminationMessagePolicy = "FallbackToLogsOnError"
        var fine = Container(name: "fine", image: "none", command: ["sh", "-c", "echo fine"])
        fine.terminationMessagePolicy = "FallbackToLogsOnError"
        let filePolicy = Container(name: "file", image: "none", command: ["sh", "-c", "echo only in the log; exit 4"])
        let d = pod([failing, fine, filePolicy])
        _ = try await p.create(d)
        let o = try await waitFor(p, d.uid)
        func message(_ name: String) -> String? { o?.containers.first { $0.name == name }?.state.terminated?.message }
        let tail = try #require(message("failing"))
        #expect(tail.hasSuffix("line 99\n"))
        #expect(tail.hasPrefix("line 20\n"), "the last 80 lines: \(tail.prefix(40))")
        #expect(message("fine") == nil, "the fallback is for failures only")
        #expect(message("file")?.contains("only in the log") != true, "policy File never reads the log")
    }

    @Test func exitCodeIsReported() async throws {
        let p = provider()
        let d = pod([Container(name: "c", image: "none", command: ["sh", "-c", "exit 42"])])
        _ = try await p.create(d)
        let o = try await waitFor(p, d.uid)
        #expect(codes(o) == [42])
        #expect(PodPhase.derive(from: o?.containers ?? []) == .failed)
    }

    @Test func initContainersRunInOrderAndHandOnDataThroughAnEmptyDir() async throws {
        let p = provider()
        let mnt = "\(root)/mnt-work"
        let vm = [VolumeMount(name: "work", mountPath: mnt)]
        let d = pod([Container(name: "main", image: "none", command: ["cat", "\(mnt)/order"], volumeMounts: vm)],
                    initContainers: [Container(name: "one", image: "none", command: ["sh", "-c", "echo 1 > \(mnt)/order"], volumeMounts: vm),
                                     Container(name: "two", image: "none", command: ["sh", "-c", "echo 2 >> \(mnt)/order"], volumeMounts: vm)],
                    volumes: [Volume(name: "work", emptyDir: EmptyDirVolumeSource())])
        let id = try await p.create(d)
        let o = try await waitFor(p, d.uid)
        #expect(o?.initContainers.map { $0.state.terminated?.exitCode } == [0, 0])
        #expect(codes(o) == [0])
        #expect(try await logs(p, d, id, "main") == "1\n2\n")
        // The mount lived in the job's private namespace only.
        #expect(!FileManager.default.fileExists(atPath: "\(mnt)/order"))
    }

    @Test func eachContainerKeepsItsOwnExitCode() async throws {
        let p = provider()
        let d = pod([Container(name: "ok", image: "none", command: ["true"]),
                     Container(name: "bad", image: "none", command: ["sh", "-c", "echo oops >&2; exit 3"])])
        let id = try await p.create(d)
        let o = try await waitFor(p, d.uid)
        #expect(codes(o) == [0, 3])
        #expect(try await logs(p, d, id, "bad") == "oops\n")
    }

    @Test func configMapAndSecretArriveAsFilesAndEnv() async throws {
        let p = provider()
        let cmDir = "\(root)/mnt-cm", secDir = "\(root)/mnt-sec"
        var c = Container(name: "c", image: "none",
                          command: ["sh", "-c", "cat \(cmDir)/greeting; cat \(secDir)/token; echo; echo \"$FROM_CM $FROM_SECRET\""],
                          volumeMounts: [VolumeMount(name: "cm", mountPath: cmDir), VolumeMount(name: "sec", mountPath: secDir)])
        c.env = [EnvVar(name: "FROM_CM", valueFrom: EnvVarSource(configMapKeyRef: KeySelector(name: "cfg", key: "greeting"))),
                 EnvVar(name: "FROM_SECRET", valueFrom: EnvVarSource(secretKeyRef: KeySelector(name: "sec", key: "token")))]
        let d = pod([c], volumes: [Volume(name: "cm", configMap: ConfigMapVolumeSource(name: "cfg")),
                                   Volume(name: "sec", secret: SecretVolumeSource(secretName: "sec"))]) { r in
            r.configmaps = [ConfigMap(metadata: ObjectMeta(name: "cfg", namespace: "ns"), data: ["greeting": "hi\n"])]
            r.secrets = [Secret(metadata: ObjectMeta(name: "sec", namespace: "ns"), data: ["token": Data("s3cret".utf8).base64EncodedString()])]
        }
        let id = try await p.create(d)
        let o = try await waitFor(p, d.uid)
        #expect(codes(o) == [0])
        #expect(try await logs(p, d, id, "c") == "hi\ns3cret\nhi\n s3cret\n")
    }

    @Test func argsAndEnvArriveByteExact() async throws {
        let p = provider()
        let values = ["quote ' \" q", "two\nlines", "ünïcødé ✓", "$(touch \(root)/CANARY) `id`", "$HOME", ""]
        let out = "\(root)/bytes"
        var c = Container(name: "c", image: "none",
                          command: ["sh", "-c", #"for a in "$@"; do printf '%s\0' "$a"; done > "$0.args"; printf '%s\0' "$V" > "$0.env""#, out],
                          args: values)
        c.env = [EnvVar(name: "V", value: values[0] + values[1] + values[2] + values[3])]
        let d = pod([c])
        _ = try await p.create(d)
        #expect(codes(try await waitFor(p, d.uid)) == [0])
        #expect(FileManager.default.contents(atPath: "\(out).args") == Data(values.map { $0 + "\0" }.joined().utf8))
        #expect(FileManager.default.contents(atPath: "\(out).env") == Data((values[0] + values[1] + values[2] + values[3] + "\0").utf8))
        #expect(!FileManager.default.fileExists(atPath: "\(root)/CANARY"))
    }

    @Test func scancelBehindTheProvidersBackIsObservedAsCancelled() async throws {
        let p = provider()
        let d = pod([Container(name: "sleeper", image: "none", command: ["sleep", "300"])])
        let id = try await p.create(d)
        #expect(try await waitFor(p, d.uid, until: { $0.state == .running }) != nil)
        let r = try await ProcessRunner.run("scancel", [id], environment: ["SLURM_CONF": slurmConf ?? "", "PATH": "/usr/bin:/bin"])
        #expect(r.succeeded)
        let o = try await waitFor(p, d.uid)
        #expect(o?.containers.first?.state.terminated?.reason == "CANCELLED")
    }

    @Test func deleteStopsARunningJobAndCleanupRemovesItsDirectory() async throws {
        let p = provider()
        let d = pod([Container(name: "sleeper", image: "none", command: ["sleep", "300"])])
        let id = try await p.create(d)
        #expect(try await waitFor(p, d.uid, until: { $0.containers.first?.state.running != nil }) != nil)
        let ref = JobRef(podUID: d.uid, namespace: d.namespace, name: d.name, jobID: id, gracePeriodSeconds: 5)
        try await p.delete(ref)
        try await p.delete(ref)   // idempotent
        let o = try await waitFor(p, d.uid)
        #expect(o?.containers.first?.state.terminated?.exitCode == 143)   // the TERM reached the container
        try await p.cleanup(ref)
        try await p.cleanup(ref)
        #expect(try await p.observe().contains { $0.podUID == d.uid } == false)
    }

    @Test func purgedJobStillReportsItsExitCodesAndARestartAdoptsIt() async throws {
        let p = provider()
        let d = pod([Container(name: "a", image: "none", command: ["true"]),
                     Container(name: "b", image: "none", command: ["sh", "-c", "exit 9"])])
        let id = try await p.create(d)
        #expect(codes(try await waitFor(p, d.uid)) == [0, 9])
        // Wait for slurmctld to purge the finished job (MinJobAge=5 in the test cluster).
        var purged = false
        for _ in 0..<240 {
            let r = try await ProcessRunner.run("squeue", ["-h", "--states=all", "-j", id, "-o", "%i"],
                                                environment: ["SLURM_CONF": slurmConf ?? "", "PATH": "/usr/bin:/bin"])
            if r.stdoutText.trimmed.isEmpty { purged = true; break }
            try await Task.sleep(nanoseconds: 500_000_000)
        }
        #expect(purged, "slurmctld did not purge job \(id)")
        let restarted = provider()
        let o = try await restarted.observe().first { $0.podUID == d.uid }
        #expect(o?.state == .finished)
        #expect(codes(o) == [0, 9])
        #expect(try await restarted.create(d) == id)   // same (uid, attempt): no second job
    }

    @Test func observeUsesOneSqueueForFivePodsAndARestartDoesNotResubmit() async throws {
        let p = provider(instance: "il-five")
        var pods: [DesiredPod] = []
        var ids: [String] = []
        for i in 0..<5 {
            let d = pod([Container(name: "c", image: "none", command: ["sh", "-c", "echo \(i)"])])
            pods.append(d); ids.append(try await p.create(d))
        }
        let before = p.commandCount
        let seen = try await p.observe()
        #expect(p.commandCount - before == 1)
        #expect(Set(seen.map(\.podUID)) == Set(pods.map(\.uid)))

        let restarted = provider(instance: "il-five")
        let count = restarted.commandCount
        for (d, id) in zip(pods, ids) { #expect(try await restarted.create(d) == id) }
        #expect(restarted.commandCount == count)   // no sbatch, no lookup: the index answered
        for d in pods { #expect(codes(try await waitFor(restarted, d.uid)) == [0]) }
    }

    @Test func pingReportsFreeCapacity() async throws {
        let p = provider()
        let r = try await p.ping()
        #expect(Int(r?.resources?.cpu ?? "") != nil)
        #expect(r?.resources?.memory.hasSuffix("Mi") == true)
        _ = try await p.ping()
        #expect(p.commandCount == 1)   // cached
    }
}
