import ArgumentParser
import Foundation
import OCI
import Reconcile
import Registry
import Render
import Store

struct ManifestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "manifest", abstract: "Inspect manifests in registries.",
                                                    subcommands: [Inspect.self])

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Display an image manifest or manifest list, as the registry serves it.",
            discussion: """
            Prints the registry's document as docker manifest inspect does.
            --verbose adds the reference, descriptor and platform of each image, and its manifest.
            """)
        @OptionGroup var registryOptions: RegistryOptions
        @Flag(name: [.short, .long], help: "Output additional info including layers and platform.") var verbose = false
        @Argument(help: "NAME[:TAG|@DIGEST]") var reference: String

        func run() throws {
            let ref = try Reference(parsing: reference).withDefaultTag()
            let registry = try RegistryAccess.client(for: ref, insecure: registryOptions.insecure, caFile: registryOptions.caFile)
            let top = try registry.manifest(ref)
            guard verbose else {
                let isIndex: Bool = { if case .index = top.kind { return true }; return false }()
                Out.print(try DockerManifestText.render(top.data, isIndex: isIndex))
                return
            }
            func entry(_ named: String, _ desc: Descriptor, _ m: FetchedManifest) throws -> TemplateValue {
                var d: [(String, TemplateValue)] = [("mediaType", .string(desc.mediaType)), ("digest", .string(desc.digest.description)),
                                                    ("size", .int(desc.size))]
                if let p = desc.platform {
                    var pf: [(String, TemplateValue)] = [("architecture", .string(p.architecture)), ("os", .string(p.os))]
                    if let v = p.variant { pf.append(("variant", .string(v))) }
                    d.append(("platform", .map(pf)))
                }
                let key = m.mediaType == MediaType.dockerManifest ? "SchemaV2Manifest" : "OCIManifest"
                let manifest = try TemplateValue(json: String(decoding: m.data, as: UTF8.self))
                // docker's Raw is the manifest as it re-marshals it (sorted keys, compact), base64.
                let raw = Data(try GoJSONText.marshal(manifest, escapeHTML: false).utf8).base64EncodedString()
                return .map([("Ref", .string(named)), ("Descriptor", .map(d)), ("Raw", .string(raw)), (key, manifest)])
            }
            switch top.kind {
            case .image(let type):
                let desc = Descriptor(mediaType: type, digest: top.digest, size: Int64(top.data.count), platform: platformOf(top, ref: ref, registry: registry))
                Out.print(GoJSONText.marshalIndent(try entry(ref.description, desc, top), indent: "\t", escapeHTML: false))
            case .index:
                let index = try JSONDecoder().decode(ImageIndex.self, from: top.data)
                var out: [TemplateValue] = []
                for desc in index.manifests where MediaType.isImageManifest(desc.mediaType) {
                    let m = try registry.manifest(ref.withDigest(desc.digest))
                    // The tag stays in Ref, as docker prints it: NAME:TAG@sha256:… of the platform image.
                    out.append(try entry(ref.tag.map { "\(ref.name):\($0)@\(desc.digest)" } ?? "\(ref.name)@\(desc.digest)", desc, m))
                }
                Out.print(GoJSONText.marshalIndent(.array(out), indent: "\t", escapeHTML: false))
            }
        }

        /// The platform of a single image, from its config.
        func platformOf(_ m: FetchedManifest, ref: Reference, registry: RegistryClient) -> Platform? {
            guard let image = try? JSONDecoder().decode(ImageManifest.self, from: m.data) else { return nil }
            let sink = MemorySink()
            guard image.config.size < 1 << 20, (try? registry.fetchBlob(ref.repository, descriptor: image.config, into: sink)) != nil,
                  let config = try? JSONDecoder().decode(ImageConfig.self, from: sink.data) else { return nil }
            return Platform(os: config.os ?? "", architecture: config.architecture ?? "", variant: config.variant)
        }
    }
}
