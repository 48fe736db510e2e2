import FoundationEssentials
import Model

/// The provider settings that shape a `docker create` command line.
public struct DockerSettings: Sendable, Equatable {
    public var instanceName: String
    public var network: String
    public var allowHostPath: Bool
    public var enableGPU: Bool
    /// First wait before a container restart (`KubeletRestart`, 10 s unless configured).
    public var restartBackoffSeconds: Int

    public init(instanceName: String = "interlink", network: String = "bridge",
                allowHostPath: Bool = false, enableGPU: Bool = false,
                restartBackoffSeconds: Int = KubeletRestart.initialBackoffSeconds) {
        self.instanceName = instanceName; self.network = network
        self.allowHostPath = allowHostPath; self.enableGPU = enableGPU
        self.restartBackoffSeconds = restartBackoffSeconds
    }
}

/// One pod container ready to be turned into `docker create` arguments: the
/// container spec plus what the workspace and env resolver produced for it.
public struct DockerContainerPlan: Sendable {
    public var container: Container
    public var isInit: Bool
    /// Position among the init containers, or among the main containers.
    public var index: Int
    /// Number of containers (init + main) of the pod.
    public var count: Int
    public var environment: [(name: String, value: String)]
    public var mounts: [Mount]
    /// `--pull=never` when the image is already local (no registry round trip).
    public var imageIsLocal: Bool
    /// Where the env file goes when some variable needs one (see `DockerEnvironment`).
    public var envFilePath: String?
    /// The image's own `USER` (empty: root), when the image is local; needed to honour
    /// `runAsGroup` without `runAsUser` (Docker's `--user` takes no group alone).
    public var imageUser: String?
    /// Which run of the container this is (0, then one more per restart) and the
    /// backoff streak before it: labels observe derives restarts from.
    public var restart: Int = 0
    public var backoffStreak: Int = 0
    /// Probes and hooks, stamped as a label when there are any.
    public var lifecycle: DockerLifecycleSpec? = nil

    public init(container: Container, isInit: Bool, index: Int, count: Int,
                environment: [(name: String, value: String)], mounts: [Mount], imageIsLocal: Bool,
                envFilePath: String? = nil, imageUser: String? = nil) {
        self.container = container; self.isInit = isInit; self.index = index; self.count = count
        self.environment = environment; self.mounts = mounts; self.imageIsLocal = imageIsLocal
        self.envFilePath = envFilePath; self.imageUser = imageUser
    }
}

/// A `docker create` to run: its argv (after the `docker` executable), what goes
/// into the CLI's environment, and the env file to write first (if any).
public struct DockerCreateCommand: Sendable {
    public var args: [String]
    public var environment: DockerEnvironment
}

/// Builds the argv of `docker create` (everything after the `docker` executable).
/// Pure. Every user-controlled value travels as the value of one `--flag=value`
/// item, or after `--` as the image and its argv, so nothing can become a flag
/// of its own and nothing is ever parsed by a shell. Environment values are not
/// in argv at all (see `DockerEnvironment`).
public enum DockerCreateArgs {
    public static func build(pod: DesiredPod, plan: DockerContainerPlan,
                             settings: DockerSettings) throws(ProviderError) -> [String] {
        try command(pod: pod, plan: plan, settings: settings).args
    }

    public static func command(pod: DesiredPod, plan: DockerContainerPlan,
                               settings: DockerSettings) throws(ProviderError) -> DockerCreateCommand {
        let c = plan.container
        let name = DockerNaming.containerName(namespace: pod.namespace, podName: pod.name, uid: pod.uid,
                                              container: c.name, attempt: pod.attempt, restart: plan.restart)
        var args = ["create", "--name=\(name)"]
        let labels: [(String, String)] = [
            (DockerLabel.managed, settings.instanceName), (DockerLabel.podUID, pod.uid),
            (DockerLabel.namespace, pod.namespace), (DockerLabel.podName, pod.name),
            (DockerLabel.container, c.name), (DockerLabel.attempt, String(pod.attempt)),
            (DockerLabel.isInit, plan.isInit ? "true" : "false"), (DockerLabel.index, String(plan.index)),
            (DockerLabel.count, String(plan.count)),
            (DockerLabel.restart, String(plan.restart)), (DockerLabel.backoffStreak, String(plan.backoffStreak)),
            (DockerLabel.restartPolicy, pod.pod.restartPolicy.rawValue),
        ]
        args += labels.map { "--label=\($0.0)=\($0.1)" }
        let subPaths = plan.mounts.compactMap(\.subPath)
        if !subPaths.isEmpty {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            if let json = try? encoder.encode(subPaths) {
                args.append("--label=\(DockerLabel.subPaths)=\(String(decoding: json, as: UTF8.self))")
            }
        }
        if let spec = plan.lifecycle?.label() { args.append("--label=\(DockerLabel.lifecycle)=\(spec)") }
        args.append("--network=\(settings.network)")
        if DockerNaming.isDNSLabel(pod.name) { args.append("--hostname=\(pod.name)") }
        args.append(plan.imageIsLocal || c.imagePullPolicy == "Never" ? "--pull=never" : "--pull=missing")
        args += try resourceArgs(c, settings: settings)
        args += try securityArgs(c, pod: pod.pod, imageUser: plan.imageUser)
        if let dir = c.workingDir, !dir.isEmpty { args.append("--workdir=\(dir)") }

        // Kubernetes: command replaces the entrypoint, args replace the cmd; `$(VAR)`
        // references are expanded against the container's environment.
        let command = EnvResolver.expand(c.command ?? [], with: plan.environment)
        let cmdArgs = EnvResolver.expand(c.args ?? [], with: plan.environment)
        if let first = command.first { args.append("--entrypoint=\(first)") }

        let env = try DockerEnvironment.route(plan.environment, container: c.name, envFilePath: plan.envFilePath)
        args += env.flags
        for m in plan.mounts { args.append(try mountArg(m, container: c.name)) }

        guard !c.image.isEmpty else { throw .invalidPod("container \(c.name) has no image") }
        args += ["--", c.image]
        args += command.dropFirst()
        args += cmdArgs
        // A NUL byte would silently cut an argv item short in exec; refuse instead.
        if let bad = args.first(where: { $0.utf8.contains(0) }) {
            throw .invalidPod("container \(c.name): a value contains a NUL byte, which a process argument cannot hold (\(quoted(String(bad.prefix(40)))))")
        }
        return DockerCreateCommand(args: args, environment: env)
    }

