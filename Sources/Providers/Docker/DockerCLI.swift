import FoundationEssentials
import Model
import Support
import Synchronization

/// Runs the `docker` CLI (never the Engine API) against one daemon and counts
/// the commands it runs, so the per-tick bound of `observe` can be checked.
final class DockerCLI: Sendable {
    let path: String
    /// The child's full environment (ours, plus `DOCKER_HOST` from the config).
    let environment: [String: String]?
    private let counter = Mutex(0)

    init(path: String, host: String?) {
        self.path = path
        if let host, !host.isEmpty {
            var env = ProcessEnvironment.current
            env["DOCKER_HOST"] = host
            environment = env
        } else {
            environment = nil
        }
    }

    var commandCount: Int { counter.withLock { $0 } }

    /// The longest a docker command may run, in seconds: the process runner turns
    /// timeouts into `Int32` milliseconds, so a longer one (a pod's huge grace
    /// period) must never reach it.
    static let maxTimeoutSeconds: Double = 2_100_000

    /// Runs `docker args...` and returns its result whatever the exit status.
    /// `extraEnvironment` is added to the CLI's environment (values the CLI passes
    /// on with `--env=NAME`, so they never appear in its argv).
    func run(_ args: [String], timeout: Double = 120, mergeStderr: Bool = false,
             extraEnvironment: [(name: String, value: String)] = []) async throws(ProviderError) -> ProcessResult {
        counter.withLock { $0 += 1 }
        let timeout = timeout.isNaN ? 120 : min(max(timeout, 1), Self.maxTimeoutSeconds)
        var env = environment
        if !extraEnvironment.isEmpty {
            var e = environment ?? ProcessEnvironment.current
            for v in extraEnvironment { e[v.name] = v.value }
            env = e
        }
        do {
            return try await ProcessRunner.run(path, args, environment: env, timeout: timeout,
                                               mergeStderr: mergeStderr)
        } catch let e as ProcessError {
            switch e {
            case .notFound: throw .unavailable("the docker CLI was not found at \(path) (set dockerPath in the config)")
            case .timedOut: throw .backend(command: "docker \(args.first ?? "")", message: e.description, transient: true)
            case .spawnFailed where e.isResourceExhaustion: throw .resourcesExhausted("docker \(args.first ?? ""): \(e.description)")
            case .spawnFailed: throw .backend(command: "docker \(args.first ?? "")", message: e.description, transient: true)
            }
        } catch {
            throw .backend(command: "docker \(args.first ?? "")", message: "\(error)", transient: true)
        }
    }

    /// Runs `docker args...` and throws a classified error unless it exits 0.
    @discardableResult
    func check(_ args: [String], timeout: Double = 120) async throws(ProviderError) -> ProcessResult {
        let result = try await run(args, timeout: timeout)
        guard result.succeeded else { throw Self.failure(args, result) }
        return result
    }

    /// `docker args...` as a pull-based log source (stdout and stderr merged).
    func logSource(_ args: [String]) throws(ProviderError) -> ProcessLogSource {
        counter.withLock { $0 += 1 }
        do {
            return try ProcessLogSource(path, args, environment: environment)
        } catch ProcessError.notFound {
            throw .unavailable("the docker CLI was not found at \(path) (set dockerPath in the config)")
        } catch let e as ProcessError where e.isResourceExhaustion {
            throw .resourcesExhausted("docker logs: \(e.description)")
        } catch {
            throw .backend(command: "docker logs", message: "\(error)", transient: true)
        }
    }

    /// The error a failed command stands for. Daemon trouble is transient; a daemon
    /// refusing the request is not.
    static func failure(_ args: [String], _ result: ProcessResult) -> ProviderError {
        let text = result.stderrText.trimmed.isEmpty ? result.stdoutText.trimmed : result.stderrText.trimmed
        let message = String(text.prefix(2000))
        // The CLI or the daemon out of descriptors: their shortage, not the pod's.
        if message.lowercased().contains("too many open files") { return .resourcesExhausted("docker \(args.first ?? ""): \(message)") }
        return .backend(command: "docker \(args.first ?? "")", message: message.isEmpty ? "exit code \(result.exitCode)" : message,
                        transient: isDaemonTrouble(message))
    }

    static func isDaemonTrouble(_ message: String) -> Bool {
        let m = message.lowercased()
        return m.contains("cannot connect to the docker daemon") || m.contains("is the docker daemon running")
            || m.contains("connection refused") || m.contains("no such file or directory") && m.contains(".sock")
            || m.contains("timeout") || m.contains("i/o timeout") || m.contains("context deadline exceeded")
    }

    /// Whether `docker create`'s stderr says the image is missing and could not be pulled.
    static func isImageMissing(_ message: String) -> Bool {
        let m = message.lowercased()
        return m.contains("no such image") || m.contains("unable to find image") || m.contains("pull access denied")
            || m.contains("manifest unknown") || m.contains("repository does not exist")
            || (m.contains("manifest for") && m.contains("not found"))
    }

    static func isNoSuchContainer(_ message: String) -> Bool {
        message.lowercased().contains("no such container") || message.lowercased().contains("no such object")
    }
}
