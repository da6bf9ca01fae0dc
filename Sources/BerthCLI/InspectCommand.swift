import ArgumentParser
import Foundation
import OCI
import Render
import Store

extension Image {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Display detailed information on one or more images.",
            discussion: """
            A JSON array shaped like docker image inspect, plus a "Berth" section: where the image
            came from, when it was pulled, and the tags it used to carry (the ledger).
            """)
        @OptionGroup var storeOptions: StoreOptions
        @Option(name: [.short, .long], help: "Format the output using a Go template.") var format: String?
        @Argument(help: "Images (name[:tag], name@digest, or ID).") var images: [String]

        func validate() throws { if images.isEmpty { throw ValidationError("\"inspect\" requires at least 1 argument.") } }

        func run() throws {
            let store = try storeOptions.open(.read, verb: "image inspect")
            let observed = try store.observe()
            let histories = observed.histories()
            var docs: [TemplateValue] = []
            var missing: [String] = []
            for name in images {
                do {
                    let img = try findImage(name, in: observed.images)
                    docs.append(DockerInspect.document(img, details: try store.details(of: img), history: histories[img.digest] ?? [],
                                                       forTemplate: format != nil))
                } catch let e as StoreError {
                    if case .noSuchImage = e { missing.append(name) } else { throw e }
                }
            }
            if let format {
                let t: DockerFormat
                do { t = try DockerFormat(format) } catch let e as TemplateError { throw ViewError("template parsing error: \(e)") }
                for d in docs { Out.print(try t.inspect(d)) }
            } else {
                Out.print(GoJSONText.marshalIndent(.array(docs)))
            }
            for m in missing { Out.error("Error: No such image: \(m)") }
            if !missing.isEmpty { throw Failure(status: 1) }
        }
    }
}

/// docker image inspect's document for a stored image.
enum DockerInspect {
    /// `forTemplate`: fields docker's JSON omits when empty (`omitempty`) are still there for a
    /// template, empty, as on docker's Go struct (`{{.Variant}}` prints "", not `<no value>`).
    static func document(_ img: ObservedImage, details: ImageDetails, history: [LedgerEntry], forTemplate: Bool = false) -> TemplateValue {
        let config = details.config
        let c = config.config ?? ImageConfig.ContainerConfig()
        func strings(_ a: [String]?) -> TemplateValue { a.map { .array($0.map(TemplateValue.string)) } ?? .null }
        func set(_ m: [String: EmptyObject]?) -> TemplateValue { m.map { .object($0.mapValues { _ in .map([]) }) } ?? .null }
        var configFields: [(String, TemplateValue)] = [
            ("Hostname", ""), ("Domainname", ""), ("User", .string(c.User ?? "")),
            ("AttachStdin", false), ("AttachStdout", false), ("AttachStderr", false),
        ]
        if let ports = c.ExposedPorts { configFields.append(("ExposedPorts", set(ports))) }
        configFields += [
            ("Tty", false), ("OpenStdin", false), ("StdinOnce", false),
            ("Env", strings(c.Env)), ("Cmd", strings(c.Cmd)), ("Image", ""), ("Volumes", set(c.Volumes)),
            ("WorkingDir", .string(c.WorkingDir ?? "")), ("Entrypoint", strings(c.Entrypoint)), ("OnBuild", .null),
            ("Labels", c.Labels.map { .object($0.mapValues(TemplateValue.string)) } ?? .null),
        ]
        if let s = c.StopSignal { configFields.append(("StopSignal", .string(s))) }
        var berth: [(String, TemplateValue)] = [
            ("Source", .string(details.source ?? "")),
            ("PulledAt", .string(details.pulledAt.map { RFC3339.format($0) } ?? "")),
            ("Manifest", .string(img.digest.description)),
        ]
        if let s = details.sourceManifest { berth.append(("SourceManifest", .string(s.description))) }
        berth.append(("PreviousTags", .array(history.map { e in
            .map([("Reference", .string((try? Reference(parsing: e.reference))?.familiarString ?? e.reference)),
                  ("Until", .string(RFC3339.format(e.at))),
                  ("MovedTo", e.movedTo.map { .string($0.description) } ?? .null),
                  ("Cause", .string(e.cause))])
        })))
        if img.tags.isEmpty, let last = history.first { berth.append(("DanglingSince", .string(RFC3339.format(last.at)))) }
        var fields: [(String, TemplateValue)] = [
            ("Id", .string(img.id.description)),
            ("RepoTags", .array(img.tags.map { .string($0.familiarString) })),
            ("RepoDigests", .array(img.repoDigests.compactMap { (try? Reference(parsing: $0))?.familiarString }.map(TemplateValue.string))),
            ("Parent", ""), ("Comment", ""),
            ("Created", .string(goRFC3339Nano(config.created ?? "0001-01-01T00:00:00Z"))),
            ("DockerVersion", ""), ("Author", .string(config.author ?? "")),
            ("Config", .map(configFields)),
            ("Architecture", .string(config.architecture ?? "")),
        ]
        if let v = config.variant { fields.append(("Variant", .string(v))) } else if forTemplate { fields.append(("Variant", "")) }
        fields += [
            ("Os", .string(config.os ?? "")),
            ("Size", .int(img.size)), ("VirtualSize", .int(img.size)),
            ("RootFS", .map([("Type", .string(config.rootfs?.type ?? "layers")),
                             ("Layers", .array((config.rootfs?.diff_ids ?? []).map { .string($0.description) }))])),
            ("Berth", .map(berth)),
        ]
        return .map(fields)
    }

    /// Go's RFC3339Nano re-rendering of a timestamp: trailing zeros of the fraction dropped.
    static func goRFC3339Nano(_ s: String) -> String {
        guard let dot = s.firstIndex(of: "."), let zone = s[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) else { return s }
        var frac = String(s[s.index(after: dot)..<zone])
        while frac.hasSuffix("0") { frac.removeLast() }
        return String(s[..<dot]) + (frac.isEmpty ? "" : "." + frac) + String(s[zone...])
    }
}
