import FoundationEssentials
import Synchronization

/// client-go's client-side limit: `qps` tokens a second, at most `burst`
/// saved up. Each request takes one token and waits when none is left, so a
/// burst of work reaches the API server at the configured rate, not all at once.
public final class TokenBucket: Sendable {
    public let qps: Double
    public let burst: Int
    private struct State { var tokens: Double; var last: ContinuousClock.Instant }
    private let state: Mutex<State>

    public init(qps: Double, burst: Int) {
        self.qps = max(qps, 0.001)
        self.burst = max(burst, 1)
        state = Mutex(State(tokens: Double(max(burst, 1)), last: .now))
    }

    /// Reserves one token and returns how long the caller must wait for it
    /// (zero when one was available). Reservations queue up in call order.
    public func reserve(now: ContinuousClock.Instant = .now) -> Duration {
        state.withLock { s in
            let elapsed = now - s.last
            let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            s.tokens = min(Double(burst), s.tokens + max(0, secs) * qps)
            s.last = now
            s.tokens -= 1
            if s.tokens >= 0 { return .zero }
            return .milliseconds(Int64((-s.tokens / qps * 1000).rounded(.up)))
        }
    }

    /// Waits for a token; throws `CancellationError` if the task is cancelled.
    public func acquire() async throws {
        let wait = reserve()
        if wait > .zero { try await Task.sleep(for: wait) }
    }
}
