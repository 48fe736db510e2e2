import FoundationEssentials
import Model

/// `docker logs` arguments for a `LogSelection`. Pure. Docker always adds its
/// timestamps, so the shared `LogLineSelector` can apply `since` and
/// `limitBytes` exactly as for the other providers and strip the stamps unless
/// asked for; `--tail` and `--since` let Docker start where the selection does
/// (it reads its log files backwards for a tail) rather than send everything.
public enum DockerLogs {
    public static func arguments(containerID: String, selection s: LogSelection) -> [String] {
        var args = ["logs", "--timestamps"]
        if let tail = s.tail { args.append("--tail=\(tail)") }
        if let since = s.since { args.append("--since=\(unixTime(since))") }
        if s.follow { args.append("--follow") }
        return args + ["--", containerID]
    }

    /// `seconds.nanoseconds`, the form `docker logs --since` takes besides RFC 3339.
    static func unixTime(_ date: Date) -> String {
        let t = max(0, date.timeIntervalSince1970)
        let whole = Int64(t.rounded(.down))
        var nanos = String(Int64(((t - Double(whole)) * 1e9).rounded(.down)))
        while nanos.count < 9 { nanos = "0" + nanos }
        return "\(whole).\(nanos.prefix(9))"
    }
}

extension DockerProvider {
    /// Logs of one container's newest run, or with `Previous` of the run before it
    /// (the previous restart, or the previous incarnation's; kept until the next). stdout
    /// and stderr are merged in the order the container wrote them.
    public func logs(_ job: JobRef, container: String, options: LogOpts) async throws -> LogStream {
        // Newest first: incarnation, then run within it (kubelet-style restarts).
        let found = try await listPod(job.podUID, container: container)
            .sorted { ($0.attempt, $0.restart) > ($1.attempt, $1.restart) }
        guard !found.isEmpty else {
            throw ProviderError.notFound("container \(container) of pod \(job.namespace)/\(job.name) does not exist")
        }
        if options.Previous && found.count < 2 {
            throw ProviderError.notFound("container \(container) of pod \(job.namespace)/\(job.name) has no previous run")
        }
        let id = found[options.Previous ? 1 : 0].id
        let selection = LogSelection(options)
        // Streamed through the shared selection, read only as fast as the client takes it;
        // a follow ends when Docker ends it (the container stopped or was removed) or the
        // client goes away (the stream is dropped, which kills `docker logs`).
        let source = try cli.logSource(DockerLogs.arguments(containerID: id, selection: selection))
        return LogPipeline.stream(source, selection)
    }

    /// The daemon's CPUs and memory as node capacity.
    public func ping() async throws -> PingResponse? {
        let r = try await cli.check(["info", "--format={{.NCPU}} {{.MemTotal}}"])
        let f = r.stdoutText.trimmed.split(separator: " ")
        guard f.count == 2 else { return PingResponse(status: "ok") }
        return PingResponse(status: "ok", resources: .init(cpu: String(f[0]), memory: String(f[1]), pods: "110"))
    }
}
