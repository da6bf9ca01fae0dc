import Dispatch
import Foundation
import Synchronization
import Transport
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT/SIGTERM handling for writers: the first signal cancels in-flight transfers (the
/// blob being downloaded is abandoned in the ingest area, nothing partial is committed) and
/// lets the command finish its bookkeeping and release the lock; a second one exits at once.
enum Interrupts {
    /// The signal sources, kept alive once installed.
    private static let sources = Mutex<[DispatchSourceSignal]>([])
    private static let signalled = Atomic<Int32>(0)
    /// The first signal received (0: none).
    static var received: Int32 { signalled.load(ordering: .acquiring) }

    static func install() {
        sources.withLock { sources in
            guard sources.isEmpty else { return }
            sources = makeSources()
        }
    }

    private static func makeSources() -> [DispatchSourceSignal] {
        var made: [DispatchSourceSignal] = []
        // A parent may have started us with these blocked (test runners, some supervisors);
        // a blocked SIGTERM would never reach the handler.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        sigaddset(&unblock, SIGTERM)
        sigprocmask(SIG_UNBLOCK, &unblock, nil)
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler {
                if signalled.exchange(sig, ordering: .acquiringAndReleasing) != 0 { exit(128 + sig) }
                HTTPClient.shared.cancellation.set()
            }
            src.resume()
            made.append(src)
        }
        return made
    }
}
