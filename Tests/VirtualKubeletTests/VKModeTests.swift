import Foundation
import HTTPClient
import KubeClient
import Model
import Providers
import Testing
import VirtualKubelet

/// VK mode against the contract API server over HTTPS, on the mock provider.
@Suite(.enabled(if: opensslAvailable, "needs openssl and python3"), .serialized)
struct VKModeTests {
    let http = HTTPClient()

    func phase(_ s: ContractServer, _ name: String) async throws -> String? {
        try await s.pod(name)?[path: "status.phase"] as? String
    }

    @Test func nodeRegistersWithUpstreamLabelsTaintCapacityAndLease() async throws {
        let s = try await ContractServer.start(); defer { s.stop() }
        let dir = makeTempDir()
        let vk = try await VKNode.start(s, nodeName: "vk-node-a", dataDir: dir + "/data", backendState: dir + "/mock.json", pki: s.pki)
        try await eventually("node registered and ready") {
            let n = try await s.nodes().first
            let ready = (n?[path: "status.conditions"] as? [[String: Any]])?.first { $0["type"] as? String == "Ready" }
            return ready?["status"] as? String == "True"
        }
        let n = try #require(try await s.nodes().first)
        let labels = n[path: "metadata.labels"] as? [String: String] ?? [:]
        #expect(labels["type"] == "virtual-kubelet")
        #expect(labels["kubernetes.io/role"] == "agent")
        #expect(labels["kubernetes.io/hostname"] == "vk-node-a")
        #expect(labels["kubernetes.io/os"] == "linux")
        #expect(labels["virtual-node.interlink/type"] == "virtual-kubelet")
        #expect(labels["site"] == "test")
        let taints = n[path: "spec.taints"] as? [[String: Any]] ?? []
        #expect(taints.contains { $0["key"] as? String == "virtual-node.interlink/no-schedule" && $0["value"] as? String == "true" && $0["effect"] as? String == "NoSchedule" })
        #expect(taints.contains { $0["key"] as? String == "example.org/gpu" && $0["effect"] as? String == "PreferNoSchedule" })
        #expect(n[path: "status.capacity.pods"] as? String == "42")  // the config's override
        #expect(n[path: "status.daemonEndpoints.kubeletEndpoint.Port"] as? Int == 10250)
        let addrs = n[path: "status.addresses"] as? [[String: String]] ?? []
        #expect(addrs.contains { $0["type"] == "InternalIP" && $0["address"] == "127.0.0.1" })
        let conds = (n[path: "status.conditions"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
        #expect(Set(conds).isSuperset(of: ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]))
        #expect((n[path: "status.conditions.0.lastHeartbeatTime"] as? String)?.isEmpty == false)
        #expect(n[path: "status.nodeInfo.kubeletVersion"] as? String != nil)
        // Lease in kube-node-lease, 40 s, renewed.
        let lease = try #require(try await s.leases().first { $0[path: "metadata.namespace"] as? String == "kube-node-lease" })
        #expect(lease[path: "spec.leaseDurationSeconds"] as? Int == 40)
        #expect(lease[path: "spec.holderIdentity"] as? String == "vk-node-a")
        let first = lease[path: "spec.renewTime"] as? String
        try await eventually("lease renewed") {
            try await s.leases().first { $0[path: "metadata.namespace"] as? String == "kube-node-lease" }?[path: "spec.renewTime"] as? String != first
        }
        // Status is not rewritten on every ping when nothing changed.
        let writes1 = await vk.node.statusWrites
        try await Task.sleep(for: .seconds(2))
        #expect(await vk.node.statusWrites == writes1)
        await vk.stop()
    }

    @Test func podsRunToSucceededAndFailedWithExitCodesAndLogsComeFromTheKubeletEndpoint() async throws {
        let s = try await ContractServer.start(); defer { s.stop() }
        let dir = makeTempDir()
        let vk = try await VKNode.start(s, nodeName: "vk-node-b", dataDir: dir + "/data", backendState: dir + "/mock.json", pki: s.pki)
        try await s.seed([podObject("ok", node: "vk-node-b", exitCode: 0, runSeconds: 3),
                          podObject("bad", node: "vk-node-b", exitCode: 3, runSeconds: 1),
                          podObject("elsewhere", node: "other-node")])
        try await eventually("ok running") { try await phase(s, "ok") == "Running" }
        // Follow while it runs: the stream ends when the container does, with the exit line.
        let follow = try await http.send(HTTPClientRequest(url: vk.kubeletURL + "/containerLogs/vk/ok/main?follow=true", timeoutSeconds: 20, caFile: s.pki.caFile))
        #expect(follow.status == 200)
        #expect(String(decoding: follow.body, as: UTF8.self).hasSuffix("exiting with code 0\n"))
        try await eventually("ok succeeded") { try await phase(s, "ok") == "Succeeded" }
        try await eventually("bad failed") { try await phase(s, "bad") == "Failed" }
        let bad = try #require(try await s.pod("bad"))
        #expect(bad[path: "status.containerStatuses.0.state.terminated.exitCode"] as? Int == 3)
        let ok = try #require(try await s.pod("ok"))
        #expect(ok[path: "status.containerStatuses.0.state.terminated.exitCode"] as? Int == 0)
        #expect(try await s.pod("elsewhere")?[path: "status.phase"] == nil)  // not this node's
        // Finished pods stay until their owner deletes them.
        #expect(try await s.pod("ok") != nil)

        func logs(_ q: String) async throws -> (Int, String) {
            let r = try await http.send(HTTPClientRequest(url: vk.kubeletURL + "/containerLogs/vk/ok/main" + q, caFile: s.pki.caFile))
            return (r.status, String(decoding: r.body, as: UTF8.self))
        }
        let (st, all) = try await logs("")
        #expect(st == 200)
        let lines = all.split(separator: "\n")
        #expect(lines.count >= 3)
        #expect(try await logs("?tailLines=1").1 == String(lines.last!) + "\n")
        #expect(try await logs("?limitBytes=5").1 == String(all.prefix(5)))
        let stamped = try await logs("?timestamps=true").1.split(separator: "\n")
        #expect(stamped.count == lines.count && stamped.allSatisfy { RFC3339.date(String($0.prefix(20))) != nil })
        #expect(try await logs("?sinceTime=2999-01-01T00:00:00Z").1.isEmpty)
        #expect(try await logs("?sinceSeconds=3600").1 == all)
        #expect(try await logs("?previous=true").0 == 404)  // no earlier attempt
        #expect(try await logs("?tailLines=abc").0 == 400)
        #expect(try await logs("").0 == 200)
        let none = try await http.send(HTTPClientRequest(url: vk.kubeletURL + "/containerLogs/vk/nope/main", caFile: s.pki.caFile))
        #expect(none.status == 404)
        let health = try await http.send(HTTPClientRequest(url: vk.kubeletURL + "/healthz", caFile: s.pki.caFile))
        #expect(health.status == 200)
        let podsList = try await http.send(HTTPClientRequest(url: vk.kubeletURL + "/pods", caFile: s.pki.caFile))
        let items = (try JSONSerialization.jsonObject(with: podsList.body) as? [String: Any])?["items"] as? [[String: Any]] ?? []
        #expect(Set(items.compactMap { $0[path: "metadata.name"] as? String }) == ["ok", "bad"])
        let summary = try await http.send(HTTPClientRequest(url: vk.kubeletURL + "/stats/summary", caFile: s.pki.caFile))
        let sum = try JSONSerialization.jsonObject(with: summary.body) as? [String: Any] ?? [:]
        #expect(sum[path: "node.nodeName"] as? String == "vk-node-b")
        let sp = sum["pods"] as? [[String: Any]] ?? []
        #expect(sp.count == 2)
        // No CPU/memory numbers the backend does not have.
        #expect(sp.allSatisfy { $0["cpu"] == nil && $0["memory"] == nil })
        await vk.stop()
    }

    @Test func missingConfigMapKeepsThePodPendingWithAnEventThenItStarts() async throws {
        let s = try await ContractServer.start(); defer { s.stop() }
        let dir = makeTempDir()
        let vk = try await VKNode.start(s, nodeName: "vk-node-c", dataDir: dir + "/data", backendState: dir + "/mock.json", pki: s.pki)
        var p = podObject("needs-cm", node: "vk-node-c", runSeconds: 1, containers: [[
            "name": "main", "image": "busybox",
            "env": [["name": "K", "valueFrom": ["configMapKeyRef": ["name": "settings", "key": "k"]]]],
        ]])
        _ = p
        try await s.seed([p])
        try await eventually("pending with reason") {
            let pod = try await s.pod("needs-cm")
            return pod?[path: "status.containerStatuses.0.state.waiting.reason"] as? String == "CreateContainerConfigError"
        }
        let pod = try #require(try await s.pod("needs-cm"))
        #expect(pod[path: "status.phase"] as? String == "Pending")
        #expect((pod[path: "status.containerStatuses.0.state.waiting.message"] as? String)?.contains("configmap \"settings\" not found") == true)
        let evs = try await s.events()
        #expect(evs.contains { ($0["message"] as? String)?.contains("settings") == true && $0["type"] as? String == "Warning" })
        #expect(vk.provider.jobs.isEmpty)
        try await s.seedObjects([["kind": "ConfigMap", "apiVersion": "v1", "metadata": ["name": "settings", "namespace": "vk"], "data": ["k": "v"]]])
        try await eventually("started after the ConfigMap appeared", timeout: 30) { try await phase(s, "needs-cm") == "Succeeded" }
        p = [:]
        await vk.stop()
    }

    @Test func projectedServiceAccountTokenComesFromTokenRequestWithDownwardAPIAndCA() async throws {
        let s = try await ContractServer.start(); defer { s.stop() }
        try await s.seedObjects([["kind": "ConfigMap", "apiVersion": "v1", "metadata": ["name": "kube-root-ca.crt", "namespace": "vk"], "data": ["ca.crt": "PEM"]],
                                 ["kind": "Secret", "apiVersion": "v1", "metadata": ["name": "creds", "namespace": "vk"], "data": ["pw": "c2VjcmV0"]]])
        let volumes: [[String: Any]] = [
            ["name": "kube-api-access", "projected": ["sources": [
                ["serviceAccountToken": ["path": "token", "expirationSeconds": 3607, "audience": "api"]],
                ["configMap": ["name": "kube-root-ca.crt", "items": [["key": "ca.crt", "path": "ca.crt"]]]],
                ["downwardAPI": ["items": [["path": "namespace", "fieldRef": ["fieldPath": "metadata.namespace"]]]]],
            ]]],
            ["name": "creds", "secret": ["secretName": "creds"]],
        ]
        let obj = podObject("sa", node: "vk-node-d", extraSpec: ["volumes": volumes, "serviceAccountName": "runner"])
        let apiPod = try JSONDecoder().decode(APIPod.self, from: JSONSerialization.data(withJSONObject: obj))
        let resolver = PodResolver(client: KubeClient(connection: s.connection))
        let req = try await resolver.resolve(apiPod)
        let projected = try #require(req.projectedvolumesmaps?.first { $0.metadata.name == "kube-api-access" })
        let tokens = try await s.tokens()
        #expect(tokens.count == 1)
        #expect(tokens.first?["serviceAccount"] as? String == "runner")
        #expect(tokens.first?["boundPod"] as? String == "sa")
        #expect(tokens.first?["audiences"] as? [String] == ["api"])
        #expect(projected.data?["token"] == tokens.first?["token"] as? String)
        #expect(projected.data?["namespace"] == "vk")
        #expect(req.configmaps?.map { $0.metadata.name } == ["kube-root-ca.crt"])
        #expect(req.secrets?.first?.data?["pw"] == "c2VjcmV0")
    }

    @Test func deleteStopsOnTheBackendThenDeletesWithUIDPrecondition() async throws {
        let s = try await ContractServer.start(); defer { s.stop() }
        let dir = makeTempDir()
        let vk = try await VKNode.start(s, nodeName: "vk-node-e", dataDir: dir + "/data", backendState: dir + "/mock.json", pki: s.pki)
        try await s.seed([podObject("long", node: "vk-node-e", runSeconds: 600)])
        try await eventually("running") { try await phase(s, "long") == "Running" }
        let uid = try #require(try await s.pod("long")?[path: "metadata.uid"] as? String)
        let (code, _) = try await s.api("DELETE", "/api/v1/namespaces/vk/pods/long", ["gracePeriodSeconds": 5])
        #expect(code == 200)
        try await eventually("pod deleted by the node") { try await s.pod("long") == nil }
        // The node's delete: grace 0 and the UID precondition, after the backend stopped it.
        let reqs = try await s.requests()
        let del = reqs.filter { $0["method"] as? String == "DELETE" && ($0["body"] as? String)?.contains("\"gracePeriodSeconds\":0") == true }
        #expect(del.count == 1)
        #expect((del.first?["body"] as? String)?.contains(uid) == true)
        #expect(vk.reconciler.statusView.get(uid) == nil || vk.reconciler.statusView.get(uid)?.containers.allSatisfy { $0.state.terminated != nil } == true)
        await vk.stop()
    }

    @Test func restartMidRunRelistsAndLosesNothing_andALostStateDirIsAdoptedWithoutDuplicates() async throws {
        let s = try await ContractServer.start(); defer { s.stop() }
        let dir = makeTempDir()
        var vk = try await VKNode.start(s, nodeName: "vk-node-f", dataDir: dir + "/data", backendState: dir + "/mock.json", pki: s.pki)
        try await s.seed([podObject("r1", node: "vk-node-f", runSeconds: 8), podObject("r2", node: "vk-node-f", runSeconds: 8)])
        try await eventually("both running") {
            let a = try await phase(s, "r1"), b = try await phase(s, "r2")
            return a == "Running" && b == "Running"
        }
        await vk.stop()
        // While the node is down: one more pod arrives, and r2 is deleted by its owner for good.
        try await s.seed([podObject("r3", node: "vk-node-f", runSeconds: 1)])
        let r2uid = try #require(try await s.pod("r2")?[path: "metadata.uid"] as? String)
        _ = try await s.api("DELETE", "/api/v1/namespaces/vk/pods/r2", ["gracePeriodSeconds": 0])
        #expect(try await s.pod("r2") == nil)
        // Restart with the state directory gone.
        try FileManager.default.removeItem(atPath: dir + "/data")
        vk = try await VKNode.start(s, nodeName: "vk-node-f", dataDir: dir + "/data", backendState: dir + "/mock.json", pki: s.pki)
        try await eventually("r3 ran") { try await phase(s, "r3") == "Succeeded" }
        try await eventually("r1 finished") { try await phase(s, "r1") == "Succeeded" }
        // r1 was adopted: one backend job, never a second attempt.
        let r1uid = try #require(try await s.pod("r1")?[path: "metadata.uid"] as? String)
        #expect(vk.provider.jobs.filter { $0.podUID == r1uid }.count == 1)
        // r2, gone from the API server, is not run again (and its job is stopped or gone).
        #expect(vk.reconciler.statusView.get(r2uid) == nil)
        await vk.stop()
    }

    @Test func aPodDeletedWhileTheNodeWasDownIsStoppedOnTheBackendButRESTPodsAreLeftAlone() async throws {
        let s = try await ContractServer.start(); defer { s.stop() }
        let dir = makeTempDir()
        var vk = try await VKNode.start(s, nodeName: "vk-node-h", dataDir: dir + "/data", backendState: dir + "/mock.json", pki: s.pki)
        try await s.seed([podObject("gone", node: "vk-node-h", runSeconds: 600)])
        try await eventually("running") { try await phase(s, "gone") == "Running" }
        #expect(try await s.pod("gone")?[path: "status.hostIP"] as? String == "127.0.0.1")
        let goneUID = try #require(try await s.pod("gone")?[path: "metadata.uid"] as? String)
        // A pod that came in through the REST API (ctl), not from the API server.
        let restUID = UUID().uuidString.lowercased()
        _ = try await vk.reconciler.create(PodCreateRequests(pod: Pod(metadata: ObjectMeta(name: "rest", namespace: "vk", uid: restUID),
                                                                    spec: PodSpec(containers: [Container(name: "c", image: "busybox")]))))
        await vk.stop()
        _ = try await s.api("DELETE", "/api/v1/namespaces/vk/pods/gone", ["gracePeriodSeconds": 0])
        vk = try await VKNode.start(s, nodeName: "vk-node-h", dataDir: dir + "/data", backendState: dir + "/mock.json", pki: s.pki)
        try await eventually("gone's job stopped") {
            vk.reconciler.statusView.get(goneUID) == nil && !vk.provider.jobs.contains { $0.podUID == goneUID }
        }
        #expect(vk.reconciler.statusView.get(restUID) != nil)
        await vk.stop()
    }

    @Test func aRestartInTheMiddleOfADeletionFinishesIt() async throws {
        let s = try await ContractServer.start(); defer { s.stop() }
        let dir = makeTempDir()
        var vk = try await VKNode.start(s, nodeName: "vk-node-i", dataDir: dir + "/data", backendState: dir + "/mock.json", pki: s.pki)
        try await s.seed([podObject("mid", node: "vk-node-i", runSeconds: 600)])
        try await eventually("running") { try await phase(s, "mid") == "Running" }
        let uid = try #require(try await s.pod("mid")?[path: "metadata.uid"] as? String)
        await vk.stop()
        // The owner deletes it while the node is down: the API server only marks it.
        _ = try await s.api("DELETE", "/api/v1/namespaces/vk/pods/mid", ["gracePeriodSeconds": 30])
        #expect(try await s.pod("mid")?[path: "metadata.deletionTimestamp"] != nil)
        #expect(vk.provider.jobs.contains { $0.podUID == uid })
        vk = try await VKNode.start(s, nodeName: "vk-node-i", dataDir: dir + "/data", backendState: dir + "/mock.json", pki: s.pki)
        try await eventually("deleted after the restart") { try await s.pod("mid") == nil }
        #expect(!vk.provider.jobs.contains { $0.podUID == uid })  // stopped on the backend first
        await vk.stop()
    }

    /// The API budget of an idle node does not grow with its pods: once 300
    /// pods run, a quiet window holds only lease renewals (and the watch) —
    /// no per-pod status reads or writes, no polling.
    @Test func idlePodsCostNoAPIRequests() async throws {
        let s = try await ContractServer.start(); defer { s.stop() }
        let dir = makeTempDir()
        let vk = try await VKNode.start(s, nodeName: "vk-node-j", dataDir: dir + "/data", backendState: dir + "/mock.json", pki: s.pki)
        let n = 300
        try await s.seed((0..<n).map { podObject("idle-\($0)", node: "vk-node-j", runSeconds: 600) })
        try await eventually("all running", timeout: 120) {
            try await s.pods().filter { $0[path: "status.phase"] as? String == "Running" }.count == n
        }
        let lifecycle = vk.client.counters.byCall
        // Per pod so far: one status read and the writes of real changes. A mock pod's
        // status changes a few times on its way to Running (accepted, pulling, running,
        // ready); an idle machine coalesces some (about 2.4 writes per pod), a loaded
        // one writes more of them separately (CI once counted 913 for 300 pods, with
        // code that counts about 710 here, 720-840 under three busy loops). The quiet
        // windows below are what catch a periodic write.
        #expect((lifecycle["get pods"] ?? 0) <= n + 5)
        #expect((lifecycle["patch pods/status"] ?? 0) <= 4 * n)
        let idle: Set<String> = ["update coordination.k8s.io/leases", "patch nodes/status", "watch pods"]
        func window(_ seconds: Int) async throws -> [String] {
            let before = vk.client.counters.byCall
            try await Task.sleep(for: .seconds(seconds))
            return vk.client.counters.byCall.filter { $0.value != before[$0.key] }.map(\.key)
        }
        // The last changes (readiness, conditions) may still be on their way on a
        // loaded machine: wait for one quiet window, at most a minute...
        var settle = try await window(3)
        for _ in 0..<20 where !Set(settle).isSubset(of: idle) { settle = try await window(3) }
        #expect(Set(settle).isSubset(of: idle), "the pods never went quiet: \(settle)")
        // ...then idle pods must stay quiet: a periodic re-patch would show here.
        let quiet = try await window(5)
        #expect(Set(quiet).isSubset(of: idle), "\(quiet)")
        await vk.stop()
    }

    @Test func relistAfter410PicksUpPodsAndWatchSurvives429() async throws {
        let s = try await ContractServer.start(); defer { s.stop() }
        let dir = makeTempDir()
        let vk = try await VKNode.start(s, nodeName: "vk-node-g", dataDir: dir + "/data", backendState: dir + "/mock.json", pki: s.pki)
        try await s.compact()
        try await s.inject([["watchError": true], ["method": "GET", "path": "/api/v1/pods", "status": 429, "retryAfter": 1, "count": 1]])
        try await s.seed([podObject("after-410", node: "vk-node-g", runSeconds: 1)])
        try await eventually("runs after the relist", timeout: 40) { try await phase(s, "after-410") == "Succeeded" }
        await vk.stop()
    }

    @Test func leaderElectionHandsOverWithinTheLeaseDuration() async throws {
        let s = try await ContractServer.start(); defer { s.stop() }
        let client = KubeClient(connection: s.connection, qps: 100, burst: 100)
        let a = LeaderElector(client: client, namespace: "vk", name: "interlink-vk-n", identity: "a", leaseDuration: 3, renewDeadline: 2, retryPeriod: 0.5)
        let b = LeaderElector(client: client, namespace: "vk", name: "interlink-vk-n", identity: "b", leaseDuration: 3, renewDeadline: 2, retryPeriod: 0.5)
        try await a.acquire()
        let holdA = Task { await a.holdLeadership() }
        let bLeads = Task { try await b.acquire(); return Date() }
        try await Task.sleep(for: .seconds(5))
        // b waits while a renews.
        let lease = try await s.leases().first { $0[path: "metadata.name"] as? String == "interlink-vk-n" }
        #expect(lease?[path: "spec.holderIdentity"] as? String == "a")
        // a dies (stops renewing, as after SIGKILL).
        holdA.cancel()
        let died = Date()
        let took = try await bLeads.value
        #expect(took.timeIntervalSince(died) <= 3 + 2)  // within one lease duration, plus retry-period slack for a loaded machine
        let after = try await s.leases().first { $0[path: "metadata.name"] as? String == "interlink-vk-n" }
        #expect(after?[path: "spec.holderIdentity"] as? String == "b")
        #expect(after?[path: "spec.leaseTransitions"] as? Int == 1)
    }
}
