import ArgumentParser
import Foundation
import OCI
import Render
import Store

extension Image {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List images.",
            discussion: """
            Columns, filters and --format follow docker image ls. Extra template fields:
            {{.PreviousTags}} (tags an image lost, newest first) and {{.DanglingSince}}.

            Examples:
              berth image ls --filter dangling=true
              berth image ls --filter reference='*/team/*' --format '{{.Repository}}:{{.Tag}} {{.Size}}'
              berth image ls --filter dangling=true --format 'table {{.ID}}\\t{{.PreviousTags}}\\t{{.DanglingSince}}'
            """, aliases: ["list"])

        struct Flags: ParsableArguments {
            @OptionGroup var storeOptions: StoreOptions
            @Flag(name: [.short, .long], help: "Show all images (berth keeps no intermediate images; same as the default).") var all = false
            @Flag(name: [.short, .long], help: "Only show image IDs.") var quiet = false
            @Flag(help: "Show digests.") var digests = false
            @Flag(name: .customLong("no-trunc"), help: "Don't truncate output.") var noTrunc = false
            @Option(name: [.short, .long], help: "Filter output based on conditions provided (dangling, label, before, since, reference).")
            var filter: [String] = []
            @Option(help: "Pretty-print images using a Go template (or 'table …', or 'json').") var format: String?
            @Argument(help: ArgumentHelp("Only images of this repository (a reference filter: NAME[:TAG], patterns allowed).", valueName: "REPOSITORY[:TAG]"))
            var repository: String?
        }
        @OptionGroup var flags: Flags
        func run() throws { try List.execute(flags) }

        static func execute(_ flags: Flags) throws {
            // docker: the positional argument is one more `reference` filter.
            let filters = try FilterArgs(parsing: flags.filter + (flags.repository.map { ["reference=\($0)"] } ?? []))
            let store = try flags.storeOptions.open(.read, verb: "image ls")
            let listed = try DockerImageView.list(try store.observe(), filters: filters)
            var source: String
            if flags.quiet { source = "{{.ID}}" }
            else if let f = flags.format, !f.isEmpty { source = f == "table" ? defaultFormat(flags) : f }
            else { source = defaultFormat(flags) }
            let format: DockerFormat
            do { format = try DockerFormat(source) } catch let e as TemplateError {
                throw ViewError("template parsing error: \(e)")
            }
            let now = Date()
            let rows = DockerImageView.rows(listed, tagDigests: flags.digests || source.contains(".Digest"), digestRows: flags.digests)
            let values = rows.map { DockerImageView.value($0, truncate: !flags.noTrunc, now: now) }
            Out.write(try format.render(values, header: DockerImageView.header))
        }

        static func defaultFormat(_ flags: Flags) -> String {
            flags.digests ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
                : "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
        }
    }
}
