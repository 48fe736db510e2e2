import Config
import Dispatch
import FoundationEssentials
import Model
import Providers
import Reconciler
import Server
import StatusPatcher
#if canImport(Glibc)
import Glibc
#endif

/// `interlink serve`: load the config, open the desired-state store, start the
/// reconcile loop and the HTTP API, and shut both down gracefully on SIGTERM/SIGINT.
enum Serve {
    static func run(_ args: [String]) async -> Int32 {
        var cliConfig: String?
        var i = 0
        while i < args.count {
            switch args[i] {
            case "--config", "-c":
                guard i + 1 < args.count else { return fail("--config needs a path", code: 2) }
                cliConfig = args[i + 1]; i += 2
            case let a where a.hasPrefix("--config="):
                cliConfig = String(a.dropFirst("--config=".count)); i += 1
            case "--help", "-h":
                print("usage: interlink serve [--config PATH]"); return 0
            default:
                return fail("serve: unknown option \(args[i]) (usage: interlink serve [--config PATH])", code: 2)
            }
        }

        let env = ProcessEnvironment.current
        let path = ConfigLoader.resolvePath(cliPath: cliConfig, environment: env)
        let config: InterLinkConfig
        do { config = try ConfigLoader.load(path: path, environment: env) } catch {
            return fail(error.description, code: 2)
        }
        Log.level = config.verboseLogging ? .debug : config.errorsOnlyLogging ? .error : .info

        let listen: ListenAddress
        do { listen = try listenAddress(config) } catch { return fail(error.description, code: 2) }

        let provider: any Provider
        do { provider = try ProviderFactory.make(config) } catch { return fail("\(error)", code: 2) }

        let reconciler: Reconciler
        do {
            reconciler = try await Reconciler(provider: provider, settings: ReconcilerSettings(config: config))
        } catch {
            return fail("cannot load desired state from \(config.dataRootFolder): \(error)", code: 1)
        }

        var http: HTTPServerConfig
        do { http = try httpConfig(config, listen: listen, tls: true) } catch { return fail(error.description, code: 2) }
        let patcher: StatusPatcher?
        do { patcher = try ServeKubernetes.statusPatcher(config, environment: env, source: reconciler.statusView) } catch {
            return fail(error.description, code: 2)
        }
        let core: any PodAPI = patcher.map { PodAPIWithPatcherMetrics(core: reconciler, patcher: $0) } ?? reconciler
        let api = InterLinkAPI(core: core, auth: config.vkTokenFile.map { TokenAuthenticator(path: $0) })
        http.headCheck = api.headCheck
        let server = HTTPServer(config: http, handler: api.handler)
        do { try server.start() } catch { return fail("cannot listen on \(listen): \(error)", code: 1) }

        Log.info("interlink serving", ["listen": server.boundPort.map { "\(listen) (port \($0))" } ?? listen.description,
                                       "tls": http.tls == nil ? "off" : http.tls?.files.caCertFile == nil ? "on" : "mutual",
                                       "provider": provider.name, "config": path,
                                       "dataRoot": config.dataRootFolder, "version": version])

        // Started in this order, stopped in reverse: HTTP intake first.
        var services: [any Service] = patcher.map { [StatusPatcherService(patcher: $0)] } ?? []
        services += [ReconcilerService(reconciler: reconciler), HTTPServerService(server: server)]
        await ServiceGroup(services: services, reload: { ServeReload.logLevel(path: path, environment: env) }).run()
        Log.info("interlink stopped")
        return 0
    }

    /// `InterlinkAddress` + `InterlinkPort` as a listen address.
    static func listenAddress(_ c: InterLinkConfig) throws(ConfigError) -> ListenAddress {
        let addr = c.interlinkAddress
        if addr.hasPrefix("unix://") {
            let p = String(addr.dropFirst("unix://".count))
            guard p.hasPrefix("/") else {
                throw ConfigError(path: "InterlinkAddress", line: nil, message: "a unix socket address must be absolute: unix:///path/to.sock")
            }
            return .unix(path: p)
        }
        if addr.hasPrefix("https://") && !c.tls.enabled {
            throw ConfigError(path: "InterlinkAddress", line: nil,
                              message: "\(addr) is https:// but TLS.Enabled is false; set TLS.Enabled: true with TLS.CertFile and TLS.KeyFile")
        }
        var host = addr
        for scheme in ["http://", "https://"] where host.hasPrefix(scheme) { host = String(host.dropFirst(scheme.count)) }
        if let slash = host.firstIndex(of: "/") { host = String(host[..<slash]) }
        if host.hasPrefix("["), let end = host.firstIndex(of: "]") { host = String(host[host.index(after: host.startIndex)..<end]) }
        else if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        guard !host.isEmpty else {
            throw ConfigError(path: "InterlinkAddress", line: nil, message: "no host in \"\(addr)\"")
        }
        guard (0...65535).contains(c.interlinkPort) else {
            throw ConfigError(path: "InterlinkPort", line: nil, message: "\(c.interlinkPort) is not a TCP port")
        }
        return .tcp(host: host, port: c.interlinkPort)
    }

    /// The HTTP settings every front door (serve, vk, sidecar) takes from the
    /// config: limits and timeouts, the descriptor limit raised to its hard
    /// value with the connection cap derived from it, and TLS when `tls`.
    static func httpConfig(_ config: InterLinkConfig, listen: ListenAddress, tls: Bool) throws(TLSError) -> HTTPServerConfig {
        var http = HTTPServerConfig(listen: listen)
        http.maxBodyBytes = config.maxBodyBytes
        http.readTimeoutSeconds = config.readTimeoutSeconds
        http.bodyTimeoutSeconds = config.bodyTimeoutSeconds
        // Raise the descriptor limit first, then cap connections at what it leaves room for.
        let descriptors = DescriptorLimit.raiseToHard()
        http.maxConnections = descriptors.map { DescriptorLimit.connectionCap(configured: config.maxConnections, descriptors: $0) }
            ?? config.maxConnections
        if http.maxConnections < config.maxConnections {
            Log.warn("MaxConnections lowered to fit the descriptor limit",
                     ["configured": String(config.maxConnections), "cap": String(http.maxConnections),
                      "RLIMIT_NOFILE": descriptors.map(String.init) ?? "?"])
        }
        if tls && config.tls.enabled {
            let files = TLSContext.Files(certFile: config.tls.certFile, keyFile: config.tls.keyFile,
                                         caCertFile: config.tls.caCertFile.isEmpty ? nil : config.tls.caCertFile)
            http.tls = try TLSContext(files: files)
        }
        return http
    }

    static func fail(_ message: String, code: Int32) -> Int32 {
        printError("interlink: \(message)")
        return code
    }
}

/// Turns SIGTERM/SIGINT into a callback, the way SWIFT-LINUX.md measured works:
/// ignore the signal first, then watch it with a Dispatch source kept alive.
final class SignalWatcher: @unchecked Sendable {  // immutable after init
    private let sources: [any DispatchSourceSignal]

    init(signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        sources = signals.map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { handler(sig) }
            source.resume()
            return source
        }
    }
}
