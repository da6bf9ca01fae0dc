import ArgumentParser
import Foundation
import Render
import Store

struct SystemCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "system", abstract: "Store-wide information.", subcommands: [DiskUsage.self])

    /// docker system df. An OCI layout has no containers, volumes or build cache, so those rows
    /// are zero, as docker prints them for an engine without any; on a Docker Engine store berth
    /// reports the images only (use docker's own df for the rest).
    struct DiskUsage: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "df", abstract: "Show the store's disk usage (docker system df).",
            discussion: "Sizes follow docker: SIZE with 3 significant digits, SHARED and UNIQUE SIZE with 4. --format takes {{.Type}} {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}, 'table …' or 'json'.")
        @OptionGroup var storeOptions: StoreOptions
        @Flag(name: [.short, .long], help: "Show detailed information on space usage.") var verbose = false
        @Option(help: "Pretty-print the summary using a Go template (or 'table …', or 'json').") var format: String?

        func validate() throws {
            if verbose && format != nil { throw ValidationError("--format is not supported with --verbose") }
        }

        func run() throws {
            let store = try storeOptions.open(.read, verb: "system df")
            let usage = try store.diskUsage()
            let imagesOnly: Bool = { if case .layout = store.locator { return false }; return true }()
            if verbose { return Out.write(Self.verboseText(usage, imagesOnly: imagesOnly, now: Date())) }
            let source = format.map { $0 == "table" || $0.isEmpty ? Self.defaultFormat : $0 } ?? Self.defaultFormat
            let rendered: DockerFormat
            do { rendered = try DockerFormat(source) } catch let e as TemplateError { throw CLIError("template parsing error: \(e)") }
            Out.write(try rendered.render(Self.rows(usage, imagesOnly: imagesOnly), header: Self.header))
        }

        static let defaultFormat = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
        static let header = ["Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"]

        static func rows(_ usage: Store.DiskUsage, imagesOnly: Bool) -> [TemplateValue] {
            func row(_ type: String, _ count: Int, _ active: Int, _ size: Int64, _ reclaimable: String) -> TemplateValue {
                .object(["Type": .string(type), "TotalCount": .string("\(count)"), "Active": .string("\(active)"),
                         "Size": .string(DockerUnits.humanSizeFourDigits(Double(size))), "Reclaimable": .string(reclaimable)])
            }
            let pct = usage.total > 0 ? Int((Double(usage.reclaimable) / Double(usage.total) * 100).rounded()) : 0
            var out = [row("Images", usage.images.count, usage.active, usage.total,
                           "\(DockerUnits.humanSizeFourDigits(Double(usage.reclaimable))) (\(pct)%)")]
            if !imagesOnly {
                for type in ["Containers", "Local Volumes", "Build Cache"] { out.append(row(type, 0, 0, 0, "0B")) }
            }
            return out
        }

        static func verboseText(_ usage: Store.DiskUsage, imagesOnly: Bool, now: Date) -> String {
            var table = "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n"
            // Newest first, as docker lists them (ties in an unspecified order there; by ID here).
            let ordered = usage.images.sorted { a, b in
                let ca = a.image.created ?? .distantPast, cb = b.image.created ?? .distantPast
                return ca != cb ? ca > cb : a.image.id < b.image.id
            }
            for u in ordered {
                // docker shows one row per image, under its first tag.
                let first = u.image.tags.first
                let (repo, tag) = (first?.familiarName ?? "<none>", first?.tag ?? "<none>")
                let created = u.image.created.map { DockerUnits.createdSince($0, now: now) } ?? "N/A"
                table += "\(repo)\t\(tag)\t\(u.image.id.short)\t\(created)\t\(DockerUnits.humanSize(u.image.size))\t" +
                    "\(DockerUnits.humanSizeFourDigits(Double(u.shared)))\t\(DockerUnits.humanSizeFourDigits(Double(u.image.size - u.shared)))\t\(u.image.inUse ? 1 : 0)\n"
            }
            var out = "Images space usage:\n\n" + TabWriter.docker.format(table)
            guard !imagesOnly else { return out }
            out += "\nContainers space usage:\n\n" + TabWriter.docker.format("CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES\n")
            out += "\nLocal Volumes space usage:\n\n" + TabWriter.docker.format("VOLUME NAME\tLINKS\tSIZE\n")
            out += "\nBuild cache usage: 0B\n\n" + TabWriter.docker.format("CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED\n")
            return out
        }
    }
}
