import Foundation
import OCI

// Readers of `state.json` through `JSONScanner` (see its contract: the value `JSONDecoder`
// with `LayoutStore.decoder`'s date rule would give, or a throw and then `JSONDecoder` decides).

extension JSONScanner {
    /// A date as `LayoutStore.encoder` writes it (RFC 3339).
    mutating func date() throws -> Date {
        let text = try string()
        guard let d = RFC3339.parse(text) else { throw error("bad date \(text)") }
        return d
    }
}

extension LayerFacts {
    public init(scanning s: inout JSONScanner) throws {
        self.init()
        var seen = SeenMembers()
        try s.object { s, key in
            switch key {
            case "diffID": try seen.first(0, s); diffID = try s.optional { try $0.digest() }
            case "uncompressedSize": try seen.first(1, s); uncompressedSize = try s.optional { try $0.int64() }
            case "fileBytes": try seen.first(2, s); fileBytes = try s.optional { try $0.int64() }
            default: try s.skip()
            }
        }
    }
}

extension ImageRecord {
    public init(scanning s: inout JSONScanner) throws {
        var configDigest: Digest?, pulledAt: Date?, source: String?, repoDigests: [String]?
        var created: String?, labels: [String: String]?, platform: Platform?, sourceManifest: Digest?
        var layers: [Descriptor]?, configSize: Int64?, rebuiltAt: Date?
        var seen = SeenMembers()
        try s.object { s, key in
            switch key {
            case "configDigest": try seen.first(0, s); configDigest = try s.digest()
            case "pulledAt": try seen.first(1, s); pulledAt = try s.date()
            case "source": try seen.first(2, s); source = try s.string()
            case "repoDigests": try seen.first(3, s); repoDigests = try s.strings()
            case "created": try seen.first(4, s); created = try s.optional { try $0.string() }
            case "labels": try seen.first(5, s); labels = try s.optional { try $0.stringMap() }
            case "platform": try seen.first(6, s); platform = try s.optional { try Platform(scanning: &$0) }
            case "sourceManifest": try seen.first(7, s); sourceManifest = try s.optional { try $0.digest() }
            case "layers": try seen.first(8, s); layers = try s.optional { try $0.elements { try Descriptor(scanning: &$0) } }
            case "configSize": try seen.first(9, s); configSize = try s.optional { try $0.int64() }
            case "rebuiltAt": try seen.first(10, s); rebuiltAt = try s.optional { try $0.date() }
            default: try s.skip()
            }
        }
        guard let configDigest, let pulledAt, let source, let repoDigests else {
            throw s.error("an image record without a required member")
        }
        self.init(configDigest: configDigest, pulledAt: pulledAt, source: source, repoDigests: repoDigests,
                  created: created, labels: labels, platform: platform)
        self.sourceManifest = sourceManifest
        self.layers = layers
        self.configSize = configSize
        self.rebuiltAt = rebuiltAt
    }
}

extension LedgerEntry {
    public init(scanning s: inout JSONScanner) throws {
        var image: Digest?, imageID: Digest?, reference: String?, movedTo: Digest?, at: Date?, cause: String?, run: String?
        var seen = SeenMembers()
        try s.object { s, key in
            switch key {
            case "image": try seen.first(0, s); image = try s.digest()
            case "imageID": try seen.first(1, s); imageID = try s.digest()
            case "reference": try seen.first(2, s); reference = try s.string()
            case "movedTo": try seen.first(3, s); movedTo = try s.optional { try $0.digest() }
            case "at": try seen.first(4, s); at = try s.date()
            case "cause": try seen.first(5, s); cause = try s.string()
            case "run": try seen.first(6, s); run = try s.optional { try $0.string() }
            default: try s.skip()
            }
        }
        guard let image, let imageID, let reference, let at, let cause else {
            throw s.error("a ledger entry without a required member")
        }
        self.init(image: image, imageID: imageID, reference: reference, movedTo: movedTo, at: at, cause: cause, run: run)
    }
}

extension StoreState {
    public init(scanning s: inout JSONScanner) throws {
        self.init()
        var seen = SeenMembers()
        try s.object { s, key in
            switch key {
            case "version": try seen.first(0, s); version = try s.optional { try $0.int() } ?? 1
            case "images": try seen.first(1, s); images = try s.optional { try $0.members { try ImageRecord(scanning: &$0) } } ?? [:]
            case "layers": try seen.first(2, s); layers = try s.optional { try $0.members { try LayerFacts(scanning: &$0) } } ?? [:]
            case "ledger": try seen.first(3, s); ledger = try s.optional { try $0.elements { try LedgerEntry(scanning: &$0) } } ?? []
            // Run records moved to runs.json; an older state's are rare and left to JSONDecoder.
            case "runs": try seen.first(4, s); runs = try LayoutStore.decoder.decode([RunRecord]?.self, from: try s.rawValue()) ?? []
            default: try s.skip()
            }
        }
    }

    /// Decodes `state.json`, through the scanner when it can, else `JSONDecoder` (same value, same errors).
    public static func decode(_ data: Data) throws -> StoreState {
        if let fast = try? JSONScanner.scan(data, { try StoreState(scanning: &$0) }) { return fast }
        return try LayoutStore.decoder.decode(StoreState.self, from: data)
    }
}
