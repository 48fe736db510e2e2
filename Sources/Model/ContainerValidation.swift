/// The checks Kubernetes applies to a container's probes, hooks, ports and
/// security context, plus the ones that keep their text from being smuggled
/// into an HTTP request or a command line (no CR, LF or NUL in probe paths,
/// hosts and headers). One sentence per problem, naming the container.
enum ContainerValidation {
    static func problem(with c: Container, gracePeriod: Int64) -> String? {
        let who = "container \(c.name)"
        for (field, probe) in [("startupProbe", c.startupProbe), ("livenessProbe", c.livenessProbe),
                               ("readinessProbe", c.readinessProbe)] {
            guard let probe else { continue }
            if let p = problem(with: probe, field: field) { return "\(who): \(p)" }
        }
        if let hooks = c.lifecycle {
            for (field, hook) in [("postStart", hooks.postStart), ("preStop", hooks.preStop)] {
                guard let hook else { continue }
                if let p = problem(with: hook, field: "lifecycle.\(field)", gracePeriod: gracePeriod) { return "\(who): \(p)" }
            }
        }
        for port in c.ports ?? [] {
            if !(1...65535).contains(port.containerPort) {
                return "\(who): containerPort \(port.containerPort) must be between 1 and 65535"
            }
            if let h = port.hostPort, !(0...65535).contains(h) { return "\(who): hostPort \(h) must be between 0 and 65535" }
            if let n = port.name, !isPortName(n) { return "\(who): port name \"\(n)\" is not a valid IANA service name" }
            if let proto = port.protocol, !["TCP", "UDP", "SCTP"].contains(proto) {
                return "\(who): port protocol \"\(proto)\" must be TCP, UDP or SCTP"
            }
        }
        if let sc = c.securityContext {
            for (name, v) in [("runAsUser", sc.runAsUser), ("runAsGroup", sc.runAsGroup)] {
                if let v, !PodBounds.idRange.contains(v) {
                    return "\(who): securityContext.\(name) is \(v); it must be between 0 and \(PodBounds.idRange.upperBound)"
                }
            }
        }
        if let policy = c.terminationMessagePolicy, !["File", "FallbackToLogsOnError"].contains(policy) {
            return "\(who): terminationMessagePolicy \"\(policy)\" must be File or FallbackToLogsOnError"
        }
        if let path = c.terminationMessagePath, !path.isEmpty {
            if !path.hasPrefix("/") || path.utf8.count > 4096 || hasControl(path) {
                return "\(who): terminationMessagePath \"\(path)\" must be an absolute path"
            }
        }
        if let dir = c.workingDir, hasControl(dir) { return "\(who): workingDir contains a control character" }
        return nil
    }

    static func problem(with probe: Probe, field: String) -> String? {
        guard probe.handlerCount == 1 else {
            return "\(field) must have exactly one of exec, httpGet, tcpSocket or grpc"
        }
        for (name, v) in [("initialDelaySeconds", probe.initialDelaySeconds), ("timeoutSeconds", probe.timeoutSeconds),
                          ("periodSeconds", probe.periodSeconds), ("successThreshold", probe.successThreshold),
                          ("failureThreshold", probe.failureThreshold)] {
            if let v, v < 0 { return "\(field).\(name) is \(v); it must not be negative" }
        }
        if field != "readinessProbe", let s = probe.successThreshold, s > 1 {
            return "\(field).successThreshold must be 1 (it is \(s))"
        }
        if let g = probe.terminationGracePeriodSeconds, g <= 0 {
            return "\(field).terminationGracePeriodSeconds is \(g); it must be positive"
        }
        if let exec = probe.exec, let p = problem(with: exec, field: field) { return p }
        if let get = probe.httpGet, let p = problem(with: get, field: field) { return p }
        if let tcp = probe.tcpSocket, let p = problem(port: tcp.port, host: tcp.host, field: "\(field).tcpSocket") { return p }
        if let grpc = probe.grpc {
            if !(1...65535).contains(grpc.port) { return "\(field).grpc.port \(grpc.port) must be between 1 and 65535" }
            if let s = grpc.service, hasControl(s) { return "\(field).grpc.service contains a control character" }
        }
        return nil
    }

    static func problem(with hook: LifecycleHandler, field: String, gracePeriod: Int64) -> String? {
        guard hook.handlerCount == 1 else { return "\(field) must have exactly one of exec, httpGet or sleep" }
        if let exec = hook.exec, let p = problem(with: exec, field: field) { return p }
        if let get = hook.httpGet, let p = problem(with: get, field: field) { return p }
        if let tcp = hook.tcpSocket, let p = problem(port: tcp.port, host: tcp.host, field: "\(field).tcpSocket") { return p }
        if let sleep = hook.sleep, !(0...gracePeriod).contains(sleep.seconds) {
            return "\(field).sleep.seconds is \(sleep.seconds); it must be between 0 and the grace period (\(gracePeriod))"
        }
        return nil
    }

    private static func problem(with exec: ExecAction, field: String) -> String? {
        guard let cmd = exec.command, !cmd.isEmpty else { return "\(field).exec.command must not be empty" }
        if cmd.contains(where: { $0.utf8.contains(0) }) { return "\(field).exec.command contains a NUL byte" }
        return nil
    }

