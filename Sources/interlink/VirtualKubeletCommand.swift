import Config
import Dispatch
import FoundationEssentials
import KubeClient
import Model
import Providers
import Reconciler
import Server
import StatusPatcher
import VirtualKubelet
#if canImport(Glibc)
import Glibc
#endif

/// `interlink vk`: one process that is both the Kubernetes node and the
/// InterLink API. With leader election on (the default) it first waits to
/// lead; then it pulls the pods bound to the node into the core (before the
/// reconcile loop starts, so running jobs are adopted, not taken for orphans)
/// and runs the status patcher, the reconciler, the REST API, the kubelet
/// HTTPS API, the node controller and the pod controller. Losing leadership
/// exits at once (status 3) without touching the backend: the replica that
/// took over adopts the jobs.
enum VirtualKubeletCommand {
    static let usageText = "usage: interlink vk [--config PATH]"

    static func run(_ args: [String]) async -> Int32 {
        var cliConfig: String?
        var i = 0
        while i < args.count {
            switch args[i] {
            case "--config", "-c":
                guard i + 1 < args.count else { return Serve.fail("--config needs a path", code: 2) }
                cliConfig = args[i + 1]; i += 2
            case let a where a.hasPrefix("--config="):
                cliConfig = String(a.dropFirst("--config=".count)); i += 1
            case "--help", "-h": print(usageText); return 0
            default: return Serve.fail("vk: unknown option \(args[i]) (\(usageText))", code: 2)
            }
        }
        let env = ProcessEnvironment.current
        let path = ConfigLoader.resolvePath(cliPath: cliConfig, environment: env)
        let config: InterLinkConfig
        do { config = try ConfigLoader.load(path: path, environment: env) } catch { return Serve.fail(error.description, code: 2) }
        Log.level = config.verboseLogging ? .debug : config.errorsOnlyLogging ? .error : .info
        let settings = VKSettings(config, environment: env, version: version)

        let k = config.kubernetes
        let connection: KubeConnection
        do {
            connection = try KubeConnectionResolver.resolve(
                KubeConnectionOptions(kubeconfig: k.kubeconfig, context: k.context, server: k.server, tokenFile: k.tokenFile,
                                      caFile: k.caFile, insecureSkipTLSVerify: k.insecureSkipTLSVerify), environment: env)
        } catch { return Serve.fail(error.description, code: 2) }
        let client = KubeClient(connection: connection, qps: k.qps, burst: k.burst)

        let listen: ListenAddress
        do { listen = try Serve.listenAddress(config) } catch { return Serve.fail(error.description, code: 2) }
        let provider: any Provider
        do { provider = try ProviderFactory.make(config) } catch { return Serve.fail("\(error)", code: 2) }
        let reconciler: Reconciler
        do { reconciler = try await Reconciler(provider: provider, settings: ReconcilerSettings(config: config)) } catch {
            return Serve.fail("cannot load desired state from \(config.dataRootFolder): \(error)", code: 1)
        }
        let patcher = StatusPatcher(client: client, source: reconciler.statusView)
        let core: any PodAPI = PodAPIWithPatcherMetrics(core: reconciler, patcher: patcher)

        // REST API, as `serve` has it.
        var http: HTTPServerConfig
        do { http = try Serve.httpConfig(config, listen: listen, tls: true) } catch { return Serve.fail(error.description, code: 2) }
        let api = InterLinkAPI(core: core, auth: config.vkTokenFile.map { TokenAuthenticator(path: $0) })
        http.headCheck = api.headCheck
        let rest = HTTPServer(config: http, handler: api.handler)

        // Kubelet HTTPS API.
        let vk = config.virtualKubelet
        var certFile = vk.kubeletCertFile, keyFile = vk.kubeletKeyFile
        if certFile.isEmpty || keyFile.isEmpty {
            do {
                (certFile, keyFile) = try KubeletCertificate.ensure(directory: config.dataRootFolder + "/kubelet-tls",
                                                                         nodeName: settings.nodeName, ip: settings.internalIP)
            } catch { return Serve.fail(error.description, code: 2) }
        }
        var kubeletHTTP = HTTPServerConfig(listen: .tcp(host: vk.kubeletListenAddress, port: vk.kubeletPort))
        do {
            kubeletHTTP.tls = try TLSContext(files: TLSContext.Files(certFile: certFile, keyFile: keyFile,
                                                                     caCertFile: vk.kubeletCAFile.isEmpty ? nil : vk.kubeletCAFile))
        } catch { return Serve.fail("kubelet TLS: \(error.description)", code: 2) }
        let kubelet = HTTPServer(config: kubeletHTTP, handler: KubeletAPI(core: core, view: reconciler.statusView, nodeName: settings.nodeName,
                                                                                     usage: provider as? any UsageReporting).handler)

        let node = NodeController(client: client, core: core, settings: settings)
        let pods = PodController(client: client, core: core, view: reconciler.statusView, nodeName: settings.nodeName,
                                 hostIP: settings.internalIP, stateFile: config.dataRootFolder + "/vk-owned-pods.json")
        let elector = settings.leaderElection
            ? LeaderElector(client: client, namespace: settings.electionNamespace, name: "interlink-vk-" + settings.nodeName,
                            identity: VKSettings.hostName() + "_" + UUID().uuidString.lowercased(),
                            leaseDuration: settings.leaseDuration, renewDeadline: settings.renewDeadline, retryPeriod: settings.retryPeriod)
            : nil

        Log.info("interlink virtual kubelet starting", ["node": settings.nodeName, "server": connection.server,
                                                        "provider": provider.name, "kubeletPort": String(vk.kubeletPort),
                                                        "leaderElection": elector == nil ? "off" : "\(settings.electionNamespace)/interlink-vk-\(settings.nodeName)"])
        let gated = LeaderGatedService(elector: elector, pods: pods, inner: [
            StatusPatcherService(patcher: patcher),
            ReconcilerService(reconciler: reconciler),
            BoundHTTPService(server: rest, label: "http"),
            BoundHTTPService(server: kubelet, label: "kubelet"),
            NodeControllerService(node: node),
            PodControllerService(pods: pods),
        ])
        await ServiceGroup(services: [gated]).run()
        Log.info("interlink virtual kubelet stopped")
        return 0
    }
}

