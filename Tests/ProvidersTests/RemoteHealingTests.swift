import Foundation
import Model
@testable import Providers
import Reconciler
import Server
import Synchronization
import Testing

/// A plugin that behaves like the upstream ones on a restart: it keeps pods
/// in memory only, so `forget()` (a restart) loses them all. It answers a
/// pod it does not know with no container state, as they do.
final class ForgetfulPlugin: Sendable {
    let pods = Mutex([String: Pod]())
    let creates = Mutex([String: Int]())

    func forget() { pods.withLock { $0 = [:] } }

    var handler: HTTPHandler {
        { [self] req in
            switch req.path {
            case "/create":
                guard let d = try? WireJSON.decode(RetrievedPodData.self, from: req.body) else { return .error(400, "bad body") }
                pods.withLock { $0[d.pod.uid] = d.pod }
                creates.withLock { $0[d.pod.uid, default: 0] += 1 }
                return .json(200, try! WireJSON.encode(CreateStruct(PodUID: d.pod.uid, PodJID: "job-\(d.pod.uid.suffix(4))")))
            case "/status":
                let asked = (try? WireJSON.decode([Pod].self, from: req.body)) ?? []
                let known = pods.withLock { $0 }
                let out = asked.map { p -> PodStatus in
                    guard known[p.uid] != nil else { return PodStatus(name: p.name, UID: p.uid, namespace: p.namespace) }
                    return PodStatus(name: p.name, UID: p.uid, namespace: p.namespace, JID: "job-\(p.uid.suffix(4))",
                                     containers: [ContainerStatus(name: "main", image: "busybox", ready: true,
                                                                  state: .running(since: "2026-12-01T10:00:00Z"))])
                }
                return .json(200, try! WireJSON.encode(out))
            case "/delete":
                if let p = try? WireJSON.decode(Pod.self, from: req.body) { pods.withLock { $0[p.uid] = nil } }
                return .text(200, "deleted")
            default:
                return .error(404, "no route")
            }
        }
    }
}

/// The main InterLink's reconciler over `Provider: remote`: what a plugin
/// restart or outage does to its pods.
@Suite("Healing across plugin restarts", .serialized)
struct RemoteHealingTests {
    static func settings(_ dir: String) -> ReconcilerSettings {
        ReconcilerSettings(interval: 3600, dataRoot: dir, backoffBase: 0, unseenGraceSeconds: 0)
    }

