@testable import Config
import Testing

/// The `Providers:` list and the remote provider's keys.
@Suite("Providers list in InterLinkConfig.yaml")
struct ProvidersConfigTests {
    func decode(_ text: String) throws(ConfigError) -> InterLinkConfig {
        try ConfigLoader.decode(text: text, path: "/x/InterLinkConfig.yaml", environment: [:]).0
    }

    @Test func entriesInheritTopLevelSettingsWhateverTheOrderAndOverrideTheirOwn() throws {
        let c = try decode("""
        Providers:
          - Name: hpc
            Kind: slurm
            MatchLabels: {accelerator: gpu}
            SlurmFlags: ["--partition=gpu"]
          - Name: plugin
            Kind: remote
            Default: true
            SidecarURL: unix:///run/plugin.sock
        InstanceName: site-a
        SidecarTimeoutSeconds: 7
        """)
        #expect(c.providers.map(\.name) == ["hpc", "plugin"])
        #expect(c.providers.map(\.kind) == [.slurm, .remote])
        #expect(c.providers.map(\.isDefault) == [false, true])
        #expect(c.providers[0].matchLabels == ["accelerator": "gpu"])
        #expect(c.providers[0].config.slurmFlags == ["--partition=gpu"] && c.slurmFlags.isEmpty)
        #expect(c.providers[0].config.instanceName == "site-a", "top-level keys after the list still apply")
        #expect(c.providers[1].config.sidecarURL == "unix:///run/plugin.sock")
        #expect(c.providers[1].config.sidecarTimeoutSeconds == 7)
    }

    @Test func nodeSelectorIsReadPerEntryAndMustBeAMapping() throws {
        let c = try decode("Providers:\n  - {Name: a, Kind: mock, NodeSelector: {site: hpc}}\n  - {Name: b, Kind: docker}\n")
        #expect(c.providers.map(\.nodeSelector) == [["site": "hpc"], [:]])
        #expect(throws: ConfigError.self) { try decode("Providers:\n  - {Name: a, Kind: mock, NodeSelector: hpc}\n") }
    }

    @Test func theFirstEntryIsTheDefaultWhenNoneSaysSo() throws {
        let c = try decode("Providers:\n  - {Name: a, Kind: mock}\n  - {Name: b, Kind: docker}\n")
        #expect(c.providers.map(\.isDefault) == [true, false])
    }

    @Test(arguments: [
        ("Providers: docker\n", "must be a sequence"),
        ("Providers:\n  - {Kind: mock}\n", "has no Name"),
        ("Providers:\n  - {Name: a}\n", "has no Kind"),
        ("Providers:\n  - {Name: a, Kind: podman}\n", "is not a provider"),
        ("Providers:\n  - {Name: A_B, Kind: mock}\n", "must be 1-63 characters"),
        ("Providers:\n  - {Name: a, Kind: mock}\n  - {Name: a, Kind: docker}\n", "two entries named a"),
        ("Providers:\n  - {Name: a, Kind: mock, Default: true}\n  - {Name: b, Kind: mock, Default: true}\n", "Default: true"),
        ("Providers:\n  - {Name: a, Kind: mock, VKTokenFile: /t}\n", "server setting"),
        ("Providers:\n  - {Name: a, Kind: mock, Colour: blue}\n", "unknown key 'Colour'"),
        ("Providers:\n  - {Name: a, Kind: remote, SidecarURL: ftp://x}\n", "must start with http://"),
    ])
    func badListsAreOneLineNamingTheProblem(text: String, expected: String) {
        do { _ = try decode(text); Issue.record("accepted: \(text)") } catch {
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }

    @Test func theREADMEExampleLoads() throws {
        let c = try decode("""
        Providers:
          - {Name: hpc, Kind: slurm, ContainerRuntime: apptainer}
          - {Name: box, Kind: docker, Default: true}
          - {Name: htc, Kind: remote, SidecarURL: "http://htcondor-plugin", SidecarPort: 4000}
        """)
        #expect(c.providers.map(\.name) == ["hpc", "box", "htc"])
        #expect(c.providers[2].config.sidecarURL == "http://htcondor-plugin" && c.providers[1].isDefault)
    }

    @Test func remoteIsAProviderKind() throws {
        #expect(try decode("Provider: remote\nSidecarURL: http://plugin\nSidecarPort: 4001\n").provider == .remote)
    }

    @Test func slurmRestartBackoffSecondsDefaultsToKubeletsAndIsBounded() throws {
        #expect(try decode("Provider: slurm\n").slurmRestartBackoffSeconds == 10)
        #expect(try decode("Provider: slurm\nSlurmRestartBackoffSeconds: 1\n").slurmRestartBackoffSeconds == 1)
        for bad in ["0", "11", "fast"] {
            #expect(throws: ConfigError.self) { _ = try decode("Provider: slurm\nSlurmRestartBackoffSeconds: \(bad)\n") }
        }
    }
}
