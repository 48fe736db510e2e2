import FoundationEssentials
import Model

/// `docker logs` arguments and output shaping for `LogOpts`. Pure.
public enum DockerLogs {
    /// The argv after `docker` for one container's logs.
    public static func arguments(containerID: String, options o: LogOpts) -> [String] {
        var args = ["logs"]
        if o.Tail > 0 { args.append("--tail=\(o.Tail)") }
        if o.SinceSeconds > 0 { args.append("--since=\(o.SinceSeconds)s") }
        else if let since = o.SinceTime, !since.isEmpty { args.append("--since=\(since)") }
        if o.Timestamps { args.append("--timestamps") }
        if o.Follow { args.append("--follow") }
        return args + ["--", containerID]
    }

    /// `Bytes` keeps the last N bytes of a finished log.
    public static func limit(_ data: Data, bytes: Int) -> Data {
        guard bytes > 0, data.count > bytes else { return data }
        return Data(data.suffix(bytes))
    }

    /// A followed log stops after `bytes` bytes (the start of the log is all there is).
    static func limited(_ stream: LogStream, bytes: Int) -> LogStream {
        guard bytes > 0 else { return stream }
        return AsyncThrowingStream { continuation in
            let task = Task {
                var left = bytes
                do {
                    for try await chunk in stream {
                        if chunk.count >= left { continuation.yield(Data(chunk.prefix(left))); break }
                        left -= chunk.count
                        continuation.yield(chunk)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

extension DockerProvider {
    /// Logs of one container of the pod's newest incarnation, or with `Previous`
    /// of the incarnation before it (kept until the next one is created). stdout
    /// and stderr are merged in the order the container wrote them.
    public func logs(_ job: JobRef, container: String, options: LogOpts) async throws -> LogStream {
        let found = try await listPod(job.podUID, container: container).sorted { $0.attempt > $1.attempt }
        let attempts = Array(Set(found.map(\.attempt))).sorted(by: >)
        guard let newest = attempts.first else {
            throw ProviderError.notFound("container \(container) of pod \(job.namespace)/\(job.name) does not exist")
        }
        let attempt: Int
        if options.Previous {
            guard attempts.count > 1 else {
                throw ProviderError.notFound("container \(container) of pod \(job.namespace)/\(job.name) has no previous run")
            }
            attempt = attempts[1]
        } else {
            attempt = newest
        }
        let id = found.first { $0.attempt == attempt }!.id
        let args = DockerLogs.arguments(containerID: id, options: options)
        if options.Follow {
            return DockerLogs.limited(cli.stream(args), bytes: options.Bytes)
        }
        let result = try await cli.run(args, timeout: 300, mergeStderr: true)
        guard result.succeeded else {
            if DockerCLI.isNoSuchContainer(result.stdoutText) {
                throw ProviderError.notFound("container \(container) of pod \(job.namespace)/\(job.name) does not exist")
            }
            throw ProviderError.backend(command: "docker logs", message: String(result.stdoutText.trimmed.prefix(2000)),
                                        transient: DockerCLI.isDaemonTrouble(result.stdoutText))
        }
        return .once(DockerLogs.limit(result.stdout, bytes: options.Bytes))
    }

    /// The daemon's CPUs and memory as node capacity.
    public func ping() async throws -> PingResponse? {
        let r = try await cli.check(["info", "--format={{.NCPU}} {{.MemTotal}}"])
        let f = r.stdoutText.trimmed.split(separator: " ")
        guard f.count == 2 else { return PingResponse(status: "ok") }
        return PingResponse(status: "ok", resources: .init(cpu: String(f[0]), memory: String(f[1]), pods: "110"))
    }
}
