import Config
import Model
import Support

/// What SIGHUP changes without a restart. Only the log level: everything else
/// (listen address, provider, data root) is bound at start, and the token
/// files are already re-read whenever they change.
enum ServeReload {
    static func logLevel(path: String, environment: [String: String]) {
        do {
            let c = try ConfigLoader.load(path: path, environment: environment)
            Log.level = c.verboseLogging ? .debug : c.errorsOnlyLogging ? .error : .info
            Log.warn("configuration reloaded (SIGHUP): log level", ["path": path, "level": "\(Log.level)"])
        } catch {
            Log.error("SIGHUP: configuration not reloaded, keeping the running one", ["error": error.description])
        }
    }
}
