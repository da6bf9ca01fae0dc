import ArgumentParser
import Foundation
import Store

/// berth's exit codes: 0 done/converged, 1 error, 2 changes (with --detailed-exitcode),
/// 64 usage, 75 store lock held (EX_TEMPFAIL).
enum ExitStatus {
    static let lockHeld: Int32 = 75

    static func run(_ command: BerthCommand.Type) {
        do {
            var cmd = try command.parseAsRoot()
            try cmd.run()
        } catch let f as Failure {
            exit(f.status)
        } catch let e as StoreError {
            Out.error("Error: \(e)")
            if case .locked = e { exit(lockHeld) }
            exit(1)
        } catch {
            command.exit(withError: error)
        }
    }
}

/// An error already reported to the user: exit with this status, print nothing more.
struct Failure: Error {
    let status: Int32
}
