import FoundationEssentials
import Model

/// `docker stats` for `/stats/summary`: one `docker ps` of this instance's
/// running containers and one `docker stats --no-stream` of them (chunked like
/// `inspect`), whatever the number of pods. `docker stats` samples for about a
/// second, so the kubelet API caches the answer (see `KubeletAPI`).
extension DockerProvider: UsageReporting {
    public func usage() async throws -> [ContainerUsage] {
        let ps = try await cli.check(["ps", "--no-trunc"] + managedFilter + ["--filter", "status=running",
            "--format={{.ID}}\t{{.Label \"\(DockerLabel.podUID)\"}}\t{{.Label \"\(DockerLabel.container)\"}}"])
        var owner: [String: (pod: String, container: String)] = [:]
        for line in ps.stdoutText.split(whereSeparator: \.isNewline) {
            let f = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard f.count == 3, !f[1].isEmpty else { continue }
            owner[f[0]] = (f[1], f[2])
        }
        guard !owner.isEmpty else { return [] }
        var out: [ContainerUsage] = []
        for chunk in DockerInspect.chunks(owner.keys.sorted()) {
            let r = try await cli.run(["stats", "--no-stream", "--no-trunc",
                                       "--format={{.ID}}\t{{.CPUPerc}}\t{{.MemUsage}}", "--"] + chunk, timeout: 60)
            // A container that stopped between `ps` and `stats` fails the command
            // for all; what it printed for the others is still good.
            if !r.succeeded && DockerCLI.isDaemonTrouble(r.stderrText) { throw DockerCLI.failure(["stats"], r) }
            let now = RFC3339.now()
            for line in r.stdoutText.split(whereSeparator: \.isNewline) {
                let f = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
                guard f.count == 3, let who = owner[f[0]] else { continue }
                out.append(ContainerUsage(podUID: who.pod, container: who.container,
                                          cpuNanoCores: Self.nanoCores(percent: f[1]),
                                          memoryBytes: Self.bytes(f[2].split(separator: "/").first.map(String.init) ?? ""),
                                          time: now))
            }
        }
        return out
    }

    /// `docker stats`' CPU column ("48.69%", 100% = one core) in nanocores.
    static func nanoCores(percent: String) -> UInt64? {
        let t = percent.trimmed
        guard t.hasSuffix("%"), let v = Double(t.dropLast()), v.isFinite, v >= 0 else { return nil }
        return UInt64(min(v, 1e9) * 10_000_000)
    }

    /// `docker stats`' memory figure ("524KiB", "1.5GiB", "12B"; Docker prints
    /// binary units, and decimal ones in older versions) in bytes.
    static func bytes(_ text: String) -> UInt64? {
        let t = text.trimmed
        let units: [(String, Double)] = [("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776),
                                         ("kB", 1e3), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1)]
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast(suffix.count)), v.isFinite, v >= 0, v * factor < 1.8e19 else { return nil }
            return UInt64(v * factor)
        }
        return nil
    }
}
