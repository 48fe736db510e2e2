// swift-tools-version:6.0
// libFuzzer targets for InterLink, in their own package so that
// -sanitize=fuzzer never reaches the main build. Build and run with
// scripts/fuzz.sh (`make fuzz FUZZ_SECONDS=N`); see Fuzz/README.md.
import PackageDescription

let package = Package(
    name: "InterLinkFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "InterLink", path: "..")],
    targets: [
        // One binary, several targets: FUZZ_TARGET picks one (one link instead of five).
        .executableTarget(
            name: "interlink-fuzz",
            dependencies: [.product(name: "InterLinkFuzzable", package: "InterLink")]
        ),
    ]
)
