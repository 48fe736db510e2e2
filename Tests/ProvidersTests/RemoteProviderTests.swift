import Foundation
import Model
@testable import Providers
import Reconciler
import Server
import Testing

/// `Provider: remote` against a real plugin (our sidecar API over the mock
/// backend, on a unix socket), and against plugins that fail in each way.
@Suite("Remote provider")
struct RemoteProviderTests {
    @Test func createObserveLogsDeleteAndCleanupGoThroughThePlugin() async throws {
        let plugin = try await TestPlugin()
        let remote = plugin.provider()
        let job = try await remote.create(RemoteFx.desired(1))
        #expect(job == RemoteFx.uid(1), "our sidecar answers no job id yet, so the pod UID stands in")
        await plugin.reconciler.tickOnce(); await plugin.reconciler.tickOnce()

        let seen = try await remote.observe()
        try #require(seen.count == 1)
        let backendID = try #require(try await plugin.mock.observe().first).jobID
        #expect(seen[0].podUID == RemoteFx.uid(1) && seen[0].attempt == 0)
        #expect(seen[0].jobID == backendID, "the backend's own job id, once the plugin reports it")
        #expect(seen[0].state == .running)
        #expect(seen[0].containers.map(\.name) == ["main"])

        let backendJob = try #require(try await plugin.mock.observe().first)
        let direct = try await RemoteFx.text(try await plugin.mock.logs(backendJob.ref, container: "main", options: LogOpts()))
        let viaPlugin = try await RemoteFx.text(try await remote.logs(seen[0].ref, container: "main", options: LogOpts()))
        #expect(viaPlugin == direct && !direct.isEmpty)

        try await remote.delete(JobRef(podUID: RemoteFx.uid(1), namespace: "default", name: "pod-1", jobID: job,
                                       pod: RemoteFx.pod(1)))
        await plugin.reconciler.tickOnce(); await plugin.reconciler.tickOnce()
        #expect(try await plugin.mock.observe().filter { $0.state != .finished }.isEmpty)
        #expect(try await remote.observe().isEmpty, "the plugin forgot the deleted pod")
        try await remote.cleanup(seen[0].ref)
        #expect(RemoteProvider(endpoint: plugin.endpoint, stateDirectory: plugin.dir + "/main/remote-remote",
                               dataRoot: plugin.dir).index.all.isEmpty)
        await plugin.close()
    }

    @Test func observeAsksAboutEveryPodInOneStatusCall() async throws {
        let plugin = try await TestPlugin()
        let remote = plugin.provider()
        for n in 1...12 { _ = try await remote.create(RemoteFx.desired(n)) }
        await plugin.reconciler.tickOnce(); await plugin.reconciler.tickOnce()
        let before = plugin.count("/status")
        let seen = try await remote.observe()
        #expect(plugin.count("/status") == before + 1)
        #expect(Set(seen.map(\.podUID)) == Set((1...12).map(RemoteFx.uid)))
        await plugin.close()
    }

    @Test func theIndexOfCreatedPodsSurvivesARestartOfInterLink() async throws {
        let plugin = try await TestPlugin()
        _ = try await plugin.provider().create(RemoteFx.desired(3, attempt: 2))
        await plugin.reconciler.tickOnce(); await plugin.reconciler.tickOnce()
        let fresh = plugin.provider()  // a new process: nothing in memory
        let seen = try await fresh.observe()
        #expect(seen.map(\.podUID) == [RemoteFx.uid(3)])
        #expect(seen.first?.attempt == 2)
        await plugin.close()
    }

    @Test func whileThePluginIsDownObserveAndPingThrowAndCreateFailsRetryably() async throws {
        let plugin = try await TestPlugin()
        let remote = plugin.provider()
        _ = try await remote.create(RemoteFx.desired(1))
        await plugin.stop()
        do { _ = try await remote.observe(); Issue.record("observe must throw while the plugin is down") } catch let e as ProviderError {
            #expect(e.isRetryable)
            #expect(e.description.contains("is the plugin running?"), "\(e)")
        }
        await #expect(throws: ProviderError.self) { _ = try await remote.ping() }
        do { _ = try await remote.create(RemoteFx.desired(2)); Issue.record("create must fail") } catch let e as ProviderError {
            #expect(e.isRetryable, "a create while the plugin is down must be retried, not given up")
        }
        try plugin.start()
        #expect(try await remote.ping()?.resources == (try await plugin.mock.ping())?.resources)
        await plugin.close()
    }

    @Test func pluginErrorsTimeoutsAndNonJSONAnswersBecomeClearReasons() async throws {
        let plugin = try await TestPlugin()
        let remote = plugin.provider()
        _ = try await remote.create(RemoteFx.desired(1))

        plugin.override.withLock { $0 = { _ in .text(200, "<html>proxy says hi</html>") } }
        do { _ = try await remote.observe(); Issue.record("non-JSON must throw") } catch let e as ProviderError {
            #expect(e.description.contains("not a JSON array of PodStatus") && e.description.contains("proxy says hi"), "\(e)")
        }

        plugin.override.withLock { $0 = { _ in .error(500, "disk full on the plugin host") } }
        do { _ = try await remote.create(RemoteFx.desired(2)); Issue.record("500 must throw") } catch let e as ProviderError {
            #expect(e.description.contains("answered 500: disk full on the plugin host"), "\(e)")
            #expect(e.isRetryable)
        }

        plugin.override.withLock { $0 = { _ in .error(400, "image name is empty") } }
        do { _ = try await remote.create(RemoteFx.desired(3)); Issue.record("400 must throw") } catch let e as ProviderError {
            #expect(e == .invalidPod("plugin at unix://\(plugin.socket) answered 400: image name is empty"))
        }

        // A plugin that answers more slowly than the provider's timeout.
        plugin.override.withLock { $0 = nil }
        await plugin.stop()
        let s = HTTPServer(config: HTTPServerConfig(listen: .unix(path: plugin.socket))) { _ in
            try? await Task.sleep(for: .seconds(3))
            return .json(200, Data("[]".utf8))
        }
        try s.start()
        let impatient = RemoteProvider(endpoint: PluginEndpoint(sidecarURL: "unix://" + plugin.socket, sidecarPort: 0, timeoutSeconds: 0.5),
                                       stateDirectory: plugin.dir + "/main/remote-remote", dataRoot: plugin.dir)
        do { _ = try await impatient.observe(); Issue.record("a timeout must throw") } catch let e as ProviderError {
            #expect(e.description.contains("did not answer in time"), "\(e)")
        }
        await s.shutdown()
        await plugin.reconciler.stop()
    }

    @Test func aPodThePluginForgotIsNotObserved() async throws {
        let plugin = try await TestPlugin()
        let remote = plugin.provider()
        _ = try await remote.create(RemoteFx.desired(1))
        await plugin.reconciler.tickOnce(); await plugin.reconciler.tickOnce()
        #expect(try await remote.observe().count == 1)
        // An upstream plugin that restarted answers the pod with no container state.
        plugin.override.withLock { $0 = { req in
            req.path == "/status" ? .json(200, Data("[{\"name\":\"pod-1\",\"UID\":\"\(RemoteFx.uid(1))\",\"namespace\":\"default\",\"JID\":\"\",\"containers\":null,\"initContainers\":null}]".utf8)) : nil
        } }
        #expect(try await remote.observe().isEmpty)
        await plugin.close()
    }

    @Test func theUpstreamSlurmPluginsAnswersAreUnderstood() async throws {
        // Shapes of interlink-slurm-plugin's StatusHandler (Go-marshalled v1.ContainerStatus):
        // PD -> `waiting: {}`, R -> running, CD -> terminated with an exit code;
        // a pod it has no job for is left out of the answer; `[]` is answered with sinfo text.
        let plugin = try await TestPlugin()
        let remote = plugin.provider()
        for n in 1...4 { _ = try await remote.create(RemoteFx.desired(n)) }
        func status(_ n: Int, _ state: String) -> String {
            "{\"name\":\"pod-\(n)\",\"UID\":\"\(RemoteFx.uid(n))\",\"namespace\":\"default\",\"JID\":\"\(100 + n)\",\"containers\":[{\"name\":\"main\",\"state\":\(state),\"lastState\":{},\"ready\":false,\"restartCount\":0,\"image\":\"\",\"imageID\":\"\"}],\"initContainers\":null}"
        }
        let body = "[" + [status(1, "{\"waiting\":{}}"), status(2, "{\"running\":{\"startedAt\":\"2026-12-01T10:00:00Z\"}}"),
                          status(3, "{\"terminated\":{\"exitCode\":3,\"startedAt\":\"2026-12-01T10:00:00Z\",\"finishedAt\":\"2026-12-01T10:00:05Z\"}}")]
            .joined(separator: ",") + "]"
        plugin.override.withLock { $0 = { req in
            guard req.path == "/status" else { return nil }
            if String(decoding: req.body, as: UTF8.self) == "[]" { return .text(200, "PARTITION AVAIL  TIMELIMIT   NODES(A/I/O/T) NODELIST\nbatch*  up  infinite  0/1/0/1 node1\n") }
            return .json(200, Data(body.utf8))
        } }
        let seen = Dictionary(uniqueKeysWithValues: try await remote.observe().map { ($0.podUID, $0) })
        #expect(seen[RemoteFx.uid(1)]?.state == .pending)
        #expect(seen[RemoteFx.uid(2)]?.state == .running)
        #expect(seen[RemoteFx.uid(3)]?.state == .finished)
        #expect(seen[RemoteFx.uid(3)]?.containers.first?.state.terminated?.exitCode == 3)
        #expect(seen[RemoteFx.uid(2)]?.jobID == "102", "the plugin's Slurm job id")
        #expect(seen[RemoteFx.uid(4)] == nil, "left out of the answer: unknown to the plugin")
        #expect(try await remote.ping() == nil, "a text ping answer means up, with no capacity to report")
        await plugin.close()
    }

    @Test func createSendsRetrievedPodDataWithEachContainersOwnVolumes() throws {
        let cm = ConfigMap(metadata: ObjectMeta(name: "app-config"), data: ["a": "1"])
        let other = ConfigMap(metadata: ObjectMeta(name: "unused"), data: ["b": "2"])
        let secret = Secret(metadata: ObjectMeta(name: "db"), data: ["p": "eA=="])
        let projected = ConfigMap(metadata: ObjectMeta(name: "kube-api-access-1"), data: ["token": "t"])
        var vols = [Volume(name: "cfg", configMap: ConfigMapVolumeSource(name: "app-config")),
                    Volume(name: "sec", secret: SecretVolumeSource(secretName: "db")),
                    Volume(name: "scratch", emptyDir: EmptyDirVolumeSource())]
        var p = Volume(name: "kube-api-access-1"); p.projected = try JSONDecoder().decode(ProjectedVolumeSource.self, from: Data("{\"sources\":[]}".utf8))
        vols.append(p)
        let pod = Pod(metadata: ObjectMeta(name: "v", namespace: "ns", uid: RemoteFx.uid(9)),
                      spec: PodSpec(containers: [
                        Container(name: "a", image: "x", volumeMounts: [VolumeMount(name: "cfg", mountPath: "/c"),
                                                                         VolumeMount(name: "kube-api-access-1", mountPath: "/k")]),
                        Container(name: "b", image: "x", volumeMounts: [VolumeMount(name: "sec", mountPath: "/s"),
                                                                         VolumeMount(name: "scratch", mountPath: "/t")]),
                      ], initContainers: [Container(name: "init", image: "x")], volumes: vols))
        let data = RetrievedPodBuilder.build(PodCreateRequests(pod: pod, configmaps: [cm, other], secrets: [secret],
                                                               projectedvolumesmaps: [projected]), dataRoot: "/data/")
        #expect(data.container.map(\.name) == ["init", "a", "b"])
        #expect(data.container[0] == RetrievedContainer(name: "init"))
        #expect(data.container[1].configMaps == [cm] && data.container[1].projectedvolumemaps == [projected])
        #expect(data.container[1].secrets.isEmpty && data.container[1].emptyDirs.isEmpty)
        #expect(data.container[2].secrets == [secret] && data.container[2].configMaps.isEmpty)
        #expect(data.container[2].emptyDirs == ["/data/ns-\(RemoteFx.uid(9))/emptyDirs/scratch"])
        // And the wire names are the upstream ones.
        let json = try #require(try JSONSerialization.jsonObject(with: WireJSON.encode(data)) as? [String: Any])
        #expect(Set(json.keys) == ["pod", "container"])
        let first = try #require((json["container"] as? [[String: Any]])?[1])
        #expect(Set(first.keys) == ["name", "configMaps", "projectedvolumemaps", "secrets", "emptyDirs"])
        // What the sidecar rebuilds from it is the request the VK sent (minus objects no container mounts).
        #expect(data.createRequest.configmaps == [cm] && data.createRequest.secrets == [secret])
    }

    @Test func endpointsFollowSidecarURLAndPort() {
        #expect(PluginEndpoint(sidecarURL: "http://10.0.0.5", sidecarPort: 4000).baseURL == "http://10.0.0.5:4000")
        #expect(PluginEndpoint(sidecarURL: "http://plugin:4001/", sidecarPort: 4000).baseURL == "http://plugin:4001")
        #expect(PluginEndpoint(sidecarURL: "https://[::1]", sidecarPort: 4443).baseURL == "https://[::1]:4443")
        let u = PluginEndpoint(sidecarURL: "unix:///run/plugin.sock", sidecarPort: 4000)
        #expect(u.unixSocketPath == "/run/plugin.sock" && u.baseURL == "http://localhost")
    }
}
