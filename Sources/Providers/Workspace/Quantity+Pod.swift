import Model

extension Quantity {
    /// `parse`, failing as `ProviderError.invalidPod`: what a provider's checks of a pod throw.
    static func parseForPod(_ text: String, for what: String = "resource", allowNegative: Bool = false) throws(ProviderError) -> Quantity {
        do { return try parse(text, for: what, allowNegative: allowNegative) } catch { throw .invalidPod(error.message) }
    }
}
