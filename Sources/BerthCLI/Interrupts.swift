import Dispatch
import Foundation
import Transport
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT/SIGTERM handling for writers: the first signal cancels in-flight transfers (the
/// blob being downloaded is abandoned in the ingest area, nothing partial is committed) and
/// lets the command finish its bookkeeping and release the lock; a second one exits at once.
enum Interrupts {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
    nonisolated(unsafe) private(set) static var received: Int32 = 0

    static func install() {
        guard sources.isEmpty else { return }
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
                if received != 0 { exit(128 + sig) }
                received = sig
                HTTPClient.shared.cancellation.set()
            }
            src.resume()
            sources.append(src)
        }
    }
}
