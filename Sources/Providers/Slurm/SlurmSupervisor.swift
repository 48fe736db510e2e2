import Config
import FoundationEssentials
import Model

/// The in-job supervisor: what the batch script does around each container so
/// that probes, lifecycle hooks and restarts behave as kubelet's do. Pure; it
/// renders shell (constant helpers plus one quoted array per container, probe
/// and hook), and `SlurmScript` places it.
///
/// Why inside the job rather than resubmitting: a restart in the job keeps the
/// allocation (no new wait in the queue behind other jobs, no new node, the
/// emptyDirs and logs stay), and the compute node is the only place that can
/// reach the container's ports for probes. Resubmission stays for lost work
/// (a job Slurm lost or cancelled), as before.
///
/// Contract, per container: a supervisor (a background subshell) starts the
/// container in its own session, runs `postStart` (a failure kills it), marks it
/// started (no startup probe) and ready (no readiness probe), runs each probe in
/// its own loop (liveness and readiness wait for startup; a failed startup or
/// liveness probe kills the container with kubelet's message), and when the
/// container exits decides by `restartPolicy` (`KubeletRestart`'s rules and
/// constants) whether to start it again after a backoff, writing `CrashLoopBackOff`
/// meanwhile. A TERM to the batch shell (`scancel --batch`) reaches every
/// supervisor, which runs `preStop`, then sends TERM to its container; nothing
/// restarts after that. Every value from the pod is a quoted array element and
/// reaches programs as argv (network probes run a constant `bash -c` program with
/// the host, port, path and headers as positional parameters), never as code.
///
/// Status files besides `<name>.start`/`<name>.exit`: `<name>.last` (restart
/// count and start time, then the previous run's exit file), `<name>.waiting`
/// (reason and message while backing off), `<name>.started` and `<name>.ready`
/// (present while true).
struct SlurmSupervisor: Sendable {
    let runtime: SlurmContainerCommand
    let backoffBase: Int
    let grace: Int64

    /// ` pod=<name>_<namespace>(<uid>)`, the end of kubelet's back-off message.
    let podSuffix: String

    init(runtime: SlurmContainerCommand, config: InterLinkConfig, pod: Pod) {
        self.runtime = runtime
        backoffBase = min(KubeletRestart.initialBackoffSeconds, max(1, config.slurmRestartBackoffSeconds))
        grace = max(1, pod.spec?.terminationGracePeriodSeconds ?? 30)
        // The message is one line of a status file: no line breaks from the pod's metadata.
        let line = { (s: String?) in String((s ?? "").unicodeScalars.filter { $0.value >= 32 && $0.value != 127 }.map(Character.init)) }
        podSuffix = " pod=\(line(pod.metadata.name))_\(line(pod.metadata.namespace))(\(line(pod.metadata.uid)))"
    }

    /// Settings the helpers read; the restart numbers come from `KubeletRestart`, so shell and Swift agree.
    var settings: [String] {
        ["il_backoff_base=\(backoffBase) il_backoff_max=\(KubeletRestart.maxBackoffSeconds) il_backoff_reset=\(KubeletRestart.backoffResetSeconds) il_grace=\(grace)",
         "il_backoff_reason=\(ShellQuote.quote(KubeletRestart.backoffReason)) il_pod_suffix=\(ShellQuote.quote(podSuffix))",
         "il_sups=() il_stopping= il_cpid= il_sleep= il_sig="]
    }

    /// The restart rule the supervisor applies, as a word: init containers restart only on failure.
    static func policyWord(_ policy: RestartPolicy, isInit: Bool) -> String {
        switch (policy, isInit) {
        case (.never, _): return "never"
        case (.always, false): return "always"
        default: return "onfailure"
        }
    }

