/// The parsed command line of `interlink ctl`. Parsing is by hand (no
/// packages) and pure, so every rule is visible here: global flags may stand
/// before or after the subcommand; `--flag value` and `--flag=value` both work;
/// `-f` means `--filename` for `create` and `--follow` for `logs`, as in kubectl.
struct CtlArguments: Equatable {
    enum Command: String, CaseIterable { case create, status, logs, delete, ping }
    enum Output: String { case table, json }

    var command: Command?
    var help = false
    var url: String?
    var tokenFile: String?
    var configPath: String?
    var caFile: String?
    var output: Output = .table
    var namespace: String?
    var positionals: [String] = []
    // create
    var files: [String] = []
    // logs
    var container: String?
    var tail: Int?
    var timestamps = false
    var follow = false

    /// One line naming what is wrong with the command line.
    struct UsageError: Error, Equatable, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    private static let globalValueFlags: Set<String> = ["--url", "--token-file", "--config", "--cacert", "-o", "--output", "-n", "--namespace"]

    static func parse(_ args: [String]) throws(UsageError) -> CtlArguments {
        var result = CtlArguments()
        // Split `--flag=value` first so the rest sees one shape.
        var tokens: [String] = []
        for a in args {
            if a.hasPrefix("--"), let eq = a.firstIndex(of: "=") {
                tokens.append(String(a[..<eq])); tokens.append(String(a[a.index(after: eq)...]))
            } else {
                tokens.append(a)
            }
        }
        // The subcommand is the first word that is neither a flag nor a global flag's value.
        var i = 0
        while i < tokens.count {
            let t = tokens[i]
            if t == "-h" || t == "--help" { result.help = true; i += 1; continue }
            if globalValueFlags.contains(t) { i += 2; continue }
            if t.hasPrefix("-") { break }
            guard let cmd = Command(rawValue: t) else {
                throw UsageError(message: "unknown command \"\(t)\" (expected one of: \(Command.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            result.command = cmd
            tokens.remove(at: i)
            break
        }

        i = 0
        func value(_ flag: String) throws(UsageError) -> String {
            guard i + 1 < tokens.count else { throw UsageError(message: "\(flag) needs a value") }
            i += 1
            return tokens[i]
        }
        while i < tokens.count {
            let t = tokens[i]
            switch t {
            case "-h", "--help": result.help = true
            case "--url": result.url = try value(t)
            case "--token-file": result.tokenFile = try value(t)
            case "--config": result.configPath = try value(t)
            case "--cacert": result.caFile = try value(t)
            case "-n", "--namespace": result.namespace = try value(t)
            case "-o", "--output":
                let v = try value(t)
                guard let o = Output(rawValue: v) else { throw UsageError(message: "\(t) must be \"table\" or \"json\", not \"\(v)\"") }
                result.output = o
            case "-f" where result.command == .create, "--filename" where result.command == .create:
                result.files.append(try value(t))
            case "-f" where result.command == .logs, "--follow" where result.command == .logs:
                result.follow = true
            case "-c" where result.command == .logs, "--container" where result.command == .logs:
                result.container = try value(t)
            case "--tail" where result.command == .logs:
                let v = try value(t)
                guard let n = Int(v), n >= 0 else { throw UsageError(message: "--tail needs a number of lines, not \"\(v)\"") }
                result.tail = n
            case "--timestamps" where result.command == .logs:
                result.timestamps = true
            case "--":
                result.positionals += tokens[(i + 1)...]
                i = tokens.count
                continue
            default:
                if t.hasPrefix("-") && t.count > 1 {
                    let scope = result.command.map { " for \($0.rawValue)" } ?? ""
                    throw UsageError(message: "unknown flag \(t)\(scope)")
                }
                result.positionals.append(t)
            }
            i += 1
        }
        if result.help { return result }
        try result.check()
        return result
    }

    /// Rules on the combination, once everything is read.
    private func check() throws(UsageError) {
        guard let command else { throw UsageError(message: "missing command (create, status, logs, delete or ping)") }
        switch command {
        case .create:
            if files.isEmpty { throw UsageError(message: "create needs at least one -f FILE") }
            if !positionals.isEmpty { throw UsageError(message: "create takes no names, only -f FILE: got \"\(positionals[0])\"") }
        case .status:
            if positionals.count > 1 { throw UsageError(message: "status takes at most one pod name or UID") }
        case .logs, .delete:
            if positionals.count != 1 { throw UsageError(message: "\(command.rawValue) needs exactly one pod name or UID") }
        case .ping:
            if !positionals.isEmpty { throw UsageError(message: "ping takes no arguments") }
        }
    }

    static let usage = """
    usage: interlink ctl COMMAND [flags]

    Commands:
      create -f FILE [-f FILE...]   create the Pod in FILE (JSON or YAML, several documents
                                    allowed); ConfigMaps and Secrets in the files go with it
      status [NAME|UID]             show one pod, or every pod created from here
      logs NAME|UID [-c CONTAINER] [--tail N] [--timestamps] [-f]
                                    print a container's log; -f follows it
      delete NAME|UID               delete a pod
      ping                          check that interLink answers

    Flags:
      --url URL           http(s)://host:port or unix:///path.sock (default: from the
                          config, else http://127.0.0.1:3000)
      --token-file FILE   bearer token file (default: the config's VKTokenFile)
      --config FILE       InterLinkConfig.yaml (default: $INTERLINKCONFIGPATH, else
                          ./config/InterLinkConfig.yaml when present)
      --cacert FILE       CA certificate for an https URL
      -n, --namespace NS  namespace of NAME (default: default)
      -o, --output FMT    table (default) or json

    Pods created here are remembered in $INTERLINK_CTL_STATE (default
    ~/.interlink/ctl-pods.json) so that later commands can find them by name.
    """
}
