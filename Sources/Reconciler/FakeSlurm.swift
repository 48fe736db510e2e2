import Config
import FoundationEssentials
import Providers
#if canImport(Glibc)
import Glibc
#endif

/// For `interlink bench reconcile`'s Slurm rows: the real `SlurmProvider`
/// (job directories, scripts, index and status files, one `squeue` per tick)
/// driving three small shell scripts instead of a cluster. `sbatch` answers a
/// job id at once and appends the job to a state file (under `flock`, as the
/// provider submits in parallel); `squeue` prints that file in the provider's
/// format (every job stays RUNNING); `scancel` marks a job CANCELLED. So the
/// figures are InterLink's own cost per pod, not Slurm's.
enum FakeSlurm {
    static let sbatch = """
    #!/bin/bash
    d="$(dirname "$0")"; name=; comment=
    for a in "$@"; do case "$a" in --job-name=*) name="${a#--job-name=}";; --comment=*) comment="${a#--comment=}";; esac; done
    exec 9>>"$d/lock"; flock 9
    id=$(( $(cat "$d/next" 2>/dev/null || echo 1000) + 1 )); echo "$id" >"$d/next"
    printf '%s|RUNNING|None|%s|%s\\n' "$id" "$comment" "$name" >>"$d/jobs"
    echo "$id"
    """
    static let squeue = """
    #!/bin/bash
    d="$(dirname "$0")"; job=
    while [ $# -gt 0 ]; do [ "$1" = -j ] && { job="$2"; shift; }; shift; done
    [ -f "$d/jobs" ] || exit 0
    if [ -n "$job" ]; then awk -F'|' -v j="$job" '$1==j {print $2}' "$d/jobs"; else cat "$d/jobs"; fi
    """
    static let scancel = """
    #!/bin/bash
    d="$(dirname "$0")"; id="${@: -1}"
    exec 9>>"$d/lock"; flock 9
    sed -i "s/^$id|RUNNING|/$id|CANCELLED|/" "$d/jobs"
    """

    /// Writes the scripts under `tools` and answers a Slurm provider that runs them.
    static func provider(dataRoot: String, tools: String) throws -> SlurmProvider {
        try FileManager.default.createDirectory(atPath: tools, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dataRoot, withIntermediateDirectories: true)
        for (name, text) in [("sbatch", sbatch), ("squeue", squeue), ("scancel", scancel)] {
            let path = tools + "/" + name
            try Data((text + "\n").utf8).write(to: URL(fileURLWithPath: path))
            chmod(path, 0o755)
        }
        var config = InterLinkConfig()
        config.dataRootFolder = dataRoot
        config.sbatchPath = tools + "/sbatch"
        config.squeuePath = tools + "/squeue"
        config.scancelPath = tools + "/scancel"
        config.containerRuntime = "none"
        return SlurmProvider(config: config)
    }
}
