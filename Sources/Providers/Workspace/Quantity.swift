/// A Kubernetes resource quantity (`500m`, `1.5`, `128Mi`, `1G`, `1e3`), parsed
/// exactly as Kubernetes does. STUB: bodies are filled in by the workspace work.
public struct Quantity: Sendable, Equatable, CustomStringConvertible {
    /// The value in milli-units, rounded up (1 CPU = 1000; 1 byte = 1000).
    public var milliValue: Int64

    public init(milliValue: Int64) { self.milliValue = milliValue }

    /// Throws `ProviderError.invalidPod` naming the bad text.
    public static func parse(_ text: String) throws(ProviderError) -> Quantity {
        throw .unavailable("Quantity.parse is not implemented yet")
    }

    /// CPUs as a decimal number (for `--cpus`).
    public var cores: Double { Double(milliValue) / 1000 }
    /// Whole CPUs rounded up (for `--cpus-per-task`), at least 1.
    public var wholeCoresRoundedUp: Int { max(1, Int((milliValue + 999) / 1000)) }
    /// Bytes rounded up (for `--memory`).
    public var bytes: Int64 { (milliValue + 999) / 1000 }
    /// MiB rounded up (for Slurm `--mem`), at least 1.
    public var mebibytesRoundedUp: Int64 { max(1, (bytes + 1_048_575) / 1_048_576) }
    public var description: String { "\(milliValue)m" }
}
