import Config
import Providers

/// Builds the provider the config names: one backend, or with `Providers:`
/// a `RoutingProvider` over several named ones.
enum ProviderFactory {
    static func make(_ config: InterLinkConfig) throws -> any Provider {
        if !config.providers.isEmpty {
            let backends = try config.providers.map { b -> (name: String, provider: any Provider) in
                (b.name, try make(b.config, kind: b.kind, name: b.name))
            }
            let rule = RoutingRule(matchLabels: config.providers.filter { !$0.matchLabels.isEmpty }.map { ($0.name, $0.matchLabels) },
                                   defaultName: config.providers.first(where: \.isDefault)?.name ?? config.providers[0].name,
                                   matchNodeSelector: config.providers.filter { !$0.nodeSelector.isEmpty }.map { ($0.name, $0.nodeSelector) })
            return RoutingProvider(backends: backends, rule: rule)
        }
        return try make(config, kind: config.provider, name: nil)
    }

    /// One backend; `name` (set for `Providers:` entries) keeps per-backend
    /// files apart when two backends share the DataRootFolder.
    static func make(_ config: InterLinkConfig, kind: ProviderKind, name: String?) throws -> any Provider {
        let root = config.dataRootFolder
        switch kind {
        case .mock:
            return MockProvider(runSeconds: config.mockRunSeconds,
                                statePath: root + (name.map { "/mock-backend-\($0).json" } ?? "/mock-backend.json"))
        case .docker:
            return DockerProvider(config: config)
        case .slurm:
            return SlurmProvider(config: config)
        case .remote:
            let endpoint = PluginEndpoint(sidecarURL: config.sidecarURL, sidecarPort: config.sidecarPort,
                                          tokenFile: config.sidecarTokenFile, timeoutSeconds: config.sidecarTimeoutSeconds)
            return RemoteProvider(name: name ?? "remote", endpoint: endpoint,
                                  stateDirectory: root + "/remote-" + (name ?? "remote"), dataRoot: root)
        }
    }
}
