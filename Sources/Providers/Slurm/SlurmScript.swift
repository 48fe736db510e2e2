import Config
import FoundationEssentials
import Model

/// Renders a pod's Slurm batch script. A pure function of its inputs, so golden
/// files pin it down.
///
/// Contract: `#SBATCH` lines for the job name/output, then resources
/// (`--cpus-per-task` from cpu limits or requests rounded up, `--mem` in MiB,
/// `--gres=gpu:N`, `--time` from `activeDeadlineSeconds`), the site's
/// the `slurm-job.vk.io/flags` annotation (through the site's allow-list, see
/// `SlurmFlags`), and the site's `slurmFlags`. The body runs the config's `commandPrefix` and, only when
/// `allowPreExec`, the `slurm-job.vk.io/pre-exec` annotation: these two are the
/// only code not written by InterLink. Then init containers one after another
/// (the first failure ends the job with its code), then main containers in
/// parallel, each under the in-job supervisor (`SlurmSupervisor`: probes, hooks,
/// restarts per restartPolicy); the job exits, with the highest container exit
/// code, once no container will run again. Every value that
/// comes from the pod is a single-quoted word, so it cannot run as code.
public enum SlurmScript {
    /// Renders the script. `env` maps each container name to its resolved environment.
    public static func render(pod: DesiredPod, mounts: MaterialisedPod, env: [String: [(name: String, value: String)]],
                              config: InterLinkConfig) throws(ProviderError) -> String {
        try renderJob(pod: pod, mounts: mounts, env: env, config: config).script
    }

