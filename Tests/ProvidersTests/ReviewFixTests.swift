import FoundationEssentials
import Config
import Model
@testable import Providers
import Testing

/// Inputs found in review that used to crash or slip through.
@Suite struct HostileResourceAndFlagTests {
    @Test func hugeQuantitiesRoundUpWithoutTrapping() throws {
        let q = try Quantity.parse("9223372036854775807m")
        #expect(q.bytes == 9_223_372_036_854_776)          // Int64.max milli-units, rounded up
        #expect(q.mebibytesRoundedUp > 0)
        #expect(q.wholeCoresRoundedUp > 0)
        #expect(Quantity.divideRoundingUp(1001, 1000) == 2)
        #expect(Quantity.divideRoundingUp(1000, 1000) == 1)
        #expect(Quantity.divideRoundingUp(0, 1000) == 0)
    }

    @Test(arguments: ["--job-nam=stolen", "--outp=/tmp/x", "--chd=/", "-vJstolen", "-HJx", "--requeue", "--uid=0"])
    func abbreviatedClusteredOrReservedSbatchOptionsAreRefused(flag: String) {
        #expect(throws: ProviderError.self) {
            _ = try SlurmFlags.admit(try SlurmFlags.parse(flag, source: "annotation"), source: "annotation",
                                     allowed: Set(InterLinkConfig.defaultSlurmAllowedFlags))
        }
    }

    @Test func ordinaryShortAndLongOptionsStillPass() throws {
        let flags = try SlurmFlags.parse("-p batch -N2 --time=10 -v --exclusive", source: "annotation")
        #expect(flags.map(\.key) == ["partition", "nodes", "time", "verbose", "exclusive"])
    }

    @Test func aDockerContainerWhoseProcessCouldNotStartIsTerminatedNotCreating() throws {
        let json = DockerInspectTests.container(id: "c1", status: "created", exitCode: 127,
                                                error: "exec: nosuchbin: executable file not found in $PATH")
        let r = try #require(try DockerInspectTests.records([json]).first)
        #expect(r.isTerminated && r.hasStarted && !r.succeeded)
        let t = try #require(DockerInspect.status(of: r).state.terminated)
        #expect(t.exitCode == 127)
        #expect(t.reason == "ContainerCannotRun")
        #expect(t.message?.contains("nosuchbin") == true)
    }
}

@Suite struct SlurmDockerRuntimeEnvTests {
    @Test func secretValuesReachDockerThroughItsEnvironmentNotItsArgv() throws {
        var config = InterLinkConfig()
        config.containerRuntime = "docker"
        let cmd = try SlurmContainerCommand(config: config, annotations: [:])
        let c = Container(name: "main", image: "busybox", command: ["sh"])
        let argv = try cmd.argv(c, uid: "u", attempt: 0,
                                env: [(name: "PASSWORD", value: "s3cr3t\nline2"), (name: "DOCKER_HOST", value: "tcp://evil:2375")],
                                mounts: [], envFile: "/unused")
        let docker = try #require(argv.firstIndex(of: "docker"))
        // `env -- PASSWORD=... docker ...`: env execs docker, whose argv only names the variable.
        #expect(Array(argv[..<docker]) == ["env", "--", "PASSWORD=s3cr3t\nline2"])
        #expect(!argv[docker...].contains { $0.contains("s3cr3t") })
        #expect(argv[docker...].contains("--env=PASSWORD"))
        // A variable the docker CLI reads itself never reaches the CLI's environment.
        #expect(argv[docker...].contains("--env=DOCKER_HOST=tcp://evil:2375"))
        #expect(!argv[..<docker].contains { $0.hasPrefix("DOCKER_HOST") })
    }
}
