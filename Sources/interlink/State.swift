import Config
import FoundationEssentials
import Model
import Reconciler
import Support

/// `interlink state check|repair [--config PATH]`: inspect or repair the
/// desired-state journal of the configured `DataRootFolder` (see
/// `StateMaintenance`). `check` exits 1 when the state is damaged.
enum StateCommand {
    static let usage = "usage: interlink state check|repair [--config PATH]"

    static func run(_ args: [String]) -> Int32 {
        guard let sub = args.first, sub == "check" || sub == "repair" else {
            printError(usage)
            return 2
        }
        var cliConfig: String?
        var i = 1
        while i < args.count {
            switch args[i] {
            case "--config", "-c":
                guard i + 1 < args.count else { printError("interlink state: --config needs a path"); return 2 }
                cliConfig = args[i + 1]; i += 2
            case let a where a.hasPrefix("--config="):
                cliConfig = String(a.dropFirst("--config=".count)); i += 1
            default:
                printError("interlink state: unknown option \(args[i]) (\(usage))")
                return 2
            }
        }
        let env = ProcessEnvironment.current
        let path = ConfigLoader.resolvePath(cliPath: cliConfig, environment: env)
        let config: InterLinkConfig
        do { config = try ConfigLoader.load(path: path, environment: env) } catch {
            printError("interlink: \(error.description)")
            return 2
        }
        let dir = ReconcilerSettings(config: config).stateDirectory
        do {
            if sub == "check" {
                let report = try StateMaintenance.check(directory: dir)
                print(report.text)
                return report.damaged ? 1 : 0
            }
            print(try StateMaintenance.repair(directory: dir).joined(separator: "\n"))
            return 0
        } catch {
            printError("interlink state \(sub): \(error.description)")
            return 1
        }
    }
}
