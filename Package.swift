// swift-tools-version:6.0
// InterLink for Swift: runs Kubernetes pods on Docker hosts and Slurm clusters
// behind the upstream interLink virtual kubelet. No third-party packages: only
// Foundation, Dispatch, Glibc, the test libraries and system C libraries.
import PackageDescription

let package = Package(
    name: "InterLink",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "interlink", targets: ["interlink"]),
        .executable(name: "interlink-probe", targets: ["interlink-probe"]),
        // For the separate fuzzing package in Fuzz/ (built with -sanitize=fuzzer); not for users.
        .library(name: "InterLinkFuzzable", targets: ["Model", "Config", "Providers", "Server"]),
    ],
    targets: [
        // Tiny C wrappers for what Glibc does not export to Swift (accept4, pipe2,
        // the posix_spawn _np helpers, pidfd_open).
        .target(name: "CShims"),
        // libcurl through pkg-config, with typed wrappers for its variadic calls.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // OpenSSL through pkg-config, for TLS serving (inline wrappers for its macros).
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // Codable wire types (Kubernetes Pod subset, interLink API shapes), validation,
        // pure helpers (quantities, RFC 3339). Value types only: no I/O, no threads.
        .target(name: "Model"),
        // Runtime helpers every module shares: structured logging, blocking threads,
        // the process environment, whole writes to file descriptors, the Service protocol.
        .target(name: "Support", dependencies: ["Model"]),
        // Hand-written YAML reader and InterLinkConfig with defaults and env overrides.
        .target(name: "Config", dependencies: ["Model", "Support"]),
        // The Provider protocol and its implementations: mock, docker, slurm.
        // (KubeClient: the libcurl client the remote provider calls plugins with.)
        .target(name: "Providers", dependencies: ["Model", "Support", "Config", "CShims", "HTTPClient"]),
        // Desired-state store (journal), observe -> plan -> act loop, status view.
        .target(name: "Reconciler", dependencies: ["Model", "Support", "Providers", "Config", "CShims"]),
        // HTTP/1.1 server on POSIX sockets and the interLink API handlers.
        .target(name: "Server", dependencies: ["Model", "Support", "Reconciler", "Config", "CShims", "COpenSSL"]),
        // Generic libcurl HTTP client (TCP, unix socket, TLS, streaming, kept connections).
        .target(name: "HTTPClient", dependencies: ["CCurl", "Model", "Support"]),
        // Kubernetes API client: kubeconfig/in-cluster config, QPS limits, retries, watch.
        .target(name: "KubeClient", dependencies: ["HTTPClient", "Model", "Support", "Config"]),
        // Writes interLink's pod status to the API server's pods/status subresource.
        .target(name: "StatusPatcher", dependencies: ["KubeClient", "Model", "Support", "Reconciler"]),
        // Virtual-kubelet mode: node + lease, pods in from the API server, deletions, leader election, kubelet API.
        // The kubelet endpoint's self-signed certificate, made with OpenSSL's API (no openssl CLI in the image).
        .target(name: "CKubeletCert", dependencies: ["COpenSSL"]),
        .target(name: "VirtualKubelet", dependencies: ["KubeClient", "Model", "Support", "Config", "Reconciler", "Server", "Providers", "CKubeletCert"]),
        .executableTarget(
            name: "interlink",
            dependencies: ["Model", "Support", "Config", "Providers", "Reconciler", "Server", "HTTPClient", "KubeClient", "StatusPatcher", "VirtualKubelet", "CShims"]
        ),

        // The Docker provider's httpGet/tcpSocket probe helper, run inside pod
        // containers by `docker exec`: C, linked statically so it needs nothing
        // from the image.
        .executableTarget(name: "interlink-probe", path: "Sources/interlink-probe",
                          linkerSettings: [.unsafeFlags(["-static-executable"])]),

        .testTarget(name: "ModelTests", dependencies: ["Model"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ConfigTests", dependencies: ["Config", "Providers"], resources: [.copy("Corpus")]),
        .testTarget(name: "ProvidersTests", dependencies: ["Providers", "Model", "Support", "Config", "Server", "Reconciler"],
                    exclude: ["Tools"], resources: [.copy("Golden")]),
        .testTarget(name: "ReconcilerTests", dependencies: ["Reconciler", "Providers", "Model", "Config"]),
        .testTarget(name: "ServerTests", dependencies: ["Server", "Reconciler", "Providers", "Model", "Config", "CShims", "HTTPClient"], resources: [.copy("Fixtures")]),
        .testTarget(name: "KubeClientTests", dependencies: ["HTTPClient", "KubeClient", "StatusPatcher", "Providers", "Model", "Config", "Reconciler"]),
        // The executable's pure pieces: ctl manifest bundling, arguments, table; serve's addresses.
        .testTarget(name: "InterlinkTests", dependencies: ["interlink", "Model", "Config"]),
        // End-to-end tests that start the real `interlink` binary and real
        // dockerd / Slurm (started by scripts/); they skip cleanly when the
        // backend is not up (make test always brings them up).
        // VK mode against the contract API server over HTTPS on the mock provider, in process.
        .testTarget(name: "VirtualKubeletTests", dependencies: ["VirtualKubelet", "KubeClient", "StatusPatcher", "Reconciler", "Providers", "Model", "Config", "HTTPClient", "Server"]),
        .testTarget(name: "IntegrationTests", dependencies: ["Model", "Support", "Providers", "HTTPClient"]),
    ]
)
