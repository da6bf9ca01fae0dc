import ArgumentParser
import Foundation
import OCI
import Store

extension Image {
    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Remove one or more images.",
            discussion: """
            IMAGE is a name[:tag], name@digest, or a full or short image ID. Docker's rules apply:
            removing a name untags; the image is deleted with its last reference. An ID tagged
            several times needs -f. Blobs no other image uses are deleted too.
            """, aliases: ["rmi", "remove"])
        @OptionGroup var storeOptions: StoreOptions
        @Flag(name: [.short, .long], help: "Force removal of an image referenced by several names.") var force = false
        @Argument(help: "Images to remove.") var images: [String]

        func validate() throws { if images.isEmpty { throw ValidationError("\"rm\" requires at least 1 argument.") } }

        func run() throws { try Remove.execute(images: images, force: force, storeOptions: storeOptions) }

        static func execute(images: [String], force: Bool, storeOptions: StoreOptions) throws {
            let store = try storeOptions.open(.read, verb: "image rm")
            let lock = try store.lock(timeout: storeOptions.effectiveLockTimeout)
            defer { lock.release() }
            var failed = false
            for name in images {
                do {
                    for r in try store.remove(name, force: force) { Out.print(DeleteText.line(r, capitalized: true)) }
                } catch let e as StoreError {
                    if case .locked = e { throw e }
                    failed = true
                    Out.error("Error: \(e)")
                } catch let e as DockerEngineError {
                    failed = true
                    Out.error("Error: \(e)")
                }
            }
            _ = try store.collectGarbage()
            if failed { throw Failure(status: 1) }
        }
    }

    struct Tag: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a tag TARGET that refers to SOURCE.",
            discussion: """
            If TARGET named another image, that image loses the tag; with no tag left it becomes
            dangling, and berth's ledger records the tag it lost and when.
            """)
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "SOURCE_IMAGE[:TAG]") var source: String
        @Argument(help: "TARGET_IMAGE[:TAG]") var target: String

        func run() throws {
            let ref = try Reference(parsing: target)
            let store = try storeOptions.open(.write, verb: "image tag")
            let lock = try store.lock(timeout: storeOptions.effectiveLockTimeout)
            defer { lock.release() }
            try store.tag(source, as: ref, cause: "tag", run: nil)
        }
    }
}

enum DeleteText {
    /// `Untagged: x` / `Deleted: sha256:…` (rm) or lowercase (prune), as docker prints them.
    static func line(_ r: DeleteRecord, capitalized: Bool) -> String {
        switch r {
        case .untagged(let s): return (capitalized ? "Untagged: " : "untagged: ") + s
        case .deleted(let d): return (capitalized ? "Deleted: " : "deleted: ") + d.description
        }
    }
}