    /// The script and the notes on pod flags that InterLink ignored or replaced.
    static func renderJob(pod: DesiredPod, mounts: MaterialisedPod, env: [String: [(name: String, value: String)]],
                          config: InterLinkConfig) throws(ProviderError) -> (script: String, notes: [String]) {
        let p = pod.pod
        let annotations = p.annotations
        let layout = SlurmLayout(dataRoot: config.dataRootFolder, namespace: pod.namespace, uid: pod.uid, attempt: pod.attempt)
        let runtime = try SlurmContainerCommand(config: config, annotations: annotations)
        if p.containers.isEmpty { throw .invalidPod("pod \(pod.namespace)/\(pod.name) has no containers") }
        for c in p.initContainers + p.containers where !isDNSLabel(c.name) {
            throw .invalidPod("container name \"\(c.name.prefix(80))\" is not a valid DNS label")
        }
        if layout.jobDir.contains(where: { $0 == "\n" || $0 == "\"" || $0.isWhitespace }) {
            throw .unavailable("dataRootFolder \"\(config.dataRootFolder)\" must not contain white space or quotes (Slurm reads it from an #SBATCH line)")
        }

        var out: [String] = ["#!/bin/bash"]
        // The job identity and output come first; nothing later may change them (SlurmFlags.owned),
        // and sbatch gets them again on its command line, which wins over any #SBATCH line.
        out.append("#SBATCH --job-name=\(SlurmJobName.make(instance: config.instanceName, uid: pod.uid, attempt: pod.attempt))")
        out.append("#SBATCH --comment=\(SlurmJobMark.make(instance: config.instanceName, uid: pod.uid, attempt: pod.attempt))")
        out.append("#SBATCH --output=\(layout.jobOutput)")
        let resources = try resourceFlags(p)
        let site = SlurmFlags.admitSite(try config.slurmFlags.map { (f) throws(ProviderError) in
            try SlurmFlags.parse(f, source: "config SlurmFlags") }.flatMap { $0 })
        let source = "annotation slurm-job.vk.io/flags"
        let user = try SlurmFlags.admit(try SlurmFlags.parse(annotations["slurm-job.vk.io/flags"] ?? "", source: source),
                                        source: source, allowed: Set(config.slurmAllowedFlags))
        let merged = SlurmFlags.merge(resources: resources, site: site.flags, pod: user.flags,
                                      podOverridesSite: config.slurmPodFlagsOverrideSite)
        var flags = merged.flags
        var deadlineNote: [String] = []
        // activeDeadlineSeconds is the pod's own bound: a longer (or unreadable) --time from the
        // annotation or the site must not lift it. Slurm counts whole minutes, rounded up.
        if let deadline = p.spec?.activeDeadlineSeconds, deadline > 0,
           let i = flags.firstIndex(where: { $0.key == "time" }), let own = resources.first(where: { $0.key == "time" }) {
            let value = flags[i].text.split(separator: "=", maxSplits: 1).last.map(String.init) ?? ""
            let given = flags[i].text.hasPrefix("--") ? value : String(flags[i].text.dropFirst(2))
            let limit = Int(clamping: max(1, Quantity.divideRoundingUp(deadline, 60))) * 60
            if flags[i].text != own.text, (SlurmTime.seconds(given) ?? Int.max) > limit {
                deadlineNote.append("\(flags[i].text) replaced by \(own.text): activeDeadlineSeconds \(deadline) is shorter")
                flags[i] = own
            }
        }
        for f in flags { out.append("#SBATCH \(f.text)") }
        let notes = site.notes + user.notes + merged.notes + deadlineNote
            + (p.initContainers + p.containers).flatMap { runtime.securityNotes($0, pod: p) }

        out.append("")
        out.append("# Pod \(oneLine(pod.namespace))/\(oneLine(pod.name)) (uid \(oneLine(pod.uid))), attempt \(pod.attempt); generated by InterLink.")
        out.append("# Every value taken from the pod is single-quoted below: only the site's commandPrefix")
        out.append("# and an allowed pre-exec annotation run as code.")
        out.append("set -u")
        // First thing: a TERM from scancel must not end the shell before it can record exit codes.
        out.append("trap ':' TERM")
        out.append("il_dir=\(ShellQuote.quote(layout.jobDir))")
        out.append("mkdir -p \"$il_dir/logs\" \"$il_dir/status\" \"$il_dir/env\"\(runtime.bindsTerminationLog ? " \"$il_dir/term\"" : "")")
        // Slurm may requeue a job (node failure, preemption) and run this script again
        // under the same id: stale exit files would report the new run as finished.
        out.append("rm -f \"$il_dir\"/status/*")
        if runtime.runtime == .docker || runtime.runtime == .podman, let host = config.dockerHost, !host.isEmpty {
            out.append("export DOCKER_HOST=\(ShellQuote.quote(host))")
        }
        let supervisor = SlurmSupervisor(runtime: runtime, config: config, pod: p)
        out.append(contentsOf: helpers)
        out.append(contentsOf: supervisor.settings)
        out.append(contentsOf: SlurmSupervisor.helpers)
        // From here a TERM (scancel --batch from delete) goes to every supervisor, which runs preStop first.
        out.append("trap il_on_term TERM")

        if !config.commandPrefix.isEmpty {
            out.append("# --- commandPrefix (trusted site configuration)")
            out.append(config.commandPrefix)
        }
        if let pre = annotations["slurm-job.vk.io/pre-exec"], !pre.isEmpty {
            if config.allowPreExec {
                out.append("# --- slurm-job.vk.io/pre-exec annotation (allowed by allowPreExec)")
                out.append(pre)
            } else {
                out.append("# slurm-job.vk.io/pre-exec annotation ignored: allowPreExec is false")
            }
        }

        let all = p.initContainers + p.containers
        if runtime.runtime == .none, all.contains(where: { !(mounts.mounts[$0.name] ?? []).isEmpty }) {
            out.append("# Volume mounts need a private mount namespace; without one the pod fails instead of running without its files.")
            out.append("if ! unshare -m --propagation private true 2>/dev/null; then")
            out.append("  il_fail_all 126 MountNamespaceUnavailable 'volume mounts need a private mount namespace (unshare -m), which this node does not allow' \(ShellQuote.join(all.map(\.name)))")
            out.append("fi")
        }

        var hookNotes: [String] = []
        func command(_ c: Container, index: Int, isInit: Bool) throws(ProviderError) -> String {
            let e = env[c.name] ?? []
            var lines: [String] = []
            if runtime.usesEnvFile && !e.isEmpty {
                let file = "\"$il_dir/env/\"\(ShellQuote.quote(c.name + ".env"))"
                lines.append("printf '%s\\n' \(ShellQuote.join(try runtime.envFileLines(e, container: c.name))) >\(file)")
            }
            // Volume paths under the pod directory reach the runtime as pins (`layout.pin`):
            // right before every run the supervisor binds onto each pin the inode it opened
            // and checked (feature `m`, `il_pin`), so what the runtime mounts cannot change
            // after the check.
            let given = mounts.mounts[c.name] ?? []
            var pinned: [(source: String, pin: String)] = []
            let own = given.enumerated().map { k, m -> Mount in
                guard m.hostPath.hasPrefix(layout.podDir + "/") else { return m }
                var bound = m
                bound.hostPath = layout.pin(container: index, mount: k)
                pinned.append((m.hostPath, bound.hostPath))
                return bound
            }
            let argv = try runtime.argv(c, uid: pod.uid, attempt: pod.attempt, env: e, mounts: own,
                                        envFile: layout.envFile(c.name), pod: p,
                                        terminationLog: runtime.bindsTerminationLog ? layout.terminationLog(c.name) : nil)
            if runtime.bindsTerminationLog {
                // Empty for each run, and writable by whichever user the container runs as.
                let file = "\"$il_dir/term/\"\(ShellQuote.quote(c.name))"
                lines.append(": >\(file) && chmod 666 \(file)")
            }
            let declared = try supervisor.declare(index: index, container: c, argv: argv, pod: p, uid: pod.uid, attempt: pod.attempt,
                                                  env: e, mounts: own, envFile: layout.envFile(c.name))
            lines += declared.lines
            hookNotes += declared.notes
            // Pinned on the compute node right before every run of the container, its
            // first and each restart by the supervisor (feature `m`): a container of the
            // pod may have turned a directory of a volume into a symbolic link since.
            var features = declared.features
            if !pinned.isEmpty {
                let pairs = pinned.flatMap { [$0.source, $0.pin] }
                lines.append("il_m_\(index)=(\(ShellQuote.quote(config.subPathPinning)) \(ShellQuote.quote(layout.podDir)) \(ShellQuote.join(pairs)))")
                features = features.isEmpty ? "m" : features + ",m"
            }
            let policy = SlurmSupervisor.policyWord(p.restartPolicy, isInit: isInit)
            lines.append("il_supervise \(index) \(ShellQuote.quote(c.name)) \(policy) \(ShellQuote.quote(features)) &")
            return lines.joined(separator: "\n")
        }

        var index = 0
        for c in p.initContainers {
            out.append("# init container \(c.name)")
            out.append(try command(c, index: index, isInit: true))
            out.append("il_sups=($!); il_wait $! || exit $?")
            index += 1
        }
        out.append("[ -n \"$il_stopping\" ] && exit 143")
        out.append("il_sups=()")
        for c in p.containers {
            out.append("# container \(c.name)")
            out.append(try command(c, index: index, isInit: false))
            out.append("il_sups+=($!)")
            index += 1
        }
        out.append("il_wait_all \"${il_sups[@]}\"")
        return (out.joined(separator: "\n") + "\n", notes + hookNotes)
    }

