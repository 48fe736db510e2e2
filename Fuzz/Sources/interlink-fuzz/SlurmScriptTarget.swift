import Config
import FoundationEssentials
import Model
@testable import Providers
#if canImport(Glibc)
import Glibc
#endif

/// The Slurm job-script generator, on pods the API would accept.
///
/// Input layout: byte 0 picks the runtime and features; the rest is split on
/// 0xFF (a byte that cannot occur in UTF-8, so no string loses anything) into
/// image, workingDir, env name, env value, the annotations image-root,
/// singularity-options, singularity-mounts, flags and pre-exec, a mountPath,
/// then command and args. Pre-exec is never allowed here (when allowed it is
/// code by design).
///
/// Properties of every script it renders:
/// 1. `bash -n` accepts it, and Slurm's `#SBATCH` header is only the flags.
/// 2. No pod-provided string runs as code: the script runs under bash with
///    `il_mark` on PATH (the dictionary feeds `$(il_mark)`, `;il_mark;`, quotes
///    and newlines into every string), with `il_supervise` replaced by a recorder
///    instead of starting containers; `il_mark` must never run.
/// 3. Each pod-provided string stays one word: the container array bash hands to `il_supervise`
///    equals the argv `SlurmContainerCommand` built, byte for byte, and the
///    apptainer env file sourced by bash gives back the exact value.
enum SlurmScriptTarget {
    nonisolated(unsafe) static var root = ""
    static let runtimes = ["none", "apptainer", "singularity", "docker", "podman"]

