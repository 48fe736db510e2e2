import Model

/// `#SBATCH` options from the site configuration and the
/// `slurm-job.vk.io/flags` annotation, parsed into individual flags and checked.
///
/// Contract: `parse` splits the text on white space (single and double quotes
/// group words, without any expansion); a word that does not start with `-` is
/// the value of the short option before it (`-p batch`). Each flag must look like
/// a Slurm option (`--name[=value]` or `-x[value]`), contain no control characters
/// and no `"`; options InterLink sets itself (job name, output files, `--wrap`)
/// are refused. `merge` keeps the last occurrence of each option, so later flags
/// override earlier ones. Errors are `ProviderError.invalidPod` with one sentence.
enum SlurmFlags {
    /// One option: its canonical key (long name) and the text written after `#SBATCH`.
    struct Flag: Equatable, Sendable {
        var key: String
        var text: String
    }

    /// Options whose change would hide the job from InterLink or break its logs.
    static let reserved: Set<String> = ["job-name", "output", "error", "wrap", "parsable", "chdir", "test-only", "array",
                                        "uid", "gid", "requeue"]

    /// Short options that take a value, and their long names (so `-p x` overrides `--partition=y`).
    static let shortNames: [Character: String] = [
        "A": "account", "a": "array", "b": "begin", "C": "constraint", "c": "cpus-per-task",
        "D": "chdir", "d": "dependency", "e": "error", "G": "gpus", "i": "input", "J": "job-name",
        "L": "licenses", "M": "clusters", "m": "distribution", "N": "nodes", "n": "ntasks",
        "o": "output", "p": "partition", "q": "qos", "t": "time", "w": "nodelist", "x": "exclude",
    ]

    static func parse(_ text: String, source: String) throws(ProviderError) -> [Flag] {
        var words: [String] = []
        var current = "", inWord = false
        var quote: Character? = nil
        for ch in text {
            if let q = quote {
                if ch == q { quote = nil } else { current.append(ch) }
                continue
            }
            if ch == "'" || ch == "\"" { quote = ch; inWord = true; continue }
            if ch.isNewline || ch.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" }) {
                throw .invalidPod("\(source) must not contain a line break; give flags on one line separated by spaces")
            }
            if ch.isWhitespace {
                if inWord { words.append(current); current = ""; inWord = false }
                continue
            }
            current.append(ch); inWord = true
        }
        if quote != nil { throw .invalidPod("\(source) has an unterminated quote") }
        if inWord { words.append(current) }

        var flags: [Flag] = []
        var i = 0
        while i < words.count {
            var word = words[i]
            guard word.hasPrefix("-") else {
                throw .invalidPod("\(source): \"\(word.prefix(80))\" is not a Slurm option (options start with - or --)")
            }
            // `-p batch`: a short option without attached value takes the next word.
            if !word.hasPrefix("--"), word.count == 2, let short = word.last, shortNames[short] != nil,
               i + 1 < words.count, !words[i + 1].hasPrefix("-") {
                word += words[i + 1]; i += 1
            }
            flags.append(try check(word, source: source))
            i += 1
        }
        return flags
    }

    static func check(_ word: String, source: String) throws(ProviderError) -> Flag {
        if word.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw .invalidPod("\(source): the flag \"\(word.prefix(80).debugDescription)\" contains a control character such as a line break")
        }
        if word.unicodeScalars.contains("\"") {
            throw .invalidPod("\(source): the flag \(word.prefix(80)) must not contain a double quote")
        }
        let key: String
        if word.hasPrefix("--") {
            let body = word.dropFirst(2)
            let name = body.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            guard let first = name.first, first.isLetter,
                  name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                throw .invalidPod("\(source): \"\(word.prefix(80))\" is not a Slurm option (expected --name or --name=value)")
            }
            key = name
            // sbatch accepts any unambiguous prefix of a long option (`--job-nam`):
            // a prefix of a reserved name is refused like the name itself.
            if let hidden = reserved.first(where: { $0 != key && $0.hasPrefix(key) }) {
                throw .invalidPod("\(source): the option --\(key) abbreviates --\(hidden), which is set by InterLink and cannot be overridden")
            }
        } else {
            let chars = Array(word.dropFirst())
            guard let letter = chars.first, letter.isASCII, letter.isLetter else {
                throw .invalidPod("\(source): \"\(word.prefix(80))\" is not a Slurm option (expected -x or --name=value)")
            }
            // Short options without a value can be clustered (`-vJname`): only a
            // value-taking short option may carry more characters.
            if shortNames[letter] == nil && chars.count > 1 {
                throw .invalidPod("\(source): \"\(word.prefix(80))\" clusters several short options; give each one separately")
            }
            key = shortNames[letter] ?? String(letter)
        }
        if reserved.contains(key) {
            throw .invalidPod("\(source): the option \(key) is set by InterLink and cannot be overridden")
        }
        // Slurm reads `#SBATCH` words with its own quoting: a value with spaces is quoted for it.
        let text = word.contains(where: { $0.isWhitespace }) ? quoteValue(word) : word
        return Flag(key: key, text: text)
    }

    private static func quoteValue(_ word: String) -> String {
        guard let eq = word.firstIndex(of: "=") else { return "\"\(word)\"" }
        return "\(word[...eq])\"\(word[word.index(after: eq)...])\""
    }

    /// Keeps the last flag of each key, in the order of their last occurrence.
    static func merge(_ lists: [[Flag]]) -> [Flag] {
        let all = lists.flatMap { $0 }
        var lastIndex: [String: Int] = [:]
        for (i, f) in all.enumerated() { lastIndex[f.key] = i }
        return all.enumerated().filter { lastIndex[$0.element.key] == $0.offset }.map(\.element)
    }
}
