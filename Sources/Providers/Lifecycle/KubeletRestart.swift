import Model

/// Kubelet's container restart rules, shared by every provider that restarts
/// containers itself (Docker in the provider, Slurm inside the job script, whose
/// generated shell takes these constants from here so the two cannot drift).
///
/// - `Always` restarts a container that exited, whatever its code; `OnFailure`
///   only on a non-zero code; `Never` never.
/// - The wait before a restart starts at 10 s and doubles up to 5 min
///   (`CrashLoopBackOff` is the waiting reason meanwhile).
/// - A container that ran for 10 min before it exited resets the backoff.
public enum KubeletRestart {
    public static let initialBackoffSeconds = 10
    public static let maxBackoffSeconds = 300
    public static let backoffResetSeconds = 600
    /// The waiting reason while a restart is held back.
    public static let backoffReason = "CrashLoopBackOff"

    /// Whether a container that exited with `exitCode` is started again.
    public static func restarts(_ policy: RestartPolicy, exitCode: Int32) -> Bool {
        switch policy {
        case .always: return true
        case .onFailure: return exitCode != 0
        case .never: return false
        }
    }

    /// Init containers follow the pod's policy, except that `Always` restarts
    /// them only on failure (an init container that succeeded is done).
    public static func restartsInit(_ policy: RestartPolicy, exitCode: Int32) -> Bool {
        policy != .never && exitCode != 0
    }

    /// Seconds to wait before the restart that follows `streak` consecutive
    /// short runs (1 for the first exit): 10, 20, 40, ... capped at 300.
    /// `base` replaces the 10 s start (tests make it short; the cap stays 300 s).
    public static func backoffSeconds(streak: Int, base: Int = initialBackoffSeconds) -> Int {
        let base = max(1, base)
        guard streak > 1 else { return min(maxBackoffSeconds, base) }
        let doublings = min(streak - 1, 16)   // 10 * 2^5 already exceeds the cap
        return min(maxBackoffSeconds, base << doublings)
    }

    /// A duration as Go prints it (`10s`, `1m20s`, `5m0s`), the form kubelet's
    /// CrashLoopBackOff message uses.
    public static func goDuration(seconds: Int) -> String {
        let s = max(0, seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(s % 60)s" }
        return "\(s / 3600)h\(s % 3600 / 60)m\(s % 60)s"
    }

    /// Kubelet's waiting message while a restart is held back.
    public static func backoffMessage(seconds: Int, container: String, pod: String, namespace: String, uid: String) -> String {
        "back-off \(goDuration(seconds: seconds)) restarting failed container=\(container) pod=\(pod)_\(namespace)(\(uid))"
    }

    /// The streak after a run of `ranSeconds`: reset to 1 when the container ran
    /// for the reset window, else one more than before.
    public static func nextStreak(previous: Int, ranSeconds: Double) -> Int {
        ranSeconds >= Double(backoffResetSeconds) ? 1 : max(0, previous) + 1
    }
}
