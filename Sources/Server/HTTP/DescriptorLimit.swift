import CShims

/// The process's file-descriptor budget: raised once at start, and the
/// connection cap it leaves room for, so accepting never starves the journal,
/// the providers' pipes or the TLS files of descriptors.
public enum DescriptorLimit {
    /// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit
    /// now in force (nil if it cannot be read).
    public static func raiseToHard() -> Int? {
        var hard = 0
        let soft = cshims_raise_nofile(&hard)
        return soft > 0 ? soft : nil
    }

    /// `configured` bounded by what `descriptors` leaves after a quarter kept for
    /// the rest of the process and the server's own 503 answers and lingering closes.
    public static func connectionCap(configured: Int, descriptors: Int) -> Int {
        let headroom = descriptors / 4 + HTTPServer.maxConcurrentRejections + HTTPServer.maxLingering
        return max(1, min(configured, descriptors - headroom))
    }
}
