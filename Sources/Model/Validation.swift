/// Checks on names and identifiers that arrive from clients.
public enum Validation {
    /// RFC 1123 DNS label: what Kubernetes allows as a namespace name.
    public static func isDNSLabel(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 63 else { return false }
        let u = Array(s.utf8)
        func ok(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 45 }
        return u.allSatisfy(ok) && u.first != 45 && u.last != 45
    }

    /// RFC 1123 subdomain: what Kubernetes allows as a pod name.
    public static func isDNSSubdomain(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNSLabel(String($0)) }
    }

    /// A UUID in its 8-4-4-4-12 hex text form (Kubernetes UIDs).
    public static func isUUID(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count == 36 else { return false }
        for (i, c) in u.enumerated() {
            if [8, 13, 18, 23].contains(i) { if c != 45 { return false }; continue }
            let hex = (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)
            if !hex { return false }
        }
        return true
    }

    /// The problems that make a pod unacceptable for `/create`, as one sentence, or nil.
    public static func problem(with pod: Pod) -> String? {
        if pod.name.isEmpty { return "pod has no metadata.name" }
        if pod.namespace.isEmpty { return "pod \(pod.name) has no metadata.namespace" }
        if pod.uid.isEmpty { return "pod \(pod.namespace)/\(pod.name) has no metadata.uid" }
        if !isDNSLabel(pod.namespace) { return "namespace \"\(pod.namespace)\" is not a valid DNS label" }
        if !isDNSSubdomain(pod.name) { return "pod name \"\(pod.name)\" is not a valid DNS subdomain" }
        // UIDs become parts of file names (`<namespace>-<uid>`), Slurm job names and
        // labels: Kubernetes UIDs are UUIDs, and only that shape keeps those unambiguous.
        if !isUUID(pod.uid) {
            return "pod uid \"\(pod.uid)\" is not a UUID (Kubernetes pod UIDs are)"
        }
        return nil
    }

    /// Problems with the containers of a pod to be created, or nil.
    public static func problem(withSpecOf pod: Pod) -> String? {
        guard let spec = pod.spec else { return "pod \(pod.namespace)/\(pod.name) has no spec" }
        if spec.containers.isEmpty { return "pod \(pod.namespace)/\(pod.name) has no containers" }
        var seen = Set<String>()
        for c in (spec.initContainers ?? []) + spec.containers {
            if !isDNSLabel(c.name) { return "container name \"\(c.name)\" is not a valid DNS label" }
            if !seen.insert(c.name).inserted { return "container name \"\(c.name)\" is used twice" }
            if c.image.isEmpty { return "container \(c.name) has no image" }
            // Runtimes take the image as an argument: one starting with "-" would read as a flag.
            if c.image.hasPrefix("-") || c.image.contains(where: { $0.isNewline || $0 == "\0" }) {
                return "container \(c.name) has an invalid image name \"\(c.image)\""
            }
            if let field = nulField(c) {
                return "container \(c.name): \(field) contains a NUL byte, which no process argument or environment can carry"
            }
        }
        for (key, value) in pod.annotations where value.utf8.contains(0) {
            return "annotation \(key) contains a NUL byte"
        }
        return nil
    }

    /// The first field of `c` that becomes a process argument, environment entry or
    /// path and holds a NUL byte: C strings end there, so a runtime would run
    /// something other than what was asked, and bash drops the byte from a script
    /// (found by the slurm-script fuzz target).
    static func nulField(_ c: Container) -> String? {
        func bad(_ s: String?) -> Bool { s?.utf8.contains(0) ?? false }
        if (c.command ?? []).contains(where: bad) { return "command" }
        if (c.args ?? []).contains(where: bad) { return "args" }
        if bad(c.workingDir) { return "workingDir" }
        for e in c.env ?? [] where bad(e.name) || bad(e.value) { return "env \(e.name.prefix(63))" }
        for m in c.volumeMounts ?? [] where bad(m.mountPath) || bad(m.subPath) || bad(m.name) { return "volumeMount \(m.name.prefix(63))" }
        return nil
    }
}
