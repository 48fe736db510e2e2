import Foundation
import Testing
@testable import Config

@Suite("Config loader")
struct ConfigLoaderTests {
    private func decode(_ text: String, env: [String: String] = [:]) throws(ConfigError) -> (InterLinkConfig, [String]) {
        try ConfigLoader.decode(text: text, path: "/x/InterLinkConfig.yaml", environment: env)
    }
    private func failure(_ text: String, env: [String: String] = [:]) -> ConfigError? {
        do { _ = try decode(text, env: env); return nil } catch { return error }
    }

    @Test func pathPrecedenceIsFlagThenEnvironmentThenDefault() {
        #expect(ConfigLoader.resolvePath(cliPath: "/a.yaml", environment: ["INTERLINKCONFIGPATH": "/b.yaml"]) == "/a.yaml")
        #expect(ConfigLoader.resolvePath(cliPath: nil, environment: ["INTERLINKCONFIGPATH": "/b.yaml"]) == "/b.yaml")
        #expect(ConfigLoader.resolvePath(cliPath: "", environment: [:]) == "/etc/interlink/InterLinkConfig.yaml")
    }

    @Test func missingFileIsOneClearLine() {
        #expect(throws: ConfigError(path: "/nonexistent/c.yaml", line: nil, message: "no such file (set --config or INTERLINKCONFIGPATH)")) {
            try ConfigLoader.load(path: "/nonexistent/c.yaml", environment: [:])
        }
        let e = ConfigError(path: "/p.yaml", line: 3, message: "x")
        #expect(e.description == "/p.yaml:3: x")
    }

    @Test func upstreamConfigLoadsWithStringPortsAndSidecarServiceAlias() throws {
        let (c, unknown) = try decode("""
            InterlinkAddress: "http://0.0.0.0"
            InterlinkPort: "3001"
            SidecarURL: "http://plugin"
            SidecarPort: 4001
            SidecarService: slurm
            VerboseLogging: true
            DataRootFolder: "/tmp/.interlink"
            TLS:
              Enabled: false
              CertFile: ""
            ServiceAccount: interlink
            Tsocks: false
            """)
        #expect(c.interlinkAddress == "http://0.0.0.0" && c.interlinkPort == 3001)
        #expect(c.sidecarURL == "http://plugin" && c.sidecarPort == 4001)
        #expect(c.provider == .slurm && c.verboseLogging && c.dataRootFolder == "/tmp/.interlink")
        #expect(unknown == ["ServiceAccount", "Tsocks"])
    }

    @Test func ourKeysAreRead() throws {
        let (c, _) = try decode("""
            Provider: docker
            MaxBodyBytes: 2048
            ReadTimeoutSeconds: 2.5
            MaxConnections: 10
            ReconcileIntervalSeconds: 1
            MaxCreateAttempts: 3
            InstanceName: site-a
            MaxRestarts: 0
            MockRunSeconds: 0
            DockerHost: unix:///tmp/d.sock
            AllowHostPath: yes
            EnableGPU: true
            SlurmFlags: [--partition=debug, "--qos=low"]
            ContainerRuntime: singularity
            ImageRoot: docker://
            AllowPreExec: true
            VKTokenFile: token
            """)
        #expect(c.provider == .docker && c.maxBodyBytes == 2048 && c.readTimeoutSeconds == 2.5)
        #expect(c.maxConnections == 10 && c.reconcileIntervalSeconds == 1 && c.maxCreateAttempts == 3)
        #expect(c.instanceName == "site-a" && c.maxRestarts == 0 && c.mockRunSeconds == 0)
        #expect(c.dockerHost == "unix:///tmp/d.sock" && c.allowHostPath && c.enableGPU)
        #expect(c.slurmFlags == ["--partition=debug", "--qos=low"] && c.containerRuntime == "singularity")
        #expect(c.imageRoot == "docker://" && c.allowPreExec && c.vkTokenFile == "token")
    }

    @Test func emptyFileAndEmptyValuesKeepDefaults() throws {
        #expect(try decode("").0 == InterLinkConfig())
        #expect(try decode("InterlinkPort:\nDockerHost:\n").0 == InterLinkConfig())
    }

    @Test func wrongTypesAndRangesNameTheLine() {
        #expect(failure("Provider: mock\nInterlinkPort: 70000\n")?.line == 2)
        #expect(failure("InterlinkPort: abc\n")?.message.contains("not a port number") == true)
        #expect(failure("a: 1\nVerboseLogging: maybe\n")?.line == 2)
        #expect(failure("Provider: kubernetes\n")?.message.contains("mock, docker, slurm") == true)
        #expect(failure("MaxConnections: 0\n")?.message.contains("between 1") == true)
        #expect(failure("SlurmFlags: --partition=x\n")?.message.contains("sequence") == true)
        #expect(failure("InstanceName: Bad_Name\n")?.line == 1)
        #expect(failure("DockerNetwork: 5\n")?.message.contains("must be a string") == true)
        #expect(failure("TLS:\n  Enabled: true\n")?.message.contains("CertFile") == true)
        #expect(failure("TLS:\n  Enable: true\n")?.line == 2)
        #expect(failure("Provider: docker\nSidecarService: slurm\n")?.line == 2)
        #expect(failure("InterlinkAddress: 127.0.0.1\n")?.message.contains("http://") == true)
        #expect(failure("- a\n")?.message.contains("mapping") == true)
        #expect(failure("a: 1\n---\nb: 2\n")?.line == 3)
    }

    @Test func yamlErrorsBecomeConfigErrorsWithTheLine() {
        let e = failure("a: 1\nb: 'open\n")
        #expect(e?.path == "/x/InterLinkConfig.yaml" && e?.line == 3)
    }

    @Test func environmentOverridesTheFile() throws {
        let env = ["INTERLINKURL": "unix:///run/il.sock", "INTERLINKPORT": "3100", "SIDECARURL": "http://s",
                   "SIDECARPORT": "4100", "INTERLINK_PROVIDER": "slurm", "INTERLINK_DATA_ROOT": "/data"]
        let (c, _) = try decode("InterlinkAddress: http://127.0.0.1\nInterlinkPort: 3000\nProvider: mock\nDataRootFolder: x\n", env: env)
        #expect(c.interlinkAddress == "unix:///run/il.sock" && c.interlinkPort == 3100)
        #expect(c.sidecarURL == "http://s" && c.sidecarPort == 4100)
        #expect(c.provider == .slurm && c.dataRootFolder == "/data")
        #expect(failure("", env: ["INTERLINKPORT": "x"])?.message.contains("INTERLINKPORT") == true)
        #expect(failure("", env: ["INTERLINK_PROVIDER": "k8s"])?.message.contains("INTERLINK_PROVIDER") == true)
    }

    @Test func shippedDefaultConfigLoads() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/InterLinkConfig.yaml").path
        let c = try ConfigLoader.load(path: path, environment: [:])
        #expect(c.provider == .mock && c.interlinkAddress == "http://127.0.0.1" && c.interlinkPort == 3000)
        #expect(c.dataRootFolder == ".interlink/data")
    }

    @Test func readmeDocumentsEveryKey() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/README.md").path
        let readme = try String(contentsOfFile: path, encoding: .utf8)
        for key in ConfigReader.knownKeys + EnvironmentOverrides.names {
            #expect(readme.contains("`\(key)`"), "config/README.md does not document \(key)")
        }
    }
}

@Suite("SubPathPinning key")
struct SubPathPinningConfigTests {
    @Test func defaultsToAutoAndTakesRequiredOrOff() throws {
        #expect(InterLinkConfig().subPathPinning == "auto")
        for mode in ["auto", "required", "off"] {
            let (c, _) = try ConfigLoader.decode(text: "SubPathPinning: \(mode)\n", path: "/x.yaml", environment: [:])
            #expect(c.subPathPinning == mode)
        }
        // YAML 1.1 reads a bare off as false; quoted, it is the string.
        let (quoted, _) = try ConfigLoader.decode(text: "SubPathPinning: \"off\"\n", path: "/x.yaml", environment: [:])
        #expect(quoted.subPathPinning == "off")
    }

    @Test func anyOtherValueIsRefusedWithTheChoices() {
        do {
            _ = try ConfigLoader.decode(text: "SubPathPinning: sometimes\n", path: "/x.yaml", environment: [:])
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("SubPathPinning 'sometimes' is not one of auto, required, off"), "\(error)")
        }
    }
}
