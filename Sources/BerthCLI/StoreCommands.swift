import ArgumentParser
import Foundation
import Store

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store", abstract: "Create, check and repair an OCI layout store.",
                                                    subcommands: [Init.self, Verify.self])

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an empty store (reads never create one; apply, image pull and this do).",
            discussion: "An existing store is left as it is. Example: berth store init --store /var/lib/berth && berth plan -f images.yaml --store /var/lib/berth")
        @OptionGroup var storeOptions: StoreOptions
        func run() throws {
            let store = try storeOptions.open(.write, verb: "store init")
            Out.print("Store ready at \(store.storeName).")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every blob's digest and size, that every image resolves, and report leftovers (fsck).",
            discussion: "Exit 0 when the store is valid (leftovers are reported but harmless), 1 when damaged.")
        @OptionGroup var storeOptions: StoreOptions
        @Flag(help: "Remove what is safe to remove: corrupt blobs, damaged images (pull them again), leftovers.") var repair = false

        func run() throws {
            let store = try storeOptions.open(.read, verb: "store verify")
            // Verification reads without the lock when not repairing; the check of a store
            // being written may report files that are mid-commit as unreferenced.
            let lock = repair ? try store.lock(timeout: storeOptions.effectiveLockTimeout) : nil
            defer { lock?.release() }
            let report = try store.verify(repair: repair)
            for p in report.problems { Out.print((p.isDamage ? "damage: " : "note: ") + p.description) }
            for r in report.repaired { Out.print("repaired: " + r) }
            Out.print("\(report.images) images, \(report.blobsChecked) blobs, \(report.bytesChecked) bytes checked: " +
                      (report.ok ? "store is valid" : "store is DAMAGED" + (repair ? " (repaired; run verify again)" : "; run with --repair")))
            if !report.ok && !repair { throw Failure(status: 1) }
        }
    }
}
