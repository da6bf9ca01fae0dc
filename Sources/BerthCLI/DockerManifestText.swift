import Foundation
import Render

/// `docker manifest inspect`'s text, measured against docker 28: an image manifest is the
/// registry's bytes indented with tabs (key order kept, `json.Indent`); an index or manifest
/// list is decoded into distribution's structs and re-encoded with three-space indentation, so
/// its fields come in the structs' order (unknown fields dropped).
enum DockerManifestText {
    static let topOrder = ["schemaVersion", "mediaType", "config", "layers", "manifests", "annotations"]
    static let descriptorOrder = ["mediaType", "size", "digest", "urls", "annotations", "platform"]
    static let platformOrder = ["architecture", "os", "os.version", "os.features", "variant", "features"]

    static func render(_ raw: Data, isIndex: Bool) throws -> String {
        guard isIndex else { return try GoJSONText.reindent(raw, indent: "\t") }
        let doc = try TemplateValue(json: String(decoding: raw, as: UTF8.self))
        return GoJSONText.marshalIndent(top(doc), indent: "   ", escapeHTML: true)
    }

    static func pick(_ v: TemplateValue, _ order: [String], _ transform: (String, TemplateValue) -> TemplateValue = { $1 }) -> TemplateValue {
        guard case .map(let pairs) = v else { return v }
        var out: [(String, TemplateValue)] = []
        for key in order {
            guard let value = pairs.first(where: { $0.0 == key })?.1 else { continue }
            out.append((key, transform(key, value)))
        }
        return .map(out)
    }

    static func top(_ v: TemplateValue) -> TemplateValue {
        pick(v, topOrder) { key, value in
            switch key {
            case "config": return descriptor(value)
            case "layers", "manifests":
                guard case .array(let items) = value else { return value }
                return .array(items.map(descriptor))
            default: return value
            }
        }
    }

    static func descriptor(_ v: TemplateValue) -> TemplateValue {
        pick(v, descriptorOrder) { key, value in key == "platform" ? pick(value, platformOrder) : value }
    }
}
