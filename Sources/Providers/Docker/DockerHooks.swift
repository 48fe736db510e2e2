import FoundationEssentials
import Model

/// Runs one probe or lifecycle handler against a container, inside its network
/// namespace (see `DockerProber` for why `docker exec`). Returns nil on success,
/// else a short reason (what kubelet would put in its event). The argv is built
/// by `arguments`, pure, so hostile handler values can be checked without a daemon:
/// each value is one argv item after `--`, never a shell word.
enum DockerHooks {
    /// The `docker` argv for an exec/httpGet/tcpSocket handler; nil for sleep.
    static func arguments(exec: ExecAction?, httpGet: HTTPGetAction?, tcpSocket: TCPSocketAction?,
                          container id: String, spec: DockerLifecycleSpec, timeout: Int32) -> [String]? {
        if let e = exec { return ["exec", "--", id] + (e.command ?? []) }
        let helper = DockerProber.helperPathInContainer
        // Kubelet aims at the pod IP; inside the container's namespace that is
        // also reachable as the loopback address, the only one `--network none` has.
        if let h = httpGet {
            var args = ["exec", "--", id, helper, "http", h.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1",
                        String(spec.port(h.port)), h.path.flatMap { $0.isEmpty ? nil : $0 } ?? "/", String(timeout)]
            for header in h.httpHeaders ?? [] { args.append("\(header.name): \(header.value)") }
            return args
        }
        if let t = tcpSocket {
            return ["exec", "--", id, helper, "tcp", t.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1",
                    String(spec.port(t.port)), String(timeout)]
        }
        return nil
    }

    static func probe(_ p: Probe, in id: String, spec: DockerLifecycleSpec, cli: DockerCLI,
                      limiter: AsyncLimiter) async -> String? {
        guard let args = arguments(exec: p.exec, httpGet: p.httpGet, tcpSocket: p.tcpSocket, container: id,
                                   spec: spec, timeout: p.effectiveTimeoutSeconds) else {
            return "no handler the Docker provider can run"
        }
        return await run(args, cli: cli, limiter: limiter, timeout: Double(p.effectiveTimeoutSeconds))
    }

    /// `slack` is added to `timeout` for `docker exec` itself; preStop passes 0, its
    /// time comes out of the grace period.
    static func run(_ h: LifecycleHandler, in id: String, spec: DockerLifecycleSpec, cli: DockerCLI,
                    limiter: AsyncLimiter, timeout: Double, slack: Double = 1) async -> String? {
        if let s = h.sleep {
            let seconds = min(Double(max(0, s.seconds)), timeout)
            try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            return nil
        }
        guard let args = arguments(exec: h.exec, httpGet: h.httpGet, tcpSocket: nil, container: id, spec: spec,
                                   timeout: Int32(clamping: Int(timeout.rounded(.up)))) else {
            return "no handler the Docker provider can run"
        }
        return await run(args, cli: cli, limiter: limiter, timeout: timeout, slack: slack)
    }

    /// Runs `docker args...` within the limiter; the handler failed unless it exits 0.
    static func run(_ args: [String], cli: DockerCLI, limiter: AsyncLimiter, timeout: Double,
                    slack: Double = 1) async -> String? {
        await limiter.run { () async -> String? in
            do {
                let r = try await cli.run(args, timeout: timeout + slack, mergeStderr: true)
                if r.succeeded { return nil }
                let out = String(r.stdoutText.trimmed.suffix(500))
                return out.isEmpty ? "exit code \(r.exitCode)" : "exit code \(r.exitCode): \(out)"
            } catch {
                return "\(error)"
            }
        }
    }
}