    private static func problem(with get: HTTPGetAction, field: String) -> String? {
        let f = "\(field).httpGet"
        if let p = problem(port: get.port, host: get.host, field: f) { return p }
        if let scheme = get.scheme, !["HTTP", "HTTPS"].contains(scheme) { return "\(f).scheme \"\(scheme)\" must be HTTP or HTTPS" }
        if let path = get.path, hasControl(path) || path.contains(" ") { return "\(f).path \"\(path)\" contains a space or control character" }
        for h in get.httpHeaders ?? [] {
            if h.name.isEmpty || !h.name.utf8.allSatisfy(isTokenByte) { return "\(f): header name \"\(h.name)\" is not a valid HTTP token" }
            if hasControl(h.value) { return "\(f): header \(h.name) has a control character in its value" }
        }
        return nil
    }

    private static func problem(port: IntOrString, host: String?, field: String) -> String? {
        switch port {
        case .int(let p) where !(1...65535).contains(p): return "\(field).port \(p) must be between 1 and 65535"
        case .string(let n) where !isPortName(n): return "\(field).port \"\(n)\" is neither a number nor a valid port name"
        default: break
        }
        if let host, hasControl(host) || host.contains(" ") || host.contains("/") {
            return "\(field).host \"\(host)\" is not a host name or address"
        }
        return nil
    }

    /// IANA_SVC_NAME: 1-15 of `a-z 0-9 -`, at least one letter, no `-` at the ends or twice in a row.
    static func isPortName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...15).contains(u.count), u.first != 45, u.last != 45, !s.contains("--") else { return false }
        guard u.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }) else { return false }
        return u.contains { $0 >= 97 && $0 <= 122 }
    }

    static func hasControl(_ s: String) -> Bool { s.utf8.contains { $0 < 32 || $0 == 127 } }

    /// RFC 7230 `tchar`.
    private static func isTokenByte(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || "!#$%&'*+-.^_`|~".utf8.contains(c)
    }
}

/// Kubernetes' checks on a pod's volumes that InterLink relies on: names are
/// DNS labels and unique, modes fit 0..0777, every file path stays inside its
/// volume (`Validation.isVolumeFilePath`).
enum VolumeValidation {
    static func problem(with volumes: [Volume]) -> String? {
        var names = Set<String>()
        for v in volumes {
            if !Validation.isDNSLabel(v.name) { return "volume name \"\(v.name)\" is not a valid DNS label" }
            if !names.insert(v.name).inserted { return "volume name \"\(v.name)\" is used twice" }
            let who = "volume \"\(v.name)\""
            if let cm = v.configMap, let p = problem(items: cm.items, defaultMode: cm.defaultMode) { return "\(who): \(p)" }
            if let s = v.secret, let p = problem(items: s.items, defaultMode: s.defaultMode) { return "\(who): \(p)" }
            if let d = v.downwardAPI, let p = problem(files: d.items ?? [], defaultMode: d.defaultMode) { return "\(who): \(p)" }
            if let proj = v.projected {
                if let p = problem(mode: proj.defaultMode, what: "defaultMode") { return "\(who): \(p)" }
                for s in proj.sources ?? [] {
                    if let cm = s.configMap, let p = problem(items: cm.items, defaultMode: nil) { return "\(who): \(p)" }
                    if let sec = s.secret, let p = problem(items: sec.items, defaultMode: nil) { return "\(who): \(p)" }
                    if let d = s.downwardAPI, let p = problem(files: d.items ?? [], defaultMode: nil) { return "\(who): \(p)" }
                    if let t = s.serviceAccountToken, !Validation.isVolumeFilePath(t.path) {
                        return "\(who): serviceAccountToken path \"\(t.path)\" must be relative and stay inside the volume"
                    }
                }
            }
        }
        return nil
    }

    private static func problem(items: [KeyToPath]?, defaultMode: Int32?) -> String? {
        if let p = problem(mode: defaultMode, what: "defaultMode") { return p }
        for item in items ?? [] {
            if item.key.isEmpty { return "an item has an empty key" }
            if !Validation.isVolumeFilePath(item.path) { return "file path \"\(item.path)\" must be relative and stay inside the volume" }
            if let p = problem(mode: item.mode, what: "mode of \(item.path)") { return p }
        }
        return nil
    }

    private static func problem(files: [DownwardAPIVolumeFile], defaultMode: Int32?) -> String? {
        if let p = problem(mode: defaultMode, what: "defaultMode") { return p }
        for f in files {
            if !Validation.isVolumeFilePath(f.path) { return "file path \"\(f.path)\" must be relative and stay inside the volume" }
            if (f.fieldRef == nil) == (f.resourceFieldRef == nil) {
                return "downward-API file \(f.path) must have exactly one of fieldRef or resourceFieldRef"
            }
            if let p = problem(mode: f.mode, what: "mode of \(f.path)") { return p }
        }
        return nil
    }

    private static func problem(mode: Int32?, what: String) -> String? {
        guard let mode, !(0...0o777).contains(mode) else { return nil }
        return "\(what) is \(mode); it must be between 0 and 0777 (511)"
    }
}
