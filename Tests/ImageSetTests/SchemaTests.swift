import Foundation
import Testing
@testable import ImageSet

/// The JSON Schema and berth's loader must agree on the examples, and both refuse these documents.
struct SchemaTests {
    static let invalidDocuments: [(name: String, yaml: String)] = [
        ("unknown key", "version: 1\nimages:\n  - name: alpine\n    tagz: [latest]\n"),
        ("unknown top-level key", "version: 1\nimages: []\nimage: []\n"),
        ("unsupported version", "version: 2\nimages: []\n"),
        ("missing images", "version: 1\n"),
        ("missing version", "images: []\n"),
        ("unknown policy value", "version: 1\nimages: []\npolicy:\n  unlisted: delete\n"),
        ("negative keep_previous", "version: 1\nimages: []\npolicy:\n  keep_previous: -1\n"),
        ("bad protect rule", "version: 1\nimages: []\npolicy:\n  protect: [keep]\n"),
        ("bad digest", "version: 1\nimages:\n  - name: a\n    digest: sha256:abc\n"),
        ("pin with several tags", "version: 1\nimages:\n  - name: a\n    tags: [x, y]\n    digest: sha256:\(String(repeating: "a", count: 64))\n"),
        ("tag in name plus tags", "version: 1\nimages:\n  - name: a:1\n    tags: [\"2\"]\n"),
        ("digest in name plus digest", "version: 1\nimages:\n  - name: a@sha256:\(String(repeating: "a", count: 64))\n    digest: sha256:\(String(repeating: "a", count: 64))\n"),
        ("invalid tag", "version: 1\nimages:\n  - name: a\n    tags: [\"-x\"]\n"),
        ("empty tags", "version: 1\nimages:\n  - name: a\n    tags: []\n"),
        ("uppercase repository", "version: 1\nimages: [Alpine]\n"),
        ("bad platform", "version: 1\nimages: []\nplatform: linux\n"),
        ("registry with scheme", "version: 1\nimages: []\nregistries:\n  https://r.io: {}\n"),
        ("unknown registry key", "version: 1\nimages: []\nregistries:\n  r.io:\n    insecur: true\n"),
        ("insecure not a boolean", "version: 1\nimages: []\nregistries:\n  r.io:\n    insecure: \"true\"\n"),
        ("entry without name", "version: 1\nimages:\n  - tags: [a]\n"),
        ("unquoted numeric tag", "version: 1\nimages:\n  - name: redis\n    tags: [7.2]\n"),
        ("select without a filter", "version: 1\nimages:\n  - name: a\n    select: {prerelease: true}\n"),
        ("select newest 0", "version: 1\nimages:\n  - name: a\n    select: {newest: 0}\n"),
        ("select unknown key", "version: 1\nimages:\n  - name: a\n    select: {newst: 1}\n"),
        ("select with a pin", "version: 1\nimages:\n  - name: a\n    digest: sha256:\(String(repeating: "a", count: 64))\n    select: {newest: 1}\n"),
        ("max_bytes with an unknown unit", "version: 1\nimages: []\npolicy:\n  max_bytes: 20gigs\n"),
        ("negative max_bytes", "version: 1\nimages: []\npolicy:\n  max_bytes: -1\n"),
    ]

    @Test func everyExampleLoadsAndMatchesTheSchema() throws {
        let root = try repositoryRoot()
        let examples = root.appendingPathComponent("examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: examples.path)
            .filter { $0.hasSuffix(".yaml") }.sorted().map { examples.appendingPathComponent($0).path }
        #expect(files.count >= 2, "examples/*.yaml: \(files)")
        for file in files {
            do { _ = try ImageSet.load(path: file) } catch { Issue.record("\(file) does not load:\n\(error)") }
        }
        let errors = try schemaErrors(schema: root.appendingPathComponent("schema/images.schema.json").path, files: files)
        for file in files { #expect(errors[file] == [], "\(file) fails the schema: \(errors[file] ?? ["not validated"])") }
    }

    @Test func invalidDocumentsAreRefusedByBoth() throws {
        let root = try repositoryRoot()
        let dir = try TemporaryDirectory()
        var paths: [String] = []
        for (index, document) in Self.invalidDocuments.enumerated() {
            paths.append(try dir.write("invalid-\(index).yaml", Data(document.yaml.utf8)))
        }
        let errors = try schemaErrors(schema: root.appendingPathComponent("schema/images.schema.json").path, files: paths)
        for (path, document) in zip(paths, Self.invalidDocuments) {
            #expect(errors[path]?.isEmpty == false, "the schema accepts '\(document.name)'")
            #expect(throws: ImageSetError.self, "the loader accepts '\(document.name)'") { try ImageSet.load(path: path) }
        }
    }

    @Test func schemaIsValidJSONWithTheDraftDeclared() throws {
        let root = try repositoryRoot()
        let data = try Data(contentsOf: root.appendingPathComponent("schema/images.schema.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
        // The schema lists exactly the keys the loader knows.
        let properties = try #require(object["properties"] as? [String: Any])
        #expect(Set(properties.keys) == Set(ManifestReader.topLevelKeys))
        let defs = try #require(object["$defs"] as? [String: Any])
        func keys(_ def: String) -> Set<String> {
            Set(((defs[def] as? [String: Any])?["properties"] as? [String: Any])?.keys.map { $0 } ?? [])
        }
        #expect(keys("imageEntryMapping") == Set(ManifestReader.entryKeys))
        #expect(keys("registrySettings") == Set(ManifestReader.registryKeys))
        #expect(keys("policy") == Set(ManifestReader.policyKeys))
    }
}
