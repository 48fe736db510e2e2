import FoundationEssentials
import Testing
import Model
@testable import Providers
#if canImport(Glibc)
import Glibc
#endif

/// The shared log selection: the same options select the same bytes whatever
/// the provider, and reading a big log costs memory and reads that do not grow
/// with it.
@Suite(.serialized) struct LogSelectionTests {
    static let text = "2026-01-01T00:00:01.000001Z one\n2026-01-01T00:00:02.000001Z two words\n2026-01-01T00:00:03.000001Z three\n"
    static let options: [LogOpts] = [
        LogOpts(Bytes: 1), LogOpts(Bytes: 5), LogOpts(Bytes: 6), LogOpts(Bytes: 100),
        LogOpts(Tail: 2, Bytes: 4), LogOpts(Tail: 1, Bytes: 3), LogOpts(Tail: 2), LogOpts(),
    ]

    static func tempFile(_ name: String) -> String {
        let dir = "/tmp/interlink-test/logs"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return "\(dir)/\(name)-\(UInt32.random(in: 0...UInt32.max)).log"
    }

    static func collect(_ s: LogStream) async throws -> Data {
        var out = Data()
        for try await c in s { out.append(c) }
        return out
    }

    @Test func bytesKeepsTheFirstBytesOfTheSelection() {
        let sel = { (o: LogOpts) in String(decoding: SlurmLogs.render(Self.text, o), as: UTF8.self) }
        #expect(sel(LogOpts(Bytes: 6)) == "one\ntw")
        #expect(sel(LogOpts(Tail: 2, Bytes: 6)) == "two wo")
        #expect(sel(LogOpts(Tail: 1, Bytes: 12, Timestamps: true)) == "2026-01-01T0")
        // Tail is counted before since, as the kubelet does.
        #expect(sel(LogOpts(Tail: 2, SinceTime: "2026-01-01T00:00:03Z")) == "three\n")
    }

    @Test func mockAndSlurmSelectTheSameBytesForTheSameLog() async throws {
        let lines: [(at: Date, text: String)] = [(RFC3339.date("2026-01-01T00:00:01Z")!, "one"),
                                                 (RFC3339.date("2026-01-01T00:00:02Z")!, "two words"),
                                                 (RFC3339.date("2026-01-01T00:00:03Z")!, "three")]
        let path = Self.tempFile("same")
        try Self.text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        for o in Self.options {
            let slurm = try await Self.collect(SlurmLogs.stream(log: path, exitFile: path, options: o))
            let mock = MockLogs.render(lines, options: o, now: Date())
            #expect(slurm == mock, "\(o)")
            #expect(slurm == SlurmLogs.render(Self.text, o), "\(o)")
        }
    }

    /// The same log on a real Docker container selects the same bytes as Slurm and the mock.
    @Test(.enabled(if: DockerTest.enabled, "needs the test dockerd"))
    func dockerSelectsTheSameBytesAsTheOthers() async throws {
        let (p, _) = DockerTest.provider()
        let pod = DockerTest.pod([DockerTest.sh("c", "echo one; echo two words; echo three")])
        _ = try await p.create(pod)
        _ = try await DockerTest.waitFinished(p, pod)
        for o in Self.options {
            let docker = try await DockerTest.logs(p, pod, "c", o)
            #expect(Data(docker.utf8) == SlurmLogs.render(Self.text, o), "\(o)")
        }
        await DockerTest.remove(p, [pod])
    }

    /// Peak resident memory of this process, in bytes.
    static func peakRSS() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    /// Bytes this process read through read(2)/pread(2) so far.
    static func bytesRead() -> Int {
        let io = (try? String(contentsOfFile: "/proc/self/io", encoding: .utf8)) ?? ""
        let line = io.split(separator: "\n").first { $0.hasPrefix("rchar:") } ?? ""
        return Int(line.split(separator: " ").last ?? "") ?? 0
    }

