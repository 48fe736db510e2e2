import Config
import FoundationEssentials
import Model

/// Builds the argv that runs one container inside the job, for the configured
/// runtime. Pure; every word is later shell-quoted by `SlurmScript`.
///
/// - apptainer/singularity: `exec` when the container has a command, `run`
///   otherwise; `--bind host:ctr[:ro]` per mount, `--env-file`, `--pwd`, the image
///   prefixed with `slurm-job.vk.io/image-root` or `imageRoot` (unless it already
///   names a scheme or a path), plus the `singularity-options`/`-mounts`
///   annotations as far as the site allows them (`SingularityPolicy`).
/// - docker/podman: `run --rm --name ... --network none -v ... -e ...`, plus
///   `--user`/`--read-only` from `securityContext`; apptainer runs read-only
///   images by default; what a runtime cannot honour is noted (`securityNotes`).
/// - none: the command runs on the node through `env`; mounts go through
///   `unshare -m` and a fixed bind-mount helper (see `SlurmScript.mountHelper`).
struct SlurmContainerCommand: Sendable {
    enum Runtime: String, Sendable { case apptainer, singularity, docker, podman, none }

    let runtime: Runtime
    let runtimePath: String
    let imageRoot: String
    let extraOptions: [String]
    let extraMounts: [String]
    let instance: String

    init(config: InterLinkConfig, annotations: [String: String]) throws(ProviderError) {
        guard let rt = Runtime(rawValue: config.containerRuntime.lowercased()) else {
            throw .unavailable("containerRuntime \"\(config.containerRuntime)\" is not supported; use apptainer, singularity, docker, podman or none")
        }
        runtime = rt
        runtimePath = config.containerRuntimePath ?? rt.rawValue
        imageRoot = annotations["slurm-job.vk.io/image-root"] ?? config.imageRoot
        // Only apptainer/singularity read these; other runtimes ignore them, as upstream does.
        if rt == .apptainer || rt == .singularity {
            let policy = SingularityPolicy(allowedOptions: Set(config.singularityAllowedOptions),
                                           allowedMounts: config.singularityAllowedMounts, dataRoot: config.dataRootFolder)
            extraOptions = try policy.options(try Self.words(annotations["slurm-job.vk.io/singularity-options"] ?? "", SingularityPolicy.optionsSource))
            extraMounts = try policy.mounts(try Self.words(annotations["slurm-job.vk.io/singularity-mounts"] ?? "", SingularityPolicy.mountsSource))
        } else {
            extraOptions = []; extraMounts = []
        }
        instance = config.instanceName
    }