    static func resourceArgs(_ c: Container, settings: DockerSettings) throws(ProviderError) -> [String] {
        var args: [String] = []
        func pick(_ key: String) -> QuantityString? { c.resources?.limits?[key] ?? c.resources?.requests?[key] }
        if let mem = pick("memory") {
            let q = try Quantity.parse(mem.text)
            if q.bytes > 0 { args.append("--memory=\(q.bytes)") }
        }
        if let cpu = pick("cpu") {
            let q = try Quantity.parse(cpu.text)
            if q.milliValue > 0 { args.append("--cpus=\(decimalCores(q.milliValue))") }
        }
        if let gpu = pick("nvidia.com/gpu") {
            let q = try Quantity.parse(gpu.text)
            let count = Quantity.divideRoundingUp(q.milliValue, 1000)
            if count > 0 {
                guard settings.enableGPU else {
                    throw .invalidPod("container \(c.name) asks for nvidia.com/gpu but GPU support is off (set EnableGPU: true in the config)")
                }
                args.append("--gpus=\(count)")
            }
        }
        return args
    }

    static func securityArgs(_ c: Container, pod: Pod, imageUser: String? = nil) throws(ProviderError) -> [String] {
        var args: [String] = []
        let sc = c.securityContext, psc = pod.spec?.securityContext
        if sc?.privileged == true {
            throw .invalidPod("container \(c.name) asks to be privileged, which the Docker provider does not allow")
        }
        let user = sc?.runAsUser ?? psc?.runAsUser
        let group = sc?.runAsGroup ?? psc?.runAsGroup
        // Docker needs a user to set a primary group: a group alone keeps the image's own user.
        if let user { args.append(group.map { "--user=\(user):\($0)" } ?? "--user=\(user)") }
        else if let group {
            guard let imageUser else {
                throw .invalidPod("container \(c.name) sets runAsGroup without runAsUser, and the user of image \(c.image) is not known")
            }
            let own = imageUser.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
            args.append("--user=\(own.isEmpty ? "0" : own):\(group)")
        }
        if let fsGroup = psc?.fsGroup { args.append("--group-add=\(fsGroup)") }
        if sc?.readOnlyRootFilesystem == true { args.append("--read-only") }
        return args
    }

    /// `--mount` values are CSV: a path holding a comma or quote is quoted CSV-style.
    static func mountArg(_ m: Mount, container: String) throws(ProviderError) -> String {
        guard m.containerPath.hasPrefix("/") else {
            throw .invalidPod("container \(container): mountPath \(quoted(m.containerPath)) must be absolute")
        }
        for path in [m.hostPath, m.containerPath] where path.contains("\n") || path.contains("\r") {
            throw .invalidPod("container \(container): mount path \(quoted(path)) contains a line break")
        }
        var fields = ["type=bind", csvField("source=\(m.hostPath)"), csvField("target=\(m.containerPath)")]
        if m.readOnly { fields.append("readonly") }
        return "--mount=" + fields.joined(separator: ",")
    }

    static func csvField(_ s: String) -> String {
        guard s.contains(",") || s.contains("\"") || s.hasPrefix(" ") || s.hasSuffix(" ") else { return s }
        return "\"" + s.replacing("\"", with: "\"\"") + "\""
    }

    /// `1500` -> `1.5`, `2000` -> `2`, `250` -> `0.25`.
    static func decimalCores(_ milli: Int64) -> String {
        let whole = milli / 1000, frac = milli % 1000
        if frac == 0 { return String(whole) }
        var f = String(frac)
        while f.count < 3 { f = "0" + f }
        while f.hasSuffix("0") { f.removeLast() }
        return "\(whole).\(f)"
    }

    static func quoted(_ s: String) -> String {
        "\"" + s.replacing("\n", with: "\\n") + "\""
    }
}
