import FoundationEssentials
import Model

/// A container's probes and hooks as the Docker provider runs them, stamped on
/// the container as one JSON label (`DockerLabel.lifecycle`) at create. The
/// daemon stays the only record: after an InterLink restart the prober and
/// `delete` (preStop) read what to run from the container itself, never from a
/// pod spec they might not have.
///
/// Named ports are resolved against the container's `ports` at create, so a
/// probe whose port name does not exist fails the create with a clear reason
/// instead of failing forever at run time.
public struct DockerLifecycleSpec: Codable, Sendable, Equatable {
    public var startupProbe: Probe?
    public var livenessProbe: Probe?
    public var readinessProbe: Probe?
    public var postStart: LifecycleHandler?
    public var preStop: LifecycleHandler?
    /// Port names used by the probes and hooks -> numbers.
    public var ports: [String: Int32] = [:]
    /// The pod's termination grace period (a liveness kill and preStop count against it).
    public var graceSeconds: Int = 30

    public var isEmpty: Bool {
        startupProbe == nil && livenessProbe == nil && readinessProbe == nil && postStart == nil && preStop == nil
    }

    /// Whether some handler needs the probe helper (httpGet, tcpSocket) inside the container.
    public var needsHelper: Bool {
        let probes = [startupProbe, livenessProbe, readinessProbe].compactMap { $0 }
        let hooks = [postStart, preStop].compactMap { $0 }
        return probes.contains { $0.httpGet != nil || $0.tcpSocket != nil } || hooks.contains { $0.httpGet != nil }
    }

    /// The spec of `c`, checked: one handler each, no grpc, no tcpSocket hook, named
    /// ports that exist, HTTP paths and headers that cannot break a request line.
    public static func of(_ c: Container, pod: Pod) throws(ProviderError) -> DockerLifecycleSpec {
        var spec = DockerLifecycleSpec(startupProbe: c.startupProbe, livenessProbe: c.livenessProbe,
                                       readinessProbe: c.readinessProbe, postStart: c.lifecycle?.postStart,
                                       preStop: c.lifecycle?.preStop)
        spec.graceSeconds = Int(clamping: max(0, pod.spec?.terminationGracePeriodSeconds ?? 30))
        var ports: [IntOrString] = []
        for (what, p) in [("startupProbe", c.startupProbe), ("livenessProbe", c.livenessProbe), ("readinessProbe", c.readinessProbe)] {
            guard let p else { continue }
            if p.grpc != nil {
                throw .invalidPod("container \(c.name): \(what).grpc is not supported by the Docker provider (use exec, httpGet or tcpSocket)")
            }
            if p.handlerCount != 1 { throw .invalidPod("container \(c.name): \(what) must have exactly one handler") }
            if let h = p.httpGet { try check(h, c.name, what); ports.append(h.port) }
            if let t = p.tcpSocket { ports.append(t.port) }
            if let e = p.exec, (e.command ?? []).isEmpty { throw .invalidPod("container \(c.name): \(what).exec.command is empty") }
        }
        for (what, h) in [("postStart", c.lifecycle?.postStart), ("preStop", c.lifecycle?.preStop)] {
            guard let h else { continue }
            if h.tcpSocket != nil {
                throw .invalidPod("container \(c.name): lifecycle.\(what).tcpSocket is deprecated and not run by Kubernetes; use exec, httpGet or sleep")
            }
            if h.handlerCount != 1 { throw .invalidPod("container \(c.name): lifecycle.\(what) must have exactly one handler") }
            if let g = h.httpGet { try check(g, c.name, "lifecycle.\(what)"); ports.append(g.port) }
            if let e = h.exec, (e.command ?? []).isEmpty { throw .invalidPod("container \(c.name): lifecycle.\(what).exec.command is empty") }
        }
        for case .string(let name) in ports {
            guard let n = c.ports?.first(where: { $0.name == name })?.containerPort else {
                throw .invalidPod("container \(c.name): a probe or hook uses port \"\(name)\", which the container does not declare")
            }
            spec.ports[name] = n
        }
        return spec
    }

    static func check(_ h: HTTPGetAction, _ container: String, _ what: String) throws(ProviderError) {
        func bad(_ s: String) -> Bool { s.utf8.contains { $0 < 0x20 || $0 == 0x7f } }
        if bad(h.path ?? "") || bad(h.host ?? "") || (h.httpHeaders ?? []).contains(where: { bad($0.name) || bad($0.value) || $0.name.contains(":") }) {
            throw .invalidPod("container \(container): \(what).httpGet has a control character in its path, host or headers")
        }
        let scheme = (h.scheme ?? "HTTP").uppercased()
        if scheme == "HTTPS" {
            throw .invalidPod("container \(container): \(what).httpGet with scheme HTTPS is not supported by the Docker provider (its probe helper speaks plain HTTP)")
        }
        if scheme != "HTTP" { throw .invalidPod("container \(container): \(what).httpGet.scheme must be HTTP or HTTPS") }
    }

    /// The port number `p` stands for.
    public func port(_ p: IntOrString) -> Int32 {
        switch p {
        case .int(let n): return n
        case .string(let s): return ports[s] ?? 0
        }
    }

    /// The JSON label value, nil when there is nothing to run.
    public func label() -> String? {
        guard !isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) }
    }

    public static func decode(_ label: String?) -> DockerLifecycleSpec? {
        guard let label, !label.isEmpty else { return nil }
        return try? JSONDecoder().decode(DockerLifecycleSpec.self, from: Data(label.utf8))
    }
}
