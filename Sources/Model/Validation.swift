/// Checks on names and identifiers that arrive from clients. The rules are
/// Kubernetes' own (apimachinery `IsDNS1123Label`/`IsDNS1123Subdomain`), so a
/// pod the API server accepted is accepted here; derived names that must be
/// shorter (Docker container names, Slurm job names) are the providers' job.
public enum Validation {
    /// RFC 1123 DNS label: what Kubernetes allows as a namespace name.
    public static func isDNSLabel(_ s: String) -> Bool {
        s.utf8.count <= 63 && isSubdomainPart(Array(s.utf8)[...])
    }

    /// RFC 1123 subdomain as Kubernetes checks a pod name: at most 253 bytes of
    /// dot-separated parts, each `[a-z0-9]([-a-z0-9]*[a-z0-9])?`. There is *no*
    /// 63-byte limit per part (Kubernetes' `IsDNS1123Subdomain` has none).
    public static func isDNSSubdomain(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count <= 253 else { return false }
        return u.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).allSatisfy(isSubdomainPart)
    }

    private static func isSubdomainPart(_ u: ArraySlice<UInt8>) -> Bool {
        func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
        guard let first = u.first, let last = u.last, alnum(first), alnum(last) else { return false }
        return u.allSatisfy { alnum($0) || $0 == 45 }
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

    /// A path inside a volume (ConfigMap/Secret `items[].path`, downward-API files,
    /// the keys of a projected map): relative, no `..`/`.`/empty element, not
    /// starting with `..` (the kubelet reserves `..data`), no NUL, each element at
    /// most 255 bytes (NAME_MAX) and the whole at most 4096 (PATH_MAX).
    public static func isVolumeFilePath(_ path: String) -> Bool {
        let u = Array(path.utf8)
        guard !u.isEmpty, u.count <= 4096, u.first != UInt8(ascii: "/"), !u.contains(0),
              !path.hasPrefix("..") else { return false }
        for part in u.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            if part.isEmpty || part.count > 255 { return false }
            if part.elementsEqual("..".utf8) || part.elementsEqual(".".utf8) { return false }
        }
        return true
    }

    /// Two paths of one volume where one is a directory of the other (`a` and
    /// `a/b`): both cannot be written. Returns the pair, or nil.
    public static func conflictingPaths(_ paths: some Sequence<String>) -> (file: String, inside: String)? {
        let all = Set(paths)
        for path in all.sorted() {
            var prefix = Substring(path)
            while let slash = prefix.lastIndex(of: "/") {
                prefix = prefix[..<slash]
                if all.contains(String(prefix)) { return (String(prefix), path) }
            }
        }
        return nil
    }

    /// Problems with the `projectedvolumesmaps` of a create request, or nil:
    /// each map's keys are file paths of the volume it is named after.
    public static func problem(withProjectedMapsOf request: PodCreateRequests) -> String? {
        for map in request.projectedvolumesmaps ?? [] {
            let name = map.metadata.name ?? ""
            let keys = Array((map.data ?? [:]).keys) + Array((map.binaryData ?? [:]).keys)
            for key in keys.sorted() where !isVolumeFilePath(key) {
                return "projectedvolumesmaps \"\(name)\": file path \"\(key)\" must be relative and stay inside the volume"
            }
            if let (file, inside) = conflictingPaths(keys) {
                return "projectedvolumesmaps \"\(name)\": \"\(file)\" cannot be both a file and the directory of \"\(inside)\""
            }
        }
        return nil
    }

    /// The problems that make a pod unacceptable for `/create`, as one sentence, or nil.
    public static func problem(with pod: Pod) -> String? {
        if pod.name.isEmpty { return "pod has no metadata.name" }
        if pod.namespace.isEmpty { return "pod \(pod.name) has no metadata.namespace" }
        if pod.uid.isEmpty { return "pod \(pod.namespace)/\(pod.name) has no metadata.uid" }
        if !isDNSLabel(pod.namespace) { return "namespace \"\(pod.namespace)\" is not a valid DNS label" }
        if !isDNSSubdomain(pod.name) {
            return "pod name \"\(pod.name)\" is not a valid DNS subdomain (at most 253 characters of a-z, 0-9, \"-\" and \".\", alphanumeric around each dot and at both ends)"
        }
        // UIDs become parts of file names (`<namespace>-<uid>`), Slurm job names and
        // labels: Kubernetes UIDs are UUIDs, and only that shape keeps those unambiguous.
        if !isUUID(pod.uid) {
            return "pod uid \"\(pod.uid)\" is not a UUID (Kubernetes pod UIDs are)"
        }
        return nil
    }

    /// Problems with the spec of a pod to be created (containers, numbers,
    /// probes, hooks, volume paths), or nil. Quantities are checked by the caller,
    /// which has the parser.
    public static func problem(withSpecOf pod: Pod) -> String? {
        guard let spec = pod.spec else { return "pod \(pod.namespace)/\(pod.name) has no spec" }
        if spec.containers.isEmpty { return "pod \(pod.namespace)/\(pod.name) has no containers" }
        if let p = PodBounds.problem(withNumbersOf: spec) { return p }
        var seen = Set<String>()
        for c in (spec.initContainers ?? []) + spec.containers {
            if !isDNSLabel(c.name) { return "container name \"\(c.name)\" is not a valid DNS label" }
            if !seen.insert(c.name).inserted { return "container name \"\(c.name)\" is used twice" }
            if c.image.isEmpty { return "container \(c.name) has no image" }
            // Runtimes take the image as an argument: one starting with "-" would read as a flag.
            if c.image.hasPrefix("-") || c.image.contains(where: { $0.isNewline || $0 == "\0" }) {
                return "container \(c.name) has an invalid image name \"\(c.image)\""
            }
            if let p = ContainerValidation.problem(with: c, gracePeriod: PodBounds.gracePeriodSeconds(of: spec)) { return p }
            if let field = nulField(c) {
                return "container \(c.name): \(field) contains a NUL byte, which no process argument or environment can carry"
            }
        }
        for (key, value) in pod.annotations where value.utf8.contains(0) {
            return "annotation \(key) contains a NUL byte"
        }
        if let p = VolumeValidation.problem(with: spec.volumes ?? []) { return p }
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
