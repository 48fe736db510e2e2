import Config
import FoundationEssentials
import Model
import Providers
import Reconciler
import Server
#if canImport(Glibc)
import Glibc
#endif

/// `interlink sidecar --provider docker|slurm|mock [--config PATH]`: serves the
/// interLink -> plugin API at `SidecarURL`/`SidecarPort` (unix:// too) over one
/// of this project's providers, with a reconciler and journal of its own under
/// `<DataRootFolder>/sidecar-<provider>/`, so it heals by itself after a crash
/// and may share a config file (and DataRootFolder) with `interlink serve`.
enum Sidecar {
    static let usageLine = "usage: interlink sidecar --provider docker|slurm|mock [--config PATH]"

    static func run(_ args: [String]) async -> Int32 {
        var cliConfig: String?, kindText: String?
        var i = 0
        while i < args.count {
            let a = args[i]
            // `--flag value` or `--flag=value`.
            func take(_ flag: String) -> String? {
                if a.hasPrefix(flag + "=") { i += 1; return String(a.dropFirst(flag.count + 1)) }
                guard i + 1 < args.count else { return nil }
                i += 2; return args[i - 1]
            }
            if a == "--config" || a == "-c" || a.hasPrefix("--config=") {
                guard let v = take(a.hasPrefix("--config=") ? "--config" : a) else { return Serve.fail("--config needs a path", code: 2) }
                cliConfig = v
            } else if a == "--provider" || a.hasPrefix("--provider=") {
                guard let v = take("--provider") else { return Serve.fail("--provider needs docker, slurm or mock", code: 2) }
                kindText = v
            } else if a == "--help" || a == "-h" {
                print(usageLine); return 0
            } else {
                return Serve.fail("sidecar: unknown option \(a) (\(usageLine))", code: 2)
            }
        }

        let env = ProcessEnvironment.current
        let path = ConfigLoader.resolvePath(cliPath: cliConfig, environment: env)
        var config: InterLinkConfig
        do { config = try ConfigLoader.load(path: path, environment: env) } catch {
            return Serve.fail(error.description, code: 2)
        }
        let kind: ProviderKind
        if let kindText {
            guard let k = ProviderKind(rawValue: kindText.lowercased()), k != .remote else {
                return Serve.fail("sidecar: --provider '\(kindText)' is not one of docker, slurm, mock", code: 2)
            }
            kind = k
        } else {
            guard config.provider != .remote else {
                return Serve.fail("sidecar: the config says Provider: remote; give --provider docker|slurm|mock", code: 2)
            }
            kind = config.provider
        }
        Log.level = config.verboseLogging ? .debug : config.errorsOnlyLogging ? .error : .info
        config.provider = kind
        config.providers = []
        let root = config.dataRootFolder.hasSuffix("/") ? String(config.dataRootFolder.dropLast()) : config.dataRootFolder
        config.dataRootFolder = root + "/sidecar-" + kind.rawValue
        if !config.stateFolder.isEmpty {
            // Its own journal beside the main server's, never the same one (the store's lock would refuse it).
            let state = config.stateFolder.hasSuffix("/") ? String(config.stateFolder.dropLast()) : config.stateFolder
            config.stateFolder = state + "/sidecar-" + kind.rawValue
        }

        let listen: ListenAddress
        do { listen = try listenAddress(config) } catch { return Serve.fail(error.description, code: 2) }

        let provider: any Provider
        do { provider = try ProviderFactory.make(config, kind: kind, name: nil) } catch { return Serve.fail("\(error)", code: 2) }
        let reconciler: Reconciler
        do {
            reconciler = try await Reconciler(provider: provider, settings: ReconcilerSettings(config: config))
        } catch {
            return Serve.fail("cannot load desired state from \(config.dataRootFolder): \(error)", code: 1)
        }

        // The plugin API is plain HTTP (the server in front dials it so, as upstream's does); the rest as `serve`.
        var http: HTTPServerConfig
        do { http = try Serve.httpConfig(config, listen: listen, tls: false) } catch { return Serve.fail(error.description, code: 2) }
        let api = SidecarAPI(core: reconciler, auth: config.sidecarTokenFile.map { TokenAuthenticator(path: $0) },
                             observed: { reconciler.hasObserved })
        http.headCheck = api.headCheck
        let server = HTTPServer(config: http, handler: api.handler)
        do { try server.start() } catch { return Serve.fail("cannot listen on \(listen): \(error)", code: 1) }

        Log.info("interlink sidecar serving", ["listen": server.boundPort.map { "\(listen) (port \($0))" } ?? listen.description,
                                               "provider": provider.name, "config": path,
                                               "dataRoot": config.dataRootFolder, "version": version])
        let signals = SignalWatcher(signals: [SIGTERM, SIGINT]) { sig in
            Log.info("shutting down", ["signal": sig == SIGTERM ? "SIGTERM" : "SIGINT"])
            Task {
                await server.shutdown()
                await reconciler.stop()
            }
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await reconciler.run() }
            group.addTask { await server.run() }
            await group.waitForAll()
        }
        withExtendedLifetime(signals) {}
        Log.info("interlink sidecar stopped")
        return 0
    }

    /// `SidecarURL` + `SidecarPort` as a listen address (the rules of `InterlinkAddress`).
    static func listenAddress(_ c: InterLinkConfig) throws(ConfigError) -> ListenAddress {
        var asServer = c
        asServer.interlinkAddress = c.sidecarURL
        asServer.interlinkPort = c.sidecarPort
        do { return try Serve.listenAddress(asServer) } catch {
            var e = error
            e.path = e.path == "InterlinkAddress" ? "SidecarURL" : e.path == "InterlinkPort" ? "SidecarPort" : e.path
            throw e
        }
    }
}
