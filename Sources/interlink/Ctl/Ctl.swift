import FoundationEssentials
import HTTPClient
import Model
import Support
#if canImport(Glibc)
import Glibc
#endif

/// `interlink ctl`: a small client of the interLink REST API for people and
/// scripts (create, status, logs, delete, ping). `run` gets the arguments after
/// "ctl" and returns the exit code: 0 success, 1 failure (the server's error on
/// one line of stderr), 2 usage or configuration error.
enum Ctl {
    static func run(_ arguments: [String]) async -> Int32 {
        let args: CtlArguments
        do {
            args = try CtlArguments.parse(arguments)
        } catch {
            writeStderr("interlink ctl: \(error.message); see 'interlink ctl --help'\n")
            return 2
        }
        if args.help {
            writeStdout(Data((CtlArguments.usage + "\n").utf8))
            return 0
        }
        let environment = ProcessEnvironment.current
        do {
            let connection = try CtlConnection.resolve(args, environment: environment)
            let commands = CtlCommands(args: args, connection: connection,
                                       statePath: CtlState.path(environment: environment))
            switch args.command! {
            case .create: try await commands.create()
            case .status: try await commands.status()
            case .logs: try await commands.logs()
            case .delete: try await commands.delete()
            case .ping: try await commands.ping()
            }
            return 0
        } catch {
            writeStderr("error: \(error.message)\n")
            return error.exitCode
        }
    }
}

/// Writes everything (no stdio buffering, so followed logs appear at once).