    /// A log of about `megabytes` MB in the Slurm job's format, written in blocks.
    static func bigLog(megabytes: Int) throws -> String {
        let path = tempFile("big")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { close(fd) }
        let pad = String(repeating: "x", count: 70)
        var block = ""
        for i in 0..<10_000 { block += "2026-01-01T00:00:01.000001Z line \(i) \(pad)\n" }
        let data = Data(block.utf8)
        for _ in 0..<(megabytes * 1_000_000 / data.count) { _ = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
        let last = Data("2026-01-01T00:00:02.000001Z the end\n".utf8)
        _ = last.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        return path
    }

    @Test func theTailOfA200MBLogCostsAFewMegabytes() async throws {
        let path = try Self.bigLog(megabytes: 200)
        defer { unlink(path) }
        let before = Self.peakRSS()
        let out = try await Self.collect(SlurmLogs.stream(log: path, exitFile: path, options: LogOpts(Tail: 2)))
        let grew = Self.peakRSS() - before
        #expect(String(decoding: out, as: UTF8.self).hasSuffix("the end\n"))
        #expect(String(decoding: out, as: UTF8.self).split(separator: "\n").count == 2)
        #expect(grew < 32 << 20, "peak memory grew by \(grew >> 20) MB for a tail of 2 lines")
        // The first bytes of a big log cost as little.
        let head = try await Self.collect(SlurmLogs.stream(log: path, exitFile: path, options: LogOpts(Bytes: 10)))
        #expect(head == Data("line 0 xxx".utf8))
        #expect(Self.peakRSS() - before < 32 << 20)
    }

    @Test func aFollowedLogReadsOnlyTheBytesAppendedSince() async throws {
        let path = try Self.bigLog(megabytes: 100)
        let exit = path + ".exit"
        defer { unlink(path); unlink(exit) }
        let readBefore = Self.bytesRead()
        let stream = SlurmLogs.stream(log: path, exitFile: exit, options: LogOpts(Tail: 1, Follow: true))
        let writer = Task {
            for i in 0..<5 {
                try await Task.sleep(for: .milliseconds(400))
                let fd = open(path, O_WRONLY | O_APPEND)
                let d = Data("2026-01-01T00:00:03.000001Z more \(i)\n".utf8)
                _ = d.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
            }
            try await Task.sleep(for: .milliseconds(400))
            FileManager.default.createFile(atPath: exit, contents: Data("0\n".utf8))
        }
        let out = String(decoding: try await Self.collect(stream), as: UTF8.self)
        try await writer.value
        #expect(out == "the end\n" + (0..<5).map { "more \($0)\n" }.joined())
        let read = Self.bytesRead() - readBefore
        #expect(read < 20 << 20, "the follow read \(read >> 20) MB of a 100 MB log to send 6 lines")
    }

    @Test func aFollowEndsWhenTheLogIsRemovedOrTheJobEndsWithoutAnExitFile() async throws {
        let path = Self.tempFile("gone")
        try Self.text.write(toFile: path, atomically: true, encoding: .utf8)
        let removed = Task { try await Task.sleep(for: .milliseconds(500)); unlink(path) }
        let out = try await Self.collect(SlurmLogs.stream(log: path, exitFile: path + ".never", options: LogOpts(Follow: true)))
        try await removed.value
        #expect(out == Data("one\ntwo words\nthree\n".utf8))

        let path2 = Self.tempFile("vanished")
        try Self.text.write(toFile: path2, atomically: true, encoding: .utf8)
        defer { unlink(path2) }
        let start = Date()
        let gone = try await Self.collect(SlurmLogs.stream(log: path2, exitFile: path2 + ".never", options: LogOpts(Tail: 1, Follow: true),
                                                           jobEnded: { Date().timeIntervalSince(start) > 0.5 }))
        #expect(gone == Data("three\n".utf8))
    }

    @Test func aFollowEndsWhenTheClientGoesAway() async throws {
        let path = Self.tempFile("client")
        try Self.text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let task = Task { try await Self.collect(SlurmLogs.stream(log: path, exitFile: path + ".never", options: LogOpts(Follow: true))) }
        try await Task.sleep(for: .milliseconds(500))
        task.cancel()
        let out = try await task.value
        #expect(out == Data("one\ntwo words\nthree\n".utf8))
    }

    @Test func aLineLongerThanTheLimitIsPassedOnInPiecesNotHeldWhole() {
        var s = LogLineSelector(LogSelection(LogOpts()))
        let long = Data("2026-01-01T00:00:01Z ".utf8) + Data(repeating: 0x61, count: LogLineSelector.maxLine + 10)
        let first = s.feed(long)
        #expect(first.count == LogLineSelector.maxLine + 10)
        #expect(s.feed(Data("bbb\n".utf8)) == Data("bbb\n".utf8))
        #expect(s.feed(Data("2026-01-01T00:00:02Z c\n".utf8)) == Data("c\n".utf8))
    }
}
