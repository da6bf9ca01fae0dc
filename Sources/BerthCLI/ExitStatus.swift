import ArgumentParser
import Foundation
import OCI
import Reconcile
import Registry
import Store

/// berth's exit codes: 0 done/converged, 1 error, 2 changes (with --detailed-exitcode),
/// 64 usage (a verb a store cannot serve, a bad locator), 75 store lock held (EX_TEMPFAIL).
enum ExitStatus {
    static let lockHeld: Int32 = 75
    static let usage: Int32 = 64

    static func run(_ command: BerthCommand.Type) {
        var parsed: ParsableCommand
        do { parsed = try command.parseAsRoot() } catch { command.exit(withError: error) }
        // Every command but the converge loop ends with the process: what it builds is left to exit.
        if !(parsed is Converge) { ProcessLifetime.declareOneShot() }
        do {
            try parsed.run()
        } catch let f as Failure {
            exit(f.status)
        } catch let e as StoreError {
            Out.error("Error: \(e)")
            switch e {
            case .locked: exit(lockHeld)
            case .usage, .unsupported: exit(usage)
            default: exit(1)
            }
        } catch let e as ValidationError {
            command.exit(withError: e)
        } catch let e as ExitCode {
            command.exit(withError: e)
        } catch let e as CleanExit {
            command.exit(withError: e)
        } catch where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            // `--help` parses to ArgumentParser's own help command, whose run() throws its
            // (internal) CommandError: ArgumentParser prints the help and picks the exit code.
            command.exit(withError: error)
        } catch {
            Out.error("Error: \(ErrorText.describe(error))")
            exit(1)
        }
    }
}

/// An error already reported to the user: exit with this status, print nothing more.
struct Failure: Error {
    let status: Int32
}

/// A plain-language error from the command layer (exit 1).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
