/// Plain-language text for a JSON document that failed to decode: what is wrong and at which
/// field, e.g. `missing field 'config'` or `field 'layers[0].size' should be a number, not a
/// string`. Never Foundation's `DecodingError` dump.
public enum DecodeProblem {
    public static func describe(_ error: any Error) -> String {
        guard let e = error as? DecodingError else {
            // berth's own value errors (a bad digest inside a descriptor) read well as they are.
            switch error {
            case let own as DigestError: return own.description
            case let own as ReferenceError: return own.description
            case let own as PlatformError: return own.description
            default: break
            }
            return "it cannot be read"
        }
        switch e {
        case .keyNotFound(let key, let context):
            return "missing field '\(path(context.codingPath + [key]))'"
        case .typeMismatch(let type, let context):
            let found = foundKind(context.debugDescription)
            return "\(subject(context.codingPath)) should be \(kind(type))\(found.map { ", not \($0)" } ?? "")"
        case .valueNotFound(let type, let context):
            return "\(subject(context.codingPath)) is null; it should be \(kind(type))"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "it is not valid JSON" }
            return "\(subject(context.codingPath)) has an invalid value"
        @unknown default:
            return "it cannot be read"
        }
    }

    /// `layers[0].digest`: keys joined by '.', array positions in brackets.
    public static func path(_ codingPath: [any CodingKey]) -> String {
        var out = ""
        for key in codingPath {
            if let i = key.intValue, key.stringValue == "Index \(i)" || key.stringValue == "\(i)" {
                out += "[\(i)]"
            } else {
                out += out.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return out
    }

    private static func subject(_ codingPath: [any CodingKey]) -> String {
        codingPath.isEmpty ? "the document" : "field '\(path(codingPath))'"
    }

    private static func kind(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type, is UInt64.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array<") || name.hasPrefix("[") { return "a list" }
            if name.hasPrefix("Dictionary<") { return "an object" }
            return "an object"
        }
    }

    /// What Foundation says it found instead ("… but found a string instead."), if it says.
    private static func foundKind(_ debugDescription: String) -> String? {
        for (word, text) in [("string", "a string"), ("number", "a number"), ("bool", "true or false"),
                             ("array", "a list"), ("dictionary", "an object"), ("null", "null")]
        where debugDescription.lowercased().contains("found \(word)") || debugDescription.lowercased().contains("found a \(word)") {
            return text
        }
        return nil
    }
}
