/// A long-running part of the process (after swift-service-lifecycle's
/// `Service`): `run()` works until its task is cancelled, then finishes what
/// it has in flight and returns. Returning or throwing on its own means the
/// service stopped, and the executable's `ServiceGroup` shuts the others down.
/// Here (not in the executable) so that libraries' long-running parts, such as
/// the reconcile loop, are services themselves.
public protocol Service: Sendable {
    /// For logs ("http", "reconcile-loop", "status-patcher").
    var name: String { get }
    func run() async throws
}