    /// The lines that declare container `index`'s command, probes and hooks, and the
    /// feature list its supervisor call takes. Throws for what cannot be run (a grpc
    /// probe, an unknown named port, a value that cannot be a host, path or header).
    func declare(index i: Int, container c: Container, argv: [String], pod: Pod, uid: String, attempt: Int,
                 env: [(name: String, value: String)], mounts: [Mount], envFile: String) throws(ProviderError) -> (lines: [String], features: String, notes: [String]) {
        var lines = ["il_c_\(i)=(\(ShellQuote.join(argv)))"]
        var features: [String] = []
        var notes: [String] = []
        let docker = runtime.runtime == .docker || runtime.runtime == .podman
        if docker {
            // Probes and hooks wait for the container to exist; its network is `none`, so
            // network probes enter its namespace with nsenter (see il_handle).
            lines.append("il_w_\(i)=(\(ShellQuote.join([runtime.runtimePath, runtime.dockerName(uid: uid, attempt: attempt, container: c.name)])))")
            features.append("w")
        }
        func execWords(_ command: [String], _ field: String) throws(ProviderError) -> [String] {
            guard !command.isEmpty else { throw .invalidPod("container \(c.name): \(field).exec.command must not be empty") }
            if command.contains(where: { $0.utf8.contains(0) }) { throw .invalidPod("container \(c.name): \(field).exec.command contains a NUL byte") }
            if docker { return [runtime.runtimePath, "exec", runtime.dockerName(uid: uid, attempt: attempt, container: c.name)] + command }
            // none and apptainer: the container's own environment, directory and mounts.
            var probe = c
            probe.command = command; probe.args = nil
            probe.lifecycle = nil; probe.livenessProbe = nil; probe.readinessProbe = nil; probe.startupProbe = nil
            return try runtime.argv(probe, uid: uid, attempt: attempt, env: env, mounts: mounts, envFile: envFile, pod: pod)
        }
        for (kind, probe) in [("startup", c.startupProbe), ("liveness", c.livenessProbe), ("readiness", c.readinessProbe)] {
            guard let probe else { continue }
            let field = "\(kind)Probe"
            let handler: [String]
            if let e = probe.exec { handler = ["exec"] + (try execWords(e.command ?? [], field)) }
            else if let h = probe.httpGet { handler = try httpWords(h, c, field) }
            else if let t = probe.tcpSocket { handler = ["tcp", try host(t.host, c, field), String(try port(t.port, c, field))] }
            else if probe.grpc != nil {
                throw .invalidPod("container \(c.name): \(field).grpc is not supported by the Slurm provider; use exec, httpGet or tcpSocket")
            } else { throw .invalidPod("container \(c.name): \(field) has no handler") }
            let timing = [probe.effectiveInitialDelaySeconds, probe.effectivePeriodSeconds, probe.effectiveTimeoutSeconds,
                          probe.effectiveSuccessThreshold, probe.effectiveFailureThreshold].map(String.init)
            lines.append("il_p_\(i)_\(kind)=(\(ShellQuote.join(timing + handler)))")
            features.append(kind)
        }
        for (kind, hook) in [("postStart", c.lifecycle?.postStart), ("preStop", c.lifecycle?.preStop)] {
            guard let hook else { continue }
            let field = "lifecycle.\(kind)"
            let handler: [String]
            if let e = hook.exec { handler = ["exec"] + (try execWords(e.command ?? [], field)) }
            else if let h = hook.httpGet { handler = try httpWords(h, c, field) }
            else if let s = hook.sleep { handler = ["sleep", String(max(0, min(s.seconds, grace)))] }
            else { notes.append("container \(c.name): \(field).tcpSocket is not run (Kubernetes deprecated it and kubelet ignores it)"); continue }
            lines.append("il_h_\(i)_\(kind)=(\(ShellQuote.join(handler)))")
            features.append(kind)
        }
        return (lines, features.joined(separator: ","), notes)
    }

