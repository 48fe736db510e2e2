import FoundationEssentials
import Model
import Reconciler
import Server
import StatusPatcher
import Support

/// The HTTP API as a service: cancelling it stops accepting and drains the
/// requests in flight (each create is journaled before its 200 goes out).
struct HTTPServerService: Service {
    let server: HTTPServer
    var name: String { "http" }

    func run() async {
        await withTaskCancellationHandler {
            await server.run()
        } onCancel: {
            Task { await server.shutdown() }
        }
    }
}

/// The reconciler as a service: its loop (`ReconcileLoop`, itself a
/// `Service`) returns once cancelled, after the tick under way; then the
/// intake is closed and the journal with it.
struct ReconcilerService: Service {
    let reconciler: Reconciler
    var name: String { "reconciler" }

    func run() async {
        await reconciler.run()
        await reconciler.stop()
    }
}

/// The status patcher as a service (it stops when cancelled).
struct StatusPatcherService: Service {
    let patcher: StatusPatcher
    var name: String { "status-patcher" }
    func run() async { await patcher.run() }
}
