import FoundationEssentials
import Testing
@testable import Providers

@Suite struct ProcessRunnerTests {
    @Test func capturesStdoutStderrAndExitCode() async throws {
        let r = try await ProcessRunner.run("sh", ["-c", "echo out; echo err >&2; exit 3"])
        #expect(r.stdoutText == "out\n")
        #expect(r.stderrText == "err\n")
        #expect(r.exitCode == 3)
    }

    @Test func argumentsArePassedVerbatimNotThroughAShell() async throws {
        let hostile = "a b; echo pwned $(id) `id` \"q\" 'q'\nline2"
        let r = try await ProcessRunner.run("printf", ["%s", hostile])
        #expect(r.stdoutText == hostile)
    }

    @Test func largeOutputDoesNotDeadlock() async throws {
        let r = try await ProcessRunner.run("head", ["-c", "1000000", "/dev/zero"])
        #expect(r.stdout.count == 1_000_000)
    }

    @Test func stdinIsDelivered() async throws {
        let r = try await ProcessRunner.run("cat", [], stdin: Data("hello".utf8))
        #expect(r.stdoutText == "hello")
    }

    @Test func timeoutKillsTheChild() async throws {
        await #expect(throws: ProcessError.self) {
            _ = try await ProcessRunner.run("sleep", ["5"], timeout: 0.3)
        }
    }

    @Test func backgroundGrandchildDoesNotBlock() async throws {
        let start = ProcessRunner.monotonicSeconds()
        let r = try await ProcessRunner.run("sh", ["-c", "sleep 30 & echo hi"])
        #expect(r.stdoutText == "hi\n")
        #expect(ProcessRunner.monotonicSeconds() - start < 20)
    }

    @Test func missingCommandIsAClearError() async throws {
        await #expect(throws: ProcessError.notFound("no-such-tool-xyz")) {
            _ = try await ProcessRunner.run("no-such-tool-xyz", [])
        }
    }

    @Test func environmentAndWorkingDirectory() async throws {
        let r = try await ProcessRunner.run("sh", ["-c", "echo \"$FOO\"; pwd"], environment: ["FOO": "bar baz"], workingDirectory: "/tmp")
        #expect(r.stdoutText == "bar baz\n/tmp\n")
    }

    @Test func streamYieldsOutputAndStopsOnCancel() async throws {
        var got = Data()
        for try await chunk in ProcessRunner.stream("sh", ["-c", "echo one; echo two"]) { got.append(chunk) }
        #expect(String(decoding: got, as: UTF8.self) == "one\ntwo\n")
    }
}