/// Waits to lead, pulls the node's pods into the core, then runs `inner`
/// (stopped in reverse order when this service is cancelled).
struct LeaderGatedService: Service {
    let elector: LeaderElector?
    let pods: PodController
    let inner: [any Service]
    var name: String { "leader" }

    func run() async throws {
        if let elector {
            do { try await elector.acquire() } catch { return }
        }
        // Desired state from the API server before the loop starts.
        while !Task.isCancelled {
            do { try await pods.initialSync(); break } catch {
                Log.warn("cannot list the node's pods yet; retrying", ["error": error.description])
                try? await Task.sleep(for: .seconds(2))
            }
        }
        if Task.isCancelled { return }
        let (stop, stopFeed) = AsyncStream<Void>.makeStream()
        let holder = Task {
            guard let elector else { return }
            if await elector.holdLeadership() == false {
                Log.error("lost leadership; exiting so that only the new leader acts", [:])
                exit(3)
            }
        }
        await withTaskCancellationHandler {
            _ = await ServiceGroup(services: [Stopper(stop: stop)] + inner, signals: []).run()
        } onCancel: {
            stopFeed.finish()
        }
        holder.cancel()
    }
}

/// Ends when its stream does: the trigger for the inner group's ordered shutdown.
struct Stopper: Service {
    let stop: AsyncStream<Void>
    var name: String { "leader-stop" }
    func run() async { for await _ in stop {} }
}

struct NodeControllerService: Service {
    let node: NodeController
    var name: String { "node" }
    func run() async { await node.run() }
}

struct PodControllerService: Service {
    let pods: PodController
    var name: String { "pods" }
    func run() async { await pods.run() }
}

/// An HTTP server that binds when leadership begins (a standby holds no ports).
struct BoundHTTPService: Service {
    let server: HTTPServer
    let label: String
    var name: String { label }
    func run() async throws {
        try server.start()
        Log.info("listening", ["server": label, "address": server.config.listen.description,
                               "port": server.boundPort.map(String.init) ?? "?"])
        await HTTPServerService(server: server).run()
    }
}