    func withForgetful(_ body: (ForgetfulPlugin, Reconciler) async throws -> Void) async throws {
        var template = Array("/tmp/ilheal-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        let plugin = ForgetfulPlugin()
        let server = HTTPServer(config: HTTPServerConfig(listen: .unix(path: dir + "/p.sock")), handler: plugin.handler)
        try server.start()
        let remote = RemoteProvider(endpoint: PluginEndpoint(sidecarURL: "unix://\(dir)/p.sock", sidecarPort: 0),
                                    stateDirectory: dir + "/remote", dataRoot: dir)
        let main = try await Reconciler(provider: remote, settings: Self.settings(dir + "/main"))
        try await body(plugin, main)
        await main.stop()
        await server.shutdown()
    }

    @Test func aPodARestartedPluginForgotIsCreatedAgainOnceWhenRestartPolicyAllows() async throws {
        try await withForgetful { plugin, main in
            let pod = RemoteFx.pod(1, restart: "Always")
            _ = try await main.create(PodCreateRequests(pod: pod))
            await main.tickOnce(); await main.tickOnce()
            #expect(plugin.creates.withLock { $0[pod.uid] } == 1)
            #expect(await main.status([pod]).first?.containers.first?.state.running != nil)

            plugin.forget()
            await main.tickOnce()  // sees it gone: re-creates it (attempt 1)
            await main.tickOnce(); await main.tickOnce()
            #expect(plugin.creates.withLock { $0[pod.uid] } == 2, "re-created exactly once")
            #expect(plugin.pods.withLock { $0.count } == 1)
            let st = try #require(await main.status([pod]).first)
            #expect(st.containers.first?.state.running != nil)
            #expect(st.containers.first?.restartCount == 1)
            #expect(st.containers.first?.lastState.terminated?.reason == "BackendLost")
        }
    }

    @Test func aForgottenPodWithRestartPolicyNeverEndsFailedAndIsNotRecreated() async throws {
        try await withForgetful { plugin, main in
            let pod = RemoteFx.pod(2, restart: "Never")
            _ = try await main.create(PodCreateRequests(pod: pod))
            await main.tickOnce(); await main.tickOnce()
            plugin.forget()
            await main.tickOnce(); await main.tickOnce()
            #expect(plugin.creates.withLock { $0[pod.uid] } == 1)
            let st = try #require(await main.status([pod]).first)
            #expect(st.containers.first?.state.terminated?.reason == "BackendLost")
        }
    }

    @Test func whileOurSidecarIsDownPodsKeepTheirStateAndNewCreatesWaitThenRunOnce() async throws {
        let plugin = try await TestPlugin()
        let remote = plugin.provider()
        let main = try await Reconciler(provider: remote, settings: Self.settings(plugin.dir + "/mainstate"))
        let first = RemoteFx.pod(1, restart: "Always")
        _ = try await main.create(PodCreateRequests(pod: first))
        await main.tickOnce(); await plugin.reconciler.tickOnce(); await plugin.reconciler.tickOnce(); await main.tickOnce()
        #expect(await main.status([first]).first?.containers.first?.state.running != nil)

        await plugin.stop()
        let later = (2...4).map { RemoteFx.pod($0, restart: "Always") }
        for p in later { _ = try await main.create(PodCreateRequests(pod: p)) }
        for _ in 0..<3 { await main.tickOnce() }
        // Nothing declared lost, nothing given up, the node reported NotReady.
        #expect(await main.status([first]).first?.containers.first?.state.running != nil)
        #expect(await main.status([first]).first?.containers.first?.restartCount == 0)
        for st in await main.status(later) { #expect(st.containers.first?.state.waiting?.reason == "ContainerCreating") }
        await #expect(throws: PodAPIError.self) { _ = try await main.ping() }

        try plugin.start()
        await main.tickOnce(); await plugin.reconciler.tickOnce(); await plugin.reconciler.tickOnce(); await main.tickOnce()
        let jobs = try await plugin.mock.observe()
        #expect(jobs.count == 4, "each pod runs once on the backend")
        #expect(Set(jobs.map(\.podUID)) == Set(([first] + later).map(\.uid)))
        for st in await main.status([first] + later) {
            #expect(st.containers.first?.state.running != nil)
            #expect(st.containers.first?.restartCount == 0)
        }
        #expect(try await main.ping() != nil)
        await main.stop()
        await plugin.close()
    }
}

@Suite("Remote provider orphans")
struct RemoteOrphanTests {
    @Test func aPodInTheIndexThatInterLinkForgotIsCancelledOnceAndNoLongerAskedAbout() async throws {
        let plugin = try await TestPlugin()
        let remote = plugin.provider()
        _ = try await remote.create(RemoteFx.desired(7))
        await plugin.reconciler.tickOnce(); await plugin.reconciler.tickOnce()
        // A main InterLink whose journal does not know pod 7 (e.g. restored from an old backup).
        var template = Array("/tmp/ilorph-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        // No orphan grace window here: the window itself is tested in ReconcilerQueueTests.
        let main = try await Reconciler(provider: remote, settings: ReconcilerSettings(interval: 3600, dataRoot: dir, backoffBase: 0,
                                                                                      orphanGraceSeconds: 0))
        await main.tickOnce()
        await plugin.reconciler.tickOnce(); await plugin.reconciler.tickOnce()
        #expect(try await plugin.mock.observe().filter { $0.state != .finished }.isEmpty, "the orphan was stopped")
        #expect(remote.index.all.isEmpty)
        let asked = plugin.count("/status")
        await main.tickOnce()
        #expect(plugin.count("/status") == asked, "nothing left to ask the plugin about")
        await main.stop()
        await plugin.close()
    }
}
