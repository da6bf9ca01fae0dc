import ArgumentParser
import Foundation
import OCI
import Store

extension Image {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List images.", aliases: ["list"])
        struct Flags: ParsableArguments {
            @OptionGroup var storeOptions: StoreOptions
            @Flag(name: [.short, .long], help: "Only show image IDs.") var quiet = false
        }
        @OptionGroup var flags: Flags
        func run() throws { try List.execute(flags) }

        static func execute(_ flags: Flags) throws {
            let store = try LayoutStore(path: flags.storeOptions.path)
            for image in try store.images() {
                if flags.quiet { Out.print(image.id.short); continue }
                let tags = image.tags.isEmpty ? ["<none>:<none>"] : image.tags.map { "\($0.familiarName):\($0.tag ?? "<none>")" }
                for t in tags { Out.print("\(t)\t\(image.id.short)\t\(image.size)") }
            }
        }
    }
}