    /// The argv for `container`, `env` resolved, `mounts` materialised.
    func argv(_ c: Container, uid: String, attempt: Int, env: [(name: String, value: String)],
              mounts: [Mount], envFile: String, pod: Pod? = nil, terminationLog: String? = nil) throws(ProviderError) -> [String] {
        if c.securityContext?.privileged == true {
            throw .invalidPod("container \(c.name) asks to be privileged, which the Slurm provider does not allow")
        }
        let command = EnvResolver.expand(c.command ?? [], with: env)
        let args = EnvResolver.expand(c.args ?? [], with: env)
        for e in env where e.name.isEmpty || e.name.contains("=") {
            throw .invalidPod("container \(c.name): environment variable name \"\(e.name)\" is not valid")
        }
        for m in mounts where !m.containerPath.hasPrefix("/") {
            throw .invalidPod("container \(c.name): mountPath \"\(m.containerPath)\" must be an absolute path")
        }
        switch runtime {
        case .apptainer, .singularity:
            var a = [runtimePath, command.isEmpty ? "run" : "exec"] + extraOptions
            for m in mounts {
                if (m.hostPath + m.containerPath).contains(where: { $0 == ":" || $0 == "," }) {
                    throw .invalidPod("container \(c.name): paths with ':' or ',' cannot be bound by \(runtime.rawValue) (\(m.containerPath))")
                }
                a += ["--bind", "\(m.hostPath):\(m.containerPath)\(m.readOnly ? ":ro" : "")"]
            }
            a += extraMounts
            if !env.isEmpty { a += ["--env-file", envFile] }
            if let wd = c.workingDir, !wd.isEmpty { a += ["--pwd", wd] }
            // apptainer has no `--` before the image: refuse one that would read as a flag.
            guard !image(c.image).hasPrefix("-") else { throw .invalidPod("container \(c.name) has an invalid image name \"\(c.image)\"") }
            return a + [image(c.image)] + command + args
        case .docker, .podman:
            var a = [runtimePath, "run", "--rm", "--name", dockerName(uid: uid, attempt: attempt, container: c.name), "--network", "none"]
            for m in mounts { a += ["-v", "\(m.hostPath):\(m.containerPath)\(m.readOnly ? ":ro" : "")"] }
            // The container's terminationMessagePath (Kubernetes' default /dev/termination-log):
            // what the container writes there becomes terminated.message. A volume at that path wins.
            let messagePath = c.terminationMessagePath.flatMap { $0.isEmpty ? nil : $0 } ?? Self.terminationLogPath
            if let log = terminationLog, !mounts.contains(where: { $0.containerPath == messagePath }) {
                if (log + messagePath).contains(":") {
                    throw .invalidPod("container \(c.name): terminationMessagePath \"\(messagePath)\" cannot hold ':' with runtime \(runtime.rawValue)")
                }
                a += ["-v", "\(log):\(messagePath)"]
            }
            // Values travel in the CLI's environment (`--env=NAME` copies it), not in
            // its argv, which any user of a shared node can read in /proc for the
            // container's whole life. Names the CLI itself reads stay in argv, so a
            // pod's DOCKER_HOST cannot redirect the runtime.
            var inherited: [String] = []
            for e in env {
                if Self.readByRuntimeCLI(e.name) { a.append("--env=\(e.name)=\(e.value)") }
                else { a.append("--env=\(e.name)"); inherited.append("\(e.name)=\(e.value)") }
            }
            if !inherited.isEmpty { a = ["env", "--"] + inherited + a }
            if let wd = c.workingDir, !wd.isEmpty { a += ["-w", wd] }
            a += Self.securityArgs(c, pod: pod)
            // `--` ends the options: an image (or anything after it) can never read as a flag.
            if let first = command.first {
                return a + ["--entrypoint=\(first)", "--", c.image] + command.dropFirst() + args
            }
            return a + ["--", c.image] + args
        case .none:
            let words = command + args
            guard !words.isEmpty else {
                throw .invalidPod("container \(c.name) has neither command nor args; the runtime none runs commands on the node and has no image entrypoint")
            }
            var a = ["env"]
            if let wd = c.workingDir, !wd.isEmpty { a += ["-C", wd] }
            a += ["--"] + env.map { "\($0.name)=\($0.value)" } + words
            if mounts.isEmpty { return a }
            var m = ["unshare", "-m", "--propagation", "private", "--", "/bin/bash", "-c", SlurmScript.mountHelper, "il-mount"]
            for mount in mounts { m += [mount.hostPath, mount.containerPath, mount.readOnly ? "ro" : "rw"] }
            return m + ["--"] + a
        }
    }

    /// The docker/podman container name of one container of one attempt (probes and hooks `exec` into it).
    func dockerName(uid: String, attempt: Int, container: String) -> String { "\(instance)-\(uid)-\(attempt)-\(container)" }

    static let terminationLogPath = "/dev/termination-log"
    var bindsTerminationLog: Bool { runtime == .docker || runtime == .podman }

