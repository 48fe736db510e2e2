import Config
import Providers

/// Builds the provider the config names.
enum ProviderFactory {
    static func make(_ config: InterLinkConfig) throws -> any Provider {
        switch config.provider {
        case .mock:
            return MockProvider(runSeconds: config.mockRunSeconds,
                                statePath: config.dataRootFolder + "/mock-backend.json")
        case .docker:
            return DockerProvider(config: config)
        case .slurm:
            return SlurmProvider(config: config)
        }
    }
}