    static func setUp() {
        var template = Array("/tmp/il-fuzz-slurm-XXXXXX".utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else { fatalError("mkdtemp failed") }
        root = String(cString: p)
        try! FileManager.default.createDirectory(atPath: "\(root)/bin", withIntermediateDirectories: true)
        try! Data("#!/bin/sh\ntouch \"$IL_FUZZ_ROOT/CANARY\"\n".utf8).write(to: URL(fileURLWithPath: "\(root)/bin/il_mark"))
        chmod("\(root)/bin/il_mark", 0o755)
    }

    struct Case {
        var config: InterLinkConfig
        var pod: DesiredPod
        var mounts: MaterialisedPod
        var env: [String: [(name: String, value: String)]]
    }

    static func make(_ bytes: [UInt8]) -> Case? {
        guard let flags = bytes.first else { return nil }
        let fields = bytes.dropFirst().split(separator: 0xFF, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        func f(_ i: Int) -> String? { i < fields.count ? fields[i] : nil }
        var config = InterLinkConfig()
        config.containerRuntime = runtimes[Int(flags & 7) % runtimes.count]
        config.dataRootFolder = "\(root)/data"
        config.instanceName = "il-fuzz"
        config.imageRoot = "docker://"
        config.commandPrefix = ""
        config.allowPreExec = false

        let words = fields.count > 10 ? Array(fields[10...]) : []
        let useCommand = flags & 16 == 0
        var c = Container(name: "c", image: f(0) ?? "busybox",
                          command: useCommand ? Array(words.prefix(1)) : nil,
                          args: useCommand ? Array(words.dropFirst()) : words)
        if let wd = f(1), !wd.isEmpty { c.workingDir = wd }
        // One variable given inline, one from a Secret (arbitrary bytes), resolved as for a real pod.
        var secrets: [Secret] = []
        if let name = f(2), let value = f(3) {
            c.env = [EnvVar(name: name, value: value),
                     EnvVar(name: "S", valueFrom: EnvVarSource(secretKeyRef: KeySelector(name: "s", key: "k")))]
            secrets = [Secret(metadata: ObjectMeta(name: "s"), data: ["k": Data(value.utf8).base64EncodedString()])]
        }
        let mountPath = f(8) ?? "/data"
        if flags & 8 != 0 { c.volumeMounts = [VolumeMount(name: "v", mountPath: mountPath)] }
        var annotations: [String: String] = [:]
        for (i, key) in [4: "image-root", 5: "singularity-options", 6: "singularity-mounts", 7: "flags", 9: "pre-exec"] {
            if let v = f(i) { annotations["slurm-job.vk.io/\(key)"] = v }
        }
        var initContainers: [Container]? = nil
        if flags & 32 != 0 { var i = c; i.name = "i"; initContainers = [i] }
        let pod = Pod(metadata: ObjectMeta(name: "fuzz", namespace: "ns", uid: "11111111-2222-3333-4444-555555555555",
                                           annotations: annotations),
                      // Never: the instrumented run must end. With Always (the default) the
                      // job's supervisor restarts the container for ever, as a kubelet would.
                      spec: PodSpec(containers: [c], initContainers: initContainers, restartPolicy: "Never"))
        // Only what the API accepts reaches a provider.
        if Validation.problem(with: pod) != nil || Validation.problem(withSpecOf: pod) != nil { return nil }
        let request = PodCreateRequests(pod: pod, secrets: secrets)
        guard let env = try? EnvResolver.environment(for: c, in: request) else { return nil }
        var mounts = MaterialisedPod()
        if flags & 8 != 0 {
            let m = Mount(hostPath: "\(root)/vol", containerPath: mountPath, readOnly: flags & 64 != 0)
            mounts.mounts = ["c": [m], "i": [m]]
        }
        return Case(config: config, pod: DesiredPod(request: request, attempt: Int(flags >> 7)),
                    mounts: mounts, env: ["c": env, "i": env])
    }

    static func run(_ bytes: [UInt8]) {
        guard let k = make(bytes) else { return }
        let script: String
        do { script = try SlurmScript.render(pod: k.pod, mounts: k.mounts, env: k.env, config: k.config) } catch { return }
        checkHeader(script)

        let fm = FileManager.default
        let out = "\(root)/out"
        try? fm.removeItem(atPath: out)
        try? fm.removeItem(atPath: "\(root)/data")
        try? fm.removeItem(atPath: "\(root)/CANARY")
        try! fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        let path = "\(root)/job.sh"
        try! Data(instrument(script).utf8).write(to: URL(fileURLWithPath: path))
        let rc = bash(["-c", #"cd "$1" || exit 98; bash -n "$2" 2>"$1/out/syntax.err" || exit 99; exec bash "$2" </dev/null >"$1/out/run.log" 2>&1"#,
                       "_", root, path])
        if rc == 99 { fatalError("bash -n rejects the rendered script: \(text("\(out)/syntax.err"))\n\(script)") }
        if fm.fileExists(atPath: "\(root)/CANARY") { fatalError("a pod-provided string ran as code:\n\(script)") }
        guard rc == 0 else { fatalError("the instrumented script exited \(rc): \(text("\(out)/run.log"))\n\(script)") }

        let layout = SlurmLayout(dataRoot: k.config.dataRootFolder, namespace: k.pod.namespace, uid: k.pod.uid, attempt: k.pod.attempt)
        let runtime = try! SlurmContainerCommand(config: k.config, annotations: k.pod.pod.annotations)
        for c in k.pod.pod.initContainers + k.pod.pod.containers {
            let e = k.env[c.name] ?? []
            let expected = try! runtime.argv(c, uid: k.pod.uid, attempt: k.pod.attempt, env: e,
                                             mounts: k.mounts.mounts[c.name] ?? [], envFile: layout.envFile(c.name), pod: k.pod.pod,
                                             terminationLog: runtime.bindsTerminationLog ? layout.terminationLog(c.name) : nil)
            let got = fields(text("\(out)/\(c.name).argv"))
            guard got == expected else {
                fatalError("container \(c.name): bash received argv \(got), SlurmContainerCommand built \(expected)\n\(script)")
            }
            if runtime.usesEnvFile, let v = e.first {
                let file = layout.envFile(c.name)
                _ = bash(["-c", #"set -a; . "$1" >/dev/null 2>&1; printf '%s\0' "${!2}" >"$3""#, "_", file, v.name, "\(out)/env.value"])
                if fm.fileExists(atPath: "\(root)/CANARY") { fatalError("sourcing the env file ran a value as code:\n\(text(file))") }
                let value = fields(text("\(out)/env.value"))
                guard value == [v.value] else { fatalError("env file gives \(value) for \(v.name), not \([v.value]):\n\(text(file))") }
            }
        }
    }

    /// Slurm reads `#SBATCH` lines up to the first command: they must be the
    /// header block and nothing a pod sent may start another one before it.
    static func checkHeader(_ script: String) {
        let lines = script.split(separator: "\n", omittingEmptySubsequences: false)
        var i = 1
        while i < lines.count, lines[i].hasPrefix("#SBATCH ") { i += 1 }
        guard i < lines.count, lines[i].isEmpty else { fatalError("the #SBATCH header ends with a non-blank line \(lines[i])\n\(script)") }
        while i < lines.count, lines[i] != "set -u" {
            guard !lines[i].hasPrefix("#SBATCH") else { fatalError("a line after the header reads as #SBATCH: \(lines[i])\n\(script)") }
            i += 1
        }
    }

    /// Containers are not started: `il_supervise` records the argv of each, NUL-separated.
    static func instrument(_ script: String) -> String {
        var lines = script.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let at = lines.firstIndex(where: { $0.hasPrefix("il_fail_all() {") }) else { fatalError("helpers not found in script") }
        lines.insert(#"il_fail_all() { :; }"#, at: at + 1)
        // The in-job supervisor runs each container from its array `il_c_<index>`: record
        // that array instead of running it (after the real helpers, so this one wins).
        guard let first = lines.firstIndex(where: { $0.hasPrefix("il_c_") }) else { fatalError("no container in script") }
        lines.insert(contentsOf: [
            #"il_supervise() { local -n il_fz=il_c_$1; printf '%s\0' "${il_fz[@]}" >"$IL_FUZZ_OUT/$2.argv"; }"#,
            #"il_wait_all() { wait; exit 0; }"#,
        ], at: first)
        return lines.joined(separator: "\n")
    }

    static func fields(_ s: String) -> [String] {
        var parts = s.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
        if parts.last == "" { parts.removeLast() }
        return parts
    }

    static func text(_ path: String) -> String {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? "<missing \(path)>"
    }

    /// Runs /bin/bash with a fixed environment; returns its exit code.
    static func bash(_ args: [String]) -> Int32 {
        func c(_ s: String) -> UnsafeMutablePointer<CChar>? { strdup(s) }
        let argv = (["/bin/bash"] + args).map(c) + [nil]
        let envp = ["PATH=\(root)/bin:/usr/bin:/bin", "HOME=\(root)", "IL_FUZZ_ROOT=\(root)", "IL_FUZZ_OUT=\(root)/out", "LC_ALL=C"].map(c) + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/bash", nil, nil, argv, envp) == 0 else { fatalError("posix_spawn failed") }
        var status: CInt = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
