import FoundationEssentials
import Model
#if canImport(Glibc)
import Glibc
#endif

/// The Kubernetes downward API as the kubelet resolves it, for env
/// (`valueFrom.fieldRef` / `resourceFieldRef`) and for downwardAPI volume files,
/// when the VK did not resolve them itself (by default it does not).
///
/// `fieldRef`: `metadata.name`, `metadata.namespace`, `metadata.uid`,
/// `metadata.labels['k']`, `metadata.annotations['k']` (a missing key is ""),
/// `spec.nodeName`, `spec.serviceAccountName`, `status.podIP`, `status.hostIP`
/// (as the VK sent them; empty until the API server knows them), and, in volume
/// files only, `metadata.labels` / `metadata.annotations` whole, one `k="v"`
/// line each, sorted, values quoted as Go's `%q`.
///
/// `resourceFieldRef`: `limits.*` / `requests.*` of `cpu`, `memory`,
/// `ephemeral-storage`, divided by `divisor` (default 1) and rounded up, as the
/// kubelet does. An unset limit is the node's allocatable in Kubernetes; here
/// it is this host's CPUs and memory, which is what a Docker container on it
/// gets and the best InterLink knows for other backends. An unset request is
/// the limit when one is set (the API server's defaulting), else 0.
public enum DownwardAPI {
    /// The value of `path` for `pod`, or nil when the path is not supported.
    public static func fieldValue(_ path: String, of pod: Pod, inVolume: Bool = false) -> String? {
        switch path {
        case "metadata.name": return pod.name
        case "metadata.namespace": return pod.namespace
        case "metadata.uid": return pod.uid
        case "spec.nodeName": return pod.spec?.nodeName ?? ""
        case "spec.serviceAccountName": return pod.spec?.serviceAccountName ?? ""
        case "status.podIP", "status.podIPs": return pod.status?.podIP ?? ""
        case "status.hostIP", "status.hostIPs": return pod.status?.hostIP ?? ""
        case "metadata.labels" where inVolume: return formatted(pod.metadata.labels ?? [:])
        case "metadata.annotations" where inVolume: return formatted(pod.metadata.annotations ?? [:])
        default: break
        }
        for (prefix, map) in [("metadata.labels", pod.metadata.labels), ("metadata.annotations", pod.metadata.annotations)] {
            // metadata.labels['key'] is Kubernetes' form; the VK also accepts double quotes.
            guard path.hasPrefix(prefix + "["), path.hasSuffix("]") else { continue }
            let inner = path.dropFirst(prefix.count + 1).dropLast()
            guard inner.count >= 3, let q = inner.first, q == "'" || q == "\"", inner.last == q else { return nil }
            let key = inner.dropFirst().dropLast()
            return map?[String(key)] ?? ""
        }
        return nil
    }

    /// The value of a `resourceFieldRef` for `container` (the selector's
    /// `containerName`, else `defaultContainer`), as a decimal integer string.
    public static func resourceValue(_ sel: ResourceFieldSelector, defaultContainer: String?, of pod: Pod,
                                     context: String) throws(ProviderError) -> String {
        guard let name = (sel.containerName?.isEmpty == false ? sel.containerName : defaultContainer) else {
            throw .invalidPod("\(context): resourceFieldRef \"\(sel.resource)\" needs a containerName")
        }
        guard let c = (pod.containers + pod.initContainers).first(where: { $0.name == name }) else {
            throw .invalidPod("\(context): resourceFieldRef names container \"\(name)\", which the pod does not have")
        }
        let parts = sel.resource.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, ["limits", "requests"].contains(parts[0]),
              ["cpu", "memory", "ephemeral-storage"].contains(parts[1]) else {
            throw .invalidPod("\(context): resourceFieldRef \"\(sel.resource)\" is not supported (use limits. or requests. of cpu, memory or ephemeral-storage)")
        }
        let (kind, resource) = (parts[0], parts[1])
        let divisorText = sel.divisor?.text ?? "1"
        let divisor = try Quantity.parseForPod(divisorText, for: "divisor of \(context)")
        guard divisor.milliValue > 0 else { throw .invalidPod("\(context): divisor \"\(divisorText)\" must be positive") }

        let limit = try c.resources?.limits?[resource].map { q throws(ProviderError) in try Quantity.parseForPod(q.text, for: "limits.\(resource) of container \(c.name)") }
        let request = try c.resources?.requests?[resource].map { q throws(ProviderError) in try Quantity.parseForPod(q.text, for: "requests.\(resource) of container \(c.name)") }
        let value: Quantity
        if kind == "limits" {
            value = limit ?? hostAllocatable(resource)
        } else {
            value = request ?? limit ?? Quantity(milliValue: 0)
        }
        if resource == "cpu" {
            return String(Quantity.divideRoundingUp(value.milliValue, divisor.milliValue))
        }
        return String(Quantity.divideRoundingUp(value.bytes, max(1, divisor.bytes)))
    }

    /// This host's capacity for an unset limit (see the type's comment).
    static func hostAllocatable(_ resource: String) -> Quantity {
        switch resource {
        case "cpu":
            return Quantity(milliValue: Int64(max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))) * 1000)
        case "memory":
            let pages = Int64(max(0, sysconf(Int32(_SC_PHYS_PAGES)))), size = Int64(max(0, sysconf(Int32(_SC_PAGESIZE))))
            let (bytes, overflow) = pages.multipliedReportingOverflow(by: size)
            let (milli, overflow2) = bytes.multipliedReportingOverflow(by: 1000)
            return Quantity(milliValue: overflow || overflow2 ? Int64.max : milli)
        default:
            // Ephemeral storage has no cheap host-wide answer; Kubernetes would report the node's.
            return Quantity(milliValue: 0)
        }
    }

    /// `k="v"` lines, sorted by key, the value quoted like Go's `strconv.Quote`
    /// (what the kubelet and the Go VK write for a whole labels/annotations file).
    static func formatted(_ map: [String: String]) -> String {
        map.keys.sorted().map { "\($0)=\(goQuoted(map[$0]!))\n" }.joined()
    }

    static func goQuoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{0B}": out += "\\v"
            default:
                let v = scalar.value
                if v < 0x20 || v == 0x7F { out += "\\x" + hex(v, width: 2) }
                else if (0x80...0x9F).contains(v) || v == 0xFEFF || v == 0xAD { out += "\\u" + hex(v, width: 4) }
                else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    private static func hex(_ v: UInt32, width: Int) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
