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
