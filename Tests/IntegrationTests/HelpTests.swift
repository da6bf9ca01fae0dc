import Foundation
import Testing

/// Every command answers `--help` (and `berth help CMD`) with its help on stdout and exit 0,
/// never with an error dump.
struct HelpTests {
    static let commands: [[String]] = [
        [], ["plan"], ["apply"], ["lock"], ["validate"], ["converge"], ["status"], ["rollback"], ["store"], ["store", "init"],
        ["store", "verify"], ["image"], ["image", "pull"], ["image", "ls"], ["image", "inspect"], ["image", "rm"],
        ["image", "tag"], ["image", "prune"], ["images"], ["rmi"], ["manifest", "inspect"], ["system", "df"],
    ]

    @Test(arguments: commands)
    func helpIsPrintedWithExitZero(_ command: [String]) throws {
        let r = try Berth.run(command + ["--help"])
        #expect(r.status == 0, "berth \(command.joined(separator: " ")) --help: \(r.stderrText)")
        #expect(r.stdoutText.contains("USAGE: berth"), "\(r.stdoutText.prefix(300))")
        #expect(!r.stdoutText.contains("CommandError") && !r.stderrText.contains("CommandError") && !r.stderrText.contains("Error:"))
    }

    @Test func helpSubcommandNamesTheCommand() throws {
        let r = try Berth.run(["help", "plan"])
        #expect(r.status == 0)
        #expect(r.stdoutText.contains("USAGE: berth plan"))
    }
}
