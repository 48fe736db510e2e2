import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import CShims

// interlink: one binary, several commands. `serve` is the product; `ctl` is the
// small client; `bench` runs in-process benchmarks.
let usage = """
usage: interlink <command> [options]

commands:
  serve [--config PATH]     run the InterLink API server and reconciler
  sidecar --provider docker|slurm|mock [--config PATH]
                            serve the interLink plugin API (SidecarURL/SidecarPort)
  vk [--config PATH]        be the Kubernetes node (virtual kubelet) and the InterLink API
  ctl <subcommand> ...      talk to a running server (ctl --help)
  state check|repair [--config PATH]
                            report on / repair the desired-state journal
  bench reconcile [--pods 100,1000,10000]
                            reconcile tick and /status cost on the mock provider
  version                   print the version

The config file is --config, else $INTERLINKCONFIGPATH, else /etc/interlink/InterLinkConfig.yaml.
"""

let version = "0.1.0"
let arguments = Array(CommandLine.arguments.dropFirst())
signal(SIGPIPE, SIG_IGN)
// A fixed 128 KiB mmap threshold (glibc's default, without its dynamic growth):
// measured by `make bench`, RSS per tracked pod at 10,000 pods is about a fifth
// lower and steady from run to run. MALLOC_MMAP_THRESHOLD_ in the environment wins.
if ProcessInfo.processInfo.environment["MALLOC_MMAP_THRESHOLD_"] == nil { _ = cshims_fix_mmap_threshold(128 * 1024) }
// At most one malloc arena per core (2 to 8), not glibc's 8 per core: file and
// process threads each kept an arena of freed blocks. Measured by `make bench`
// at 10,000 Slurm pods (A/B with MALLOC_ARENA_MAX=2, 4, 8, 16): about 230 B
// less RSS per pod (2806 -> 2534-2591), create rate and tick unchanged.
// MALLOC_ARENA_MAX in the environment wins.
if ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil {
    _ = cshims_cap_malloc_arenas(Int32(min(8, max(2, ProcessInfo.processInfo.activeProcessorCount))))
}

let code: Int32
switch arguments.first {
case "serve":
    code = await Serve.run(Array(arguments.dropFirst()))
case "sidecar":
    code = await Sidecar.run(Array(arguments.dropFirst()))
case "vk":
    code = await VirtualKubeletCommand.run(Array(arguments.dropFirst()))
case "ctl":
    code = await Ctl.run(Array(arguments.dropFirst()))
case "state":
    code = StateCommand.run(Array(arguments.dropFirst()))
case "bench":
    code = await Bench.run(Array(arguments.dropFirst()))
case "version", "--version":
    print("interlink \(version)")
    code = 0
case "help", "--help", "-h":
    print(usage)
    code = 0
case nil:
    printError(usage)
    code = 2
case let other?:
    printError("interlink: unknown command \"\(other)\" (try: interlink --help)")
    code = 2
}
exit(code)