    private func httpWords(_ h: HTTPGetAction, _ c: Container, _ field: String) throws(ProviderError) -> [String] {
        let scheme = (h.scheme ?? "HTTP").uppercased()
        guard scheme == "HTTP" || scheme == "HTTPS" else { throw .invalidPod("container \(c.name): \(field).httpGet.scheme must be HTTP or HTTPS") }
        var path = h.path ?? "/"
        if path.isEmpty { path = "/" }
        if !path.hasPrefix("/") { path = "/" + path }
        if path.utf8.contains(where: { $0 <= 32 || $0 == 127 }) {
            throw .invalidPod("container \(c.name): \(field).httpGet.path contains a space or control character")
        }
        var words = ["http", scheme, try host(h.host, c, field), String(try port(h.port, c, field)), path]
        for header in h.httpHeaders ?? [] {
            let token = !header.name.isEmpty && header.name.utf8.allSatisfy { b in
                (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || "!#$%&'*+-.^_`|~".utf8.contains(b)
            }
            guard token else { throw .invalidPod("container \(c.name): \(field).httpGet header name is not a valid HTTP token") }
            if header.value.utf8.contains(where: { $0 < 32 || $0 == 127 }) {
                throw .invalidPod("container \(c.name): \(field).httpGet header \(header.name) has a control character in its value")
            }
            words += [header.name, header.value]
        }
        return words
    }

    /// The probe's host: the node's loopback by default (the container runs there, or in
    /// its own network namespace, which the probe enters).
    private func host(_ h: String?, _ c: Container, _ field: String) throws(ProviderError) -> String {
        guard let h, !h.isEmpty else { return "127.0.0.1" }
        let ok = h.utf8.count <= 253 && h.utf8.allSatisfy { b in
            (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 45 || b == 46 || b == 58
        }
        guard ok, !h.hasPrefix("-") else { throw .invalidPod("container \(c.name): \(field) host \"\(h.prefix(80))\" is not a host name or address") }
        return h
    }

    private func port(_ p: IntOrString, _ c: Container, _ field: String) throws(ProviderError) -> Int32 {
        switch p {
        case .int(let n) where (1...65535).contains(n): return n
        case .int(let n): throw .invalidPod("container \(c.name): \(field) port \(n) must be between 1 and 65535")
        case .string(let name):
            if let n = Int32(name), (1...65535).contains(n) { return n }
            guard let found = c.ports?.first(where: { $0.name == name }) else {
                throw .invalidPod("container \(c.name): \(field) names port \"\(name.prefix(40))\", which the container does not declare")
            }
            return found.containerPort
        }
    }

    /// The supervisor's shell functions. Constants: every pod value arrives as an argument.
    static let helpers: [String] = [
        "# --- in-job supervisor: probes, lifecycle hooks and restarts as kubelet does them (SlurmSupervisor)",
        // Network checks run as `bash -c CODE il-probe ARGS...`: host, port, path and headers are data.
        "il_tcp_code=" + ShellQuote.quote(#"{ exec 3<>"/dev/tcp/$1/$2"; } 2>/dev/null || { echo "dial tcp $1:$2: connection refused"; exit 1; }"#),
        "il_http_code=" + ShellQuote.quote(#"h=$1 p=$2 path=$3; shift 3; { exec 3<>"/dev/tcp/$h/$p"; } 2>/dev/null || { echo "Get http://$h:$p$path: connection refused"; exit 1; }; { printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\nUser-Agent: kube-probe/interlink\r\nAccept: */*\r\n' "$path" "$h" "$p"; while [ $# -ge 2 ]; do printf '%s: %s\r\n' "$1" "$2"; shift 2; done; printf 'Connection: close\r\n\r\n'; } >&3; IFS=' ' read -r v c r <&3; case ${c:-} in [23][0-9][0-9]) exit 0 ;; esac; echo "HTTP probe failed with statuscode: ${c:-none}"; exit 1"#),
        "il_https_code=" + ShellQuote.quote(#"h=$1 p=$2 path=$3; shift 3; command -v curl >/dev/null || { echo "HTTPS probes need curl on the compute node, which is not installed"; exit 1; }; a=(); while [ $# -ge 2 ]; do a+=(-H "$1: $2"); shift 2; done; c=$(curl -sk -o /dev/null -w '%{http_code}' "${a[@]}" "https://$h:$p$path"); case $c in [23][0-9][0-9]) exit 0 ;; esac; echo "HTTPS probe failed with statuscode: $c"; exit 1"#),
        "# il_handle TIMEOUT IDX KIND ARGS...: one probe or hook handler; its output explains a failure.",
        #"""
        il_handle() {
          local t=$1 idx=$2 kind=$3 pid rc; shift 3
          local -a to=() pre=()
          [ "$t" -gt 0 ] && to=(timeout -k 1 "$t")
          # docker/podman: the container has no network of its own; enter its namespace.
          if [ "$kind" != exec ] && [ "$kind" != sleep ] && declare -p "il_w_$idx" >/dev/null 2>&1; then
            local -n w=il_w_$idx
            pid=$("${w[0]}" inspect -f '{{.State.Pid}}' "${w[1]}" 2>/dev/null)
            [ "${pid:-0}" -gt 0 ] 2>/dev/null || { echo "container ${w[1]} is not running"; return 1; }
            pre=(nsenter -n -t "$pid" --)
          fi
          case $kind in
            exec) "${to[@]}" "$@" ;;
            tcp) "${to[@]}" "${pre[@]}" /bin/bash -c "$il_tcp_code" il-probe "$@" ;;
            http) if [ "$1" = HTTPS ]; then shift; "${to[@]}" "${pre[@]}" /bin/bash -c "$il_https_code" il-probe "$@"
                  else shift; "${to[@]}" "${pre[@]}" /bin/bash -c "$il_http_code" il-probe "$@"; fi ;;
            sleep) sleep "$1" ;;
          esac
          rc=$?
          [ "$rc" -eq 124 ] && echo "timed out after ${t}s"
          return "$rc"
        }
        """#,
        #"il_msg() { head -c 1024 "$1" 2>/dev/null | tr '\r\n' '  '; }"#,
        "# Seconds to wait before the restart after STREAK short runs: base, doubled each time, capped (KubeletRestart).",
        #"il_backoff() { local d=$(($1 - 1)) b; [ "$d" -lt 0 ] && d=0; [ "$d" -gt 16 ] && d=16; b=$((il_backoff_base << d)); [ "$b" -gt "$il_backoff_max" ] && b=$il_backoff_max; echo "$b"; }"#,
        "# A duration as Go prints it (10s, 1m20s, 5m0s), as in kubelet's back-off message (KubeletRestart.goDuration).",
        #"il_godur() { if [ "$1" -lt 60 ]; then echo "$1s"; elif [ "$1" -lt 3600 ]; then echo "$(($1 / 60))m$(($1 % 60))s"; else echo "$(($1 / 3600))h$(($1 % 3600 / 60))m$(($1 % 60))s"; fi; }"#,
        "# il_probe NAME IDX KIND: one probe's loop against the run whose process group is $il_cpid. As kubelet's,",
        "# the initial delay counts from the container's start; liveness and readiness also wait for startup.",
        #"""
        il_probe() {
          local name=$1 idx=$2 kind=$3 ok=0 bad=0 t0=$EPOCHSECONDS rest
          local st=$il_dir/status/$name out=$il_dir/status/$name.$kind.out
          local -n spec=il_p_${idx}_$kind   # delay period timeout success failure handler...
          if [ "$kind" != startup ]; then while [ ! -e "$st.started" ]; do sleep 0.2; done; fi
          rest=$((spec[0] - (EPOCHSECONDS - t0))); [ "$rest" -gt 0 ] && sleep "$rest"
          while :; do
            if il_handle "${spec[2]}" "$idx" "${spec[@]:5}" >"$out" 2>&1 </dev/null; then ok=$((ok + 1)); bad=0; else bad=$((bad + 1)); ok=0; fi
            case $kind in
              startup)
                if [ "$ok" -ge 1 ]; then : >"$st.started"; return 0; fi
                if [ "$bad" -ge "${spec[4]}" ]; then il_kill_run "$name" "Startup probe failed: $(il_msg "$out")"; return 0; fi ;;
              liveness)
                if [ "$bad" -ge "${spec[4]}" ]; then il_kill_run "$name" "Liveness probe failed: $(il_msg "$out")"; return 0; fi ;;
              readiness)
                if [ "$ok" -ge "${spec[3]}" ]; then : >"$st.ready"; elif [ "$bad" -ge "${spec[4]}" ]; then rm -f "$st.ready"; fi ;;
            esac
            sleep "${spec[1]}"
          done
        }
        """#,
        "# Kills the current run as kubelet does (TERM, KILL after the grace period); the reason becomes terminated.message.",
        #"il_kill_run() { printf '%s\n' "$2" >"$il_dir/status/$1.kill"; il_stop_run "$il_grace"; }"#,
        "# il_stop_run SECONDS: TERM to the current run, KILL after SECONDS. docker/podman: `stop`, because the",
        "# container's PID 1 ignores a TERM it has no handler for and the CLI dying would leave the container running.",
        #"""
        il_stop_run() {
          if [[ $il_feat == *,w,* ]]; then
            local -n w=il_w_$il_idx
            "${w[0]}" stop -t "$1" "${w[1]}" >/dev/null 2>&1
          else
            kill -TERM -- "-$il_cpid" 2>/dev/null
            sleep "$1"
            kill -KILL -- "-$il_cpid" 2>/dev/null
          fi
        }
        """#,
        "# A TERM (scancel --batch) stops the supervisor: preStop first, then TERM to the container; no restart after it.",
        #"""
        il_sup_term() {
          local t0=$EPOCHSECONDS left
          il_stopping=1 il_sig=1
          [ -n "$il_sleep" ] && kill "$il_sleep" 2>/dev/null
          if [ -n "$il_cpid" ] && kill -0 "$il_cpid" 2>/dev/null; then
            if [[ $il_feat == *,preStop,* ]]; then
              local -n h=il_h_${il_idx}_preStop
              il_handle "$il_grace" "$il_idx" "${h[@]}" >"$il_dir/status/$il_name.preStop.out" 2>&1 </dev/null
            fi
            # What preStop left of the grace period, less a margin: the job is cancelled when it ends.
            left=$((il_grace - (EPOCHSECONDS - t0) - 2)); [ "$left" -lt 0 ] && left=0
            il_stop_run "$left" &
          fi
        }
        """#,
        "# il_supervise IDX NAME POLICY FEATURES: runs one container until no restart is due; returns its last exit code.",
        "# A run that will restart never gets an exit file (the job would look finished): its result goes to .last, then",
        "# .waiting; .start goes first, so a reader sees the container created, backing off, or running, never a mix.",
        #"""
        il_supervise() {
          il_idx=$1 il_name=$2 il_feat=,$4,
          local policy=$3 st=$il_dir/status/$2 streak=0 restarts=0 rc=0 t0 b p ex again
          local -n cmd=il_c_$1
          local -a probes
          trap il_sup_term TERM
          while :; do
            if [[ $il_feat == *,m,* ]]; then   # volume paths pinned right before every run, restarts too
              local -n mnt=il_m_$il_idx
              il_pin "$il_name" "${mnt[@]}" || { il_unpin_set "${mnt[@]}"; return 126; }
            fi
            if [[ $il_feat == *,w,* ]]; then   # a restart reuses the name: the last run's container must be gone
              local -n w=il_w_$il_idx
              [ "$restarts" -gt 0 ] && "${w[0]}" rm -f "${w[1]}" >/dev/null 2>&1
            fi
            rm -f "$st.ready" "$st.started" "$st.kill" "$st.exit"
            t0=$EPOCHSECONDS
            il_now >"$st.start"
            # Its own session, so a probe's kill reaches every process of the container.
            ( exec setsid "${cmd[@]}" ) </dev/null > >(il_ts >>"$il_dir/logs/$il_name.log") 2>&1 &
            il_cpid=$!
            rm -f "$st.waiting"
            probes=()
            if [[ $il_feat == *,w,* ]]; then   # probes and hooks need the container to exist
              for p in $(seq 600); do
                kill -0 "$il_cpid" 2>/dev/null || break
                [ "$("${w[0]}" inspect -f '{{.State.Running}}' "${w[1]}" 2>/dev/null)" = true ] && break
                sleep 0.1
              done
            fi
            if [[ $il_feat == *,postStart,* ]]; then
              local -n h=il_h_${il_idx}_postStart
              il_handle 0 "$il_idx" "${h[@]}" >"$st.postStart.out" 2>&1 </dev/null \
                || { printf 'PostStartHookError: %s\n' "$(il_msg "$st.postStart.out")" >"$st.kill"; il_stop_run "$il_grace" & }
            fi
            if [ ! -e "$st.kill" ]; then
              [[ $il_feat == *,startup,* ]] || : >"$st.started"
              [[ $il_feat == *,readiness,* ]] || : >"$st.ready"
              for p in startup liveness readiness; do
                if [[ $il_feat == *,$p,* ]]; then il_probe "$il_name" "$il_idx" "$p" & probes+=($!); fi
              done
            fi
            il_wait "$il_cpid"; rc=$?
            if [ "${#probes[@]}" -gt 0 ]; then kill -KILL "${probes[@]}" 2>/dev/null; wait "${probes[@]}" 2>/dev/null; fi
            [[ $il_feat == *,m,* ]] && il_unpin_set "${mnt[@]}"   # the run is over (its exec probes used the pins too)
            rm -f "$st.ready" "$st.started"
            il_cpid=
            ex="$rc $(il_now)"$'\n'$'\n'"$(il_msg "$st.kill")"
            again=1
            [ -n "$il_stopping" ] && again=
            case $policy in always) ;; onfailure) [ "$rc" -eq 0 ] && again= ;; *) again= ;; esac
            if [ -z "$again" ]; then il_put "$st.exit" "$ex"; return "$rc"; fi
            if [ $((EPOCHSECONDS - t0)) -ge "$il_backoff_reset" ]; then streak=1; else streak=$((streak + 1)); fi
            b=$(il_backoff "$streak")
            restarts=$((restarts + 1))
            p=$(cat "$st.start"); rm -f "$st.start"
            il_put "$st.last" "$restarts $p"$'\n'"$ex"
            il_put "$st.waiting" "$il_backoff_reason"$'\n'"back-off $(il_godur "$b") restarting failed container=$il_name$il_pod_suffix"
            sleep "$b" & il_sleep=$!
            wait "$il_sleep"; il_sleep=
            if [ -n "$il_stopping" ]; then il_put "$st.exit" "$ex"; rm -f "$st.waiting"; return "$rc"; fi
          done
        }
        """#,
        "# Writes FILE through a rename, so a reader never sees half of it.",
        #"il_put() { printf '%s\n' "$2" >"$1.tmp" && mv -f "$1.tmp" "$1"; }"#,
        "# il_wait PID: its exit code, through the TERMs that interrupt wait. A trap sets il_sig; waiting again returns the",
        "# status bash kept, even when the child exited while the trap ran (asking kill -0 then would keep the 143 of the",
        "# interrupted wait instead of the child's own exit code).",
        #"il_wait() { local c; il_sig=; wait "$1"; c=$?; while [ -n "$il_sig" ]; do il_sig=; wait "$1"; c=$?; done; return "$c"; }"#,
        #"il_wait_all() { local rc=0 c p; for p in "$@"; do il_wait "$p"; c=$?; [ "$c" -gt "$rc" ] && rc=$c; done; exit "$rc"; }"#,
        #"il_on_term() { il_stopping=1 il_sig=1; local p; for p in "${il_sups[@]}"; do kill -TERM "$p" 2>/dev/null; done; }"#,
    ]
}
