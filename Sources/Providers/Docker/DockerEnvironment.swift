import FoundationEssentials

/// How a container's environment reaches `docker create` without any value in
/// its argv, which every user of the host can read in `/proc/<pid>/cmdline`.
///
/// Each variable is named in argv as `--env=NAME`, which makes the CLI copy the
/// value from its own environment, where InterLink puts it. Names the CLI, the
/// Go runtime or the C library read for themselves (`DOCKER_HOST`, `PATH`,
/// `HOME`, `LD_PRELOAD`, `GODEBUG`...) must not change how the CLI runs, so they
/// travel in an env file instead (mode 0600, removed right after create). Docker's
/// env file is line-based: such a variable whose value holds a line break is
/// refused with a sentence rather than put in argv.
public struct DockerEnvironment: Sendable {
    /// `--env=NAME` items (and `--env-file=PATH` when a file is needed).
    public var flags: [String] = []
    /// Variables for the CLI's environment.
    public var inherited: [(name: String, value: String)] = []
    /// Content of the env file, nil when no variable needs one.
    public var file: Data?

    /// Docker's env-file reader takes lines of at most 64 KiB.
    static let maxFileLine = 60_000

    public static func route(_ env: [(name: String, value: String)], container: String,
                             envFilePath: String?) throws(ProviderError) -> DockerEnvironment {
        var out = DockerEnvironment()
        var lines: [String] = []
        for (name, value) in env {
            guard !name.isEmpty, !name.contains("="), !name.utf8.contains(0) else {
                throw .invalidPod("container \(container): environment variable name \(DockerCreateArgs.quoted(name)) is not valid")
            }
            if value.utf8.contains(0) {
                throw .invalidPod("container \(container): the value of \(name) contains a NUL byte, which an environment variable cannot hold")
            }
            if readByCLI(name) {
                guard !value.contains("\n"), !value.contains("\r"), name.utf8.count + value.utf8.count < maxFileLine,
                      !name.contains(where: \.isWhitespace) else {
                    throw .invalidPod("container \(container): \(name) is a variable the docker CLI reads itself, so it goes through an env file, which cannot hold its value (a line break, or over \(maxFileLine) bytes)")
                }
                lines.append("\(name)=\(value)")
            } else {
                out.inherited.append((name, value))
                out.flags.append("--env=\(name)")
            }
        }
        if !lines.isEmpty {
            guard let envFilePath else { throw .invalidPod("container \(container): no env file for \(lines.count) variables") }
            out.file = Data((lines.joined(separator: "\n") + "\n").utf8)
            // The file comes first: docker applies --env-file, then --env, so the order of names is kept per kind.
            out.flags.insert("--env-file=\(envFilePath)", at: 0)
        }
        return out
    }

    /// Names the docker CLI (a Go program linked against the C library) reads for
    /// itself. Case-insensitive, and generous: a name wrongly listed here only
    /// means its value goes through the env file.
    static func readByCLI(_ name: String) -> Bool {
        let upper = name.uppercased()
        let prefixes = ["DOCKER_", "BUILDKIT_", "BUILDX_", "COMPOSE_", "NOTARY_", "GO", "LD_", "GLIBC_", "MALLOC_",
                        "GCONV_", "LOC", "NLS", "LC_", "XDG_", "SSL_", "SSH_", "HTTP", "OTEL_", "TMP", "TEMP"]
        let names: Set<String> = ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "TZ", "ZONEINFO", "LANG",
                                  "LANGUAGE", "NO_PROXY", "ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY", "FTP_PROXY",
                                  "HOSTALIASES", "RES_OPTIONS", "LOCALDOMAIN", "RESOLV_HOST_CONF", "DEBUG", "PWD"]
        return names.contains(upper) || prefixes.contains { upper.hasPrefix($0) }
    }
}