    /// `securityContext` for docker/podman: the user and group, a read-only root filesystem.
    static func securityArgs(_ c: Container, pod: Pod?) -> [String] {
        var a: [String] = []
        let sc = c.securityContext, psc = pod?.spec?.securityContext
        // A group alone cannot be set without a user: the image's user stays (noted).
        if let user = sc?.runAsUser ?? psc?.runAsUser {
            a.append((sc?.runAsGroup ?? psc?.runAsGroup).map { "--user=\(user):\($0)" } ?? "--user=\(user)")
        }
        if sc?.readOnlyRootFilesystem == true { a.append("--read-only") }
        return a
    }

    /// What of a container's `securityContext` this runtime cannot honour, one
    /// sentence each (reported with the pod's other notes; the pod still runs).
    func securityNotes(_ c: Container, pod: Pod) -> [String] {
        let sc = c.securityContext, psc = pod.spec?.securityContext
        let user = sc?.runAsUser ?? psc?.runAsUser, group = sc?.runAsGroup ?? psc?.runAsGroup
        var notes: [String] = []
        switch runtime {
        case .docker, .podman:
            if user == nil, group != nil { notes.append("container \(c.name): runAsGroup without runAsUser is not honoured by \(runtime.rawValue); the image's user and group are used") }
        case .apptainer, .singularity:
            if user != nil || group != nil { notes.append("container \(c.name): runAsUser/runAsGroup are not honoured by \(runtime.rawValue); the container runs as the Slurm job's user") }
        case .none:
            if user != nil || group != nil { notes.append("container \(c.name): runAsUser/runAsGroup are not honoured by runtime none; the command runs as the Slurm job's user") }
            if sc?.readOnlyRootFilesystem == true { notes.append("container \(c.name): readOnlyRootFilesystem is not honoured by runtime none; the command runs on the node's filesystem") }
        }
        return notes
    }

    /// The env file apptainer reads (it evaluates it as shell, so each value is quoted).
    func envFileLines(_ env: [(name: String, value: String)], container: String) throws(ProviderError) -> [String] {
        try env.map { (e) throws(ProviderError) -> String in
            guard let f = e.name.unicodeScalars.first, f == "_" || (f.isASCII && f.properties.isAlphabetic),
                  e.name.unicodeScalars.allSatisfy({ $0 == "_" || ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0) }) else {
                throw .invalidPod("container \(container): environment variable name \"\(e.name)\" cannot be passed by \(runtime.rawValue) (letters, digits and _ only)")
            }
            return "\(e.name)=\(ShellQuote.quote(e.value))"
        }
    }

    var usesEnvFile: Bool { runtime == .apptainer || runtime == .singularity }

    /// Environment names the docker/podman CLI reads for itself.
    static func readByRuntimeCLI(_ name: String) -> Bool {
        let upper = name.uppercased()
        return upper.hasPrefix("DOCKER_") || upper.hasPrefix("CONTAINERS_") || upper.hasPrefix("PODMAN_")
            || ["PATH", "HOME", "TMPDIR", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
                "ALL_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR", "LD_PRELOAD", "LD_LIBRARY_PATH"].contains(upper)
    }

    func image(_ image: String) -> String {
        if image.contains("://") || image.hasPrefix("/") || imageRoot.isEmpty { return image }
        return imageRoot.hasSuffix("/") || imageRoot.hasSuffix("://") ? imageRoot + image : "\(imageRoot)/\(image)"
    }

    private static func words(_ text: String, _ source: String) throws(ProviderError) -> [String] {
        if text.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" }) { throw .invalidPod("\(source) must not contain a line break") }
        var out: [String] = [], cur = "", inWord = false
        var quote: Character? = nil
        for ch in text {
            if let q = quote { if ch == q { quote = nil } else { cur.append(ch) }; continue }
            if ch == "'" || ch == "\"" { quote = ch; inWord = true; continue }
            if ch.isWhitespace { if inWord { out.append(cur); cur = ""; inWord = false }; continue }
            cur.append(ch); inWord = true
        }
        if quote != nil { throw .invalidPod("\(source) has an unterminated quote") }
        if inWord { out.append(cur) }
        return out
    }
}