    /// The bash helper that bind-mounts `SRC DST ro|rw` triples inside `unshare -m`,
    /// then execs the rest. A constant: paths arrive as arguments, never as code.
    public static let mountHelper = #"while [ "$1" != -- ]; do if [ -d "$1" ]; then mkdir -p "$2"; else mkdir -p "$(dirname "$2")" && touch "$2"; fi && mount --bind "$1" "$2" || exit 126; if [ "$3" = ro ]; then mount -o remount,bind,ro "$2" || exit 126; fi; shift 3; done; shift; exec "$@""#

    /// Functions every script defines. Each container's output lines get an
    /// RFC 3339 timestamp; its start time and exit code go to status files, written
    /// atomically so a reader never sees half a file.
    static let helpers: [String] = [
        #"il_now() { local t=$EPOCHREALTIME; TZ=UTC printf '%(%Y-%m-%dT%H:%M:%S)TZ' "${t%[.,]*}"; }"#,
        #"il_ts() { trap '' TERM; export TZ=UTC; local line t; while IFS= read -r line || [ -n "$line" ]; do t=$EPOCHREALTIME; printf '%(%Y-%m-%dT%H:%M:%S)T.%sZ %s\n' "${t%[.,]*}" "${t#*[.,]}" "$line"; done; }"#,
        #"il_status() { printf '%s %s\n%s\n%s\n' "$2" "$(il_now)" "${3:-}" "${4:-}" >"$il_dir/status/$1.exit.tmp" && mv -f "$il_dir/status/$1.exit.tmp" "$il_dir/status/$1.exit"; }"#,
        "# il_pin NAME MODE ROOT SRC PIN...: makes each PIN (what the runtime mounts) name what SRC is now (CVE-2017-1002101).",
        "# SRC is opened, and the opened inode's own path (/proc/PID/fd) must be ROOT/REL exactly: a symbolic link anywhere",
        "# on the way gives another path. That inode is bound onto PIN, so no later swap of a directory for a link can",
        "# redirect it. Where the job cannot mount (not root), MODE auto or off makes PIN a link to the checked SRC (a swap",
        "# after the check is not seen); required refuses the container.",
        #"""
        il_pin() {
          local name=$1 mode=$2 root=$3 src pin rel part p fd real got err; shift 3
          exec {fd}<"$root" && real=$(readlink "/proc/$BASHPID/fd/$fd"); exec {fd}<&-
          [ -n "$real" ] || { il_status "$name" 126 InvalidVolumePath "the pod directory $root cannot be opened"; return 126; }
          while [ "$#" -ge 2 ]; do
            src=$1 pin=$2; shift 2
            il_unpin "$pin" || { il_status "$name" 126 InvalidVolumePath "the pin $pin of volume path $src is still mounted; it is not mounted again"; return 126; }
            rel=${src#"$root"/} p=$root
            while [ -n "$rel" ]; do   # names the link for the message; the path compare below is what decides
              part=${rel%%/*} p=$p/$part
              if [ -L "$p" ]; then il_status "$name" 126 InvalidVolumePath "volume path $src goes through the symbolic link $p, which could lead out of the pod's directory; it is not mounted"; return 126; fi
              if [ "$part" = "$rel" ]; then rel=; else rel=${rel#*/}; fi
            done
            if [ ! -d "$src" ] && [ ! -f "$src" ]; then il_status "$name" 126 InvalidVolumePath "volume path $src is neither a directory nor a regular file; it is not mounted"; return 126; fi
            err="it cannot be opened"
            if [ "$mode" != off ] && [ -r "$src" ] && exec {fd}<"$src"; then
              got=$(readlink "/proc/$BASHPID/fd/$fd")
              if [ "$got" != "$real/${src#"$root"/}" ]; then
                exec {fd}<&-
                il_status "$name" 126 InvalidVolumePath "volume path $src leads to $got through a symbolic link, which could lead out of the pod's directory; it is not mounted"
                return 126
              fi
              mkdir -p "${pin%/*}"
              if [ -d "/proc/$BASHPID/fd/$fd" ]; then mkdir "$pin"; else : >"$pin"; fi
              if err=$(mount --no-canonicalize --bind "/proc/$BASHPID/fd/$fd" "$pin" 2>&1); then exec {fd}<&-; continue; fi
              exec {fd}<&-
              il_unpin "$pin"
            fi
            if [ "$mode" = required ]; then il_status "$name" 126 InvalidVolumePath "SubPathPinning is required, and volume path $src cannot be pinned on this node: $err"; return 126; fi
            if [ "$mode" != off ] && [ -z "${il_pin_warned:-}" ]; then il_pin_warned=1; echo "interlink: volume paths are checked right before each run, not pinned (SubPathPinning $mode): $err" >&2; fi
            mkdir -p "${pin%/*}" && ln -s -- "$src" "$pin" || { il_status "$name" 126 InvalidVolumePath "cannot link $pin to volume path $src"; return 126; }
          done
        }
        """#,
        "# il_unpin_set MODE ROOT SRC PIN...: il_unpin of every PIN of an il_pin argument list.",
        #"il_unpin_set() { shift 2; while [ "$#" -ge 2 ]; do il_unpin "$2"; shift 2; done; }"#,
        "# il_unpin PIN...: detaches each pin and removes it (a link is only removed: it is never followed); fails on one still mounted.",
        #"""
        il_unpin() {
          local pin i
          for pin in "$@"; do
            if [ ! -L "$pin" ]; then
              for i in 1 2 3 4 5 6 7 8; do mountpoint -q "$pin" 2>/dev/null && umount -l "$pin" 2>/dev/null || break; done
              mountpoint -q "$pin" 2>/dev/null && return 1
            fi
            if [ -L "$pin" ] || [ -f "$pin" ]; then rm -f -- "$pin"; elif [ -d "$pin" ]; then rmdir -- "$pin" || return 1; fi
          done
        }
        """#,
        #"il_fail_all() { local code=$1 reason=$2 msg=$3 n; shift 3; for n in "$@"; do il_status "$n" "$code" "$reason" "$msg"; done; exit "$code"; }"#,
    ]

    /// `#SBATCH` flags from the pod's resources: the pod needs max(sum of main containers, largest init container).
    static func resourceFlags(_ p: Pod) throws(ProviderError) -> [SlurmFlags.Flag] {
        func amount(_ c: Container, _ key: String) throws(ProviderError) -> Int64? {
            guard let q = c.resources?.limits?[key] ?? c.resources?.requests?[key] else { return nil }
            do { return try Quantity.parse(q.text).milliValue } catch {
                throw .invalidPod("container \(c.name): \(key) \(error.description)")
            }
        }
        func podAmount(_ key: String) throws(ProviderError) -> Int64? {
            var sum: Int64? = nil, initMax: Int64? = nil
            for c in p.containers {
                guard let v = try amount(c, key) else { continue }
                let (total, overflow) = (sum ?? 0).addingReportingOverflow(v)
                if overflow { throw .invalidPod("the pod's \(key) requests add up to more than can be represented") }
                sum = total
            }
            for c in p.initContainers { if let v = try amount(c, key) { initMax = max(initMax ?? 0, v) } }
            switch (sum, initMax) {
            case (nil, nil): return nil
            default: return max(sum ?? 0, initMax ?? 0)
            }
        }
        var flags: [SlurmFlags.Flag] = []
        if let cpu = try podAmount("cpu") {
            flags.append(.init(key: "cpus-per-task", text: "--cpus-per-task=\(Quantity(milliValue: cpu).wholeCoresRoundedUp)"))
        }
        if let mem = try podAmount("memory") {
            flags.append(.init(key: "mem", text: "--mem=\(Quantity(milliValue: mem).mebibytesRoundedUp)M"))
        }
        if let gpu = try podAmount("nvidia.com/gpu"), gpu > 0 {
            flags.append(.init(key: "gres", text: "--gres=gpu:\(Quantity.divideRoundingUp(gpu, 1000))"))
        }
        if let deadline = p.spec?.activeDeadlineSeconds, deadline > 0 {
            flags.append(.init(key: "time", text: "--time=\(max(1, Quantity.divideRoundingUp(deadline, 60)))"))
        }
        return flags
    }

    static func isDNSLabel(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 63 && !s.hasPrefix("-") && !s.hasSuffix("-")
            && s.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
    }

    /// Names in comments: kept on one line (they are already validated by the API server).
    private static func oneLine(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { $0 == "\n" || $0 == "\r" ? " " : $0 }))
    }
}
