import Model
import Support
#if canImport(Glibc)
import Glibc
#endif

/// A serial executor with a thread of its own, for an actor whose methods block
/// in system calls (the journal's `write` and `fsync`, compaction). Run on
/// Swift's cooperative pool (two threads on a two-core machine) such calls would
/// hold back every other task, `/status` answers included.
final class ThreadExecutor: SerialExecutor, @unchecked Sendable {  // state guarded by `mutex`
    private var jobs: [UnownedJob] = []
    private var stopping = false
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
        // The thread keeps the executor alive until `shutdown` lets it drain and end.
        if !BlockingThread.start(stackBytes: 512 * 1024, { [self] in loop() }) {
            fatalError("cannot start the desired-state store's thread (out of threads?)")
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pthread_mutex_lock(&mutex)
        jobs.append(job)
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
    }

    /// Ends the thread once the jobs already queued have run.
    func shutdown() {
        pthread_mutex_lock(&mutex)
        stopping = true
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
    }

    private func loop() {
        while true {
            pthread_mutex_lock(&mutex)
            while jobs.isEmpty && !stopping { pthread_cond_wait(&cond, &mutex) }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            let done = stopping && batch.isEmpty
            pthread_mutex_unlock(&mutex)
            if done { return }
            for job in batch { job.runSynchronously(on: asUnownedSerialExecutor()) }
        }
    }
}
