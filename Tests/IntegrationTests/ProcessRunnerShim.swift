import Providers
/// The product's process runner, re-exported for tests.
typealias ProcessRunnerShim = ProcessRunner
