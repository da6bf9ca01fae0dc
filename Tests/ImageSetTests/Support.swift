import Foundation
import Testing
@testable import ImageSet

/// The rendered diagnostics for `text`, or [] when it loads.
func diagnostics(_ text: String, file: String = "images.yaml") -> [String] {
    do {
        _ = try ImageSet.parse(text, file: file)
        return []
    } catch let error as ImageSetError {
        return error.diagnostics.map(\.description)
    } catch {
        return ["unexpected error type: \(error)"]
    }
}

/// Loads `text`, recording an issue (with the diagnostics) when it does not.
func load(_ text: String, file: String = "images.yaml", sourceLocation: Testing.SourceLocation = #_sourceLocation) -> ImageSet? {
    do {
        return try ImageSet.parse(text, file: file)
    } catch {
        Issue.record("expected the manifest to load, got:\n\(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The repository root: the nearest ancestor of this file holding `schema/images.schema.json`.
func repositoryRoot() throws -> URL {
    for start in [URL(fileURLWithPath: #filePath), URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()] {
        var dir = start.deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("schema/images.schema.json").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
    }
    throw TestFailure("cannot find schema/images.schema.json above \(#filePath)")
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A temporary directory removed at deinit.
final class TemporaryDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("imageset-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func write(_ name: String, _ data: Data) throws -> String {
        let path = url.appendingPathComponent(name).path
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Validates YAML files against the JSON Schema with python3's jsonschema and PyYAML (the
/// reference implementations editors use). Returns the schema errors per file.
/// Fails (does not skip) when python3 or its modules are missing.
func schemaErrors(schema: String, files: [String]) throws -> [String: [String]] {
    let script = #"""
    import sys, json
    try:
        import yaml, jsonschema
    except ImportError as e:
        print("missing python module: %s; pip install jsonschema pyyaml" % e, file=sys.stderr)
        sys.exit(3)
    schema = json.load(open(sys.argv[1]))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    result = {}
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as f:
            document = yaml.safe_load(f)
        result[path] = sorted("%s: %s" % ("/".join(map(str, e.absolute_path)), e.message) for e in validator.iter_errors(document))
    print(json.dumps(result))
    """#
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, schema] + files
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    do { try process.run() } catch {
        throw TestFailure("cannot run python3 (\(error)); install python3, then pip install jsonschema pyyaml")
    }
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        if process.terminationStatus == 127 { throw TestFailure("python3 not found; install it, then pip install jsonschema pyyaml") }
        throw TestFailure("schema validation did not run (status \(process.terminationStatus)): \(errors)"
                          + (errors.contains("pip install") ? "" : "\n(needs: pip install jsonschema pyyaml)"))
    }
    return try JSONDecoder().decode([String: [String]].self, from: output)
}
