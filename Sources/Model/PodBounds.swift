/// The bounds on numbers that come from a pod or a request (see README "Trust
/// model"). Every such number ends up in a timeout, a sleep, an argv or an
/// `Int32` somewhere; here it is either refused (400) when Kubernetes itself
/// would refuse it, or clamped to a bound where Kubernetes has none, so that
/// nothing downstream can overflow or wait for years.
public enum PodBounds {
    /// `terminationGracePeriodSeconds` (pod and probe) larger than this is
    /// clamped to it: one day. Kubernetes has no upper bound, but a stop that
    /// waits longer than a day is a mistake, and the value feeds timeouts.
    public static let maxGracePeriodSeconds: Int64 = 86_400
    /// Kubernetes' default grace period.
    public static let defaultGracePeriodSeconds: Int64 = 30
    /// `activeDeadlineSeconds`: Kubernetes' own range (1 .. 2^31-1).
    public static let activeDeadlineRange: ClosedRange<Int64> = 1...Int64(Int32.max)
    /// `runAsUser`, `runAsGroup`, `fsGroup`: Kubernetes' range (0 .. 2^31-1).
    public static let idRange: ClosedRange<Int64> = 0...Int64(Int32.max)
    /// Log `Tail` (lines) is clamped to this; no log has more lines.
    public static let maxLogTail = Int(Int32.max)
    /// Log `Bytes` is clamped to this (1 PiB); the selection is the same.
    public static let maxLogBytes = 1 << 50
    /// Log `SinceSeconds` is clamped to 100 years; the selection is the same.
    public static let maxLogSinceSeconds = 100 * 366 * 86_400

    /// The grace period a stop of this pod uses: Kubernetes' default when unset,
    /// never negative, at most `maxGracePeriodSeconds`.
    public static func gracePeriodSeconds(of spec: PodSpec?) -> Int64 {
        clampGrace(spec?.terminationGracePeriodSeconds ?? defaultGracePeriodSeconds)
    }

    static func clampGrace(_ v: Int64) -> Int64 { min(max(0, v), maxGracePeriodSeconds) }

    /// A grace period from anywhere (a delete's, a journal's): never negative, at most `maxGracePeriodSeconds`.
    public static func bounded(gracePeriodSeconds v: Int64) -> Int64 { clampGrace(v) }

    /// The pod with every clamped number at its bound, and a note per change
    /// (for the log). Numbers Kubernetes refuses are `problem(withNumbersOf:)`'s job.
    public static func clamped(_ pod: Pod) -> (pod: Pod, notes: [String]) {
        var pod = pod
        var notes: [String] = []
        guard var spec = pod.spec else { return (pod, notes) }
        if let g = spec.terminationGracePeriodSeconds, g > maxGracePeriodSeconds {
            spec.terminationGracePeriodSeconds = maxGracePeriodSeconds
            notes.append("terminationGracePeriodSeconds \(g) clamped to \(maxGracePeriodSeconds)")
        }
        func clampProbes(_ cs: inout [Container]) {
            for i in cs.indices {
                for kp in [\Container.startupProbe, \Container.livenessProbe, \Container.readinessProbe] {
                    guard var probe = cs[i][keyPath: kp], let g = probe.terminationGracePeriodSeconds,
                          g > maxGracePeriodSeconds else { continue }
                    probe.terminationGracePeriodSeconds = maxGracePeriodSeconds
                    cs[i][keyPath: kp] = probe
                    notes.append("container \(cs[i].name): probe terminationGracePeriodSeconds \(g) clamped to \(maxGracePeriodSeconds)")
                }
            }
        }
        clampProbes(&spec.containers)
        if var inits = spec.initContainers { clampProbes(&inits); spec.initContainers = inits }
        pod.spec = spec
        return (pod, notes)
    }

    /// Log options with every count at its bound (the selection they mean is unchanged).
    public static func clamped(_ o: LogOpts) -> LogOpts {
        var o = o
        o.Tail = min(o.Tail, maxLogTail)
        o.Bytes = min(o.Bytes, maxLogBytes)
        o.SinceSeconds = min(o.SinceSeconds, maxLogSinceSeconds)
        return o
    }

    /// The numbers of a pod spec Kubernetes itself refuses, as one sentence, or nil.
    static func problem(withNumbersOf spec: PodSpec) -> String? {
        if let g = spec.terminationGracePeriodSeconds, g < 0 {
            return "terminationGracePeriodSeconds is \(g); it must not be negative"
        }
        if let d = spec.activeDeadlineSeconds, !activeDeadlineRange.contains(d) {
            return "activeDeadlineSeconds is \(d); it must be between \(activeDeadlineRange.lowerBound) and \(activeDeadlineRange.upperBound)"
        }
        if let sc = spec.securityContext {
            for (name, v) in [("runAsUser", sc.runAsUser), ("runAsGroup", sc.runAsGroup), ("fsGroup", sc.fsGroup)] {
                if let v, !idRange.contains(v) {
                    return "securityContext.\(name) is \(v); it must be between 0 and \(idRange.upperBound)"
                }
            }
        }
        return nil
    }
}
