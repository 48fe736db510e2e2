import Synchronization

/// Request counters of the HTTP API, by route and status, for `/metrics`.
final class APIMetrics: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func record(route: String, status: Int) {
        counts.withLock { $0["\(route)\u{0}\(status)", default: 0] += 1 }
    }

    /// Prometheus text exposition.
    func render() -> String {
        let snapshot = counts.withLock { $0 }
        var out = "# HELP interlink_http_requests_total API requests by route and status code.\n"
        out += "# TYPE interlink_http_requests_total counter\n"
        for key in snapshot.keys.sorted() {
            let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false)
            out += "interlink_http_requests_total{route=\"\(parts[0])\",code=\"\(parts[1])\"} \(snapshot[key]!)\n"
        }
        return out
    }
}
