import CFuzzerDriver
import Foundation
import ImageSet

/// Any bytes as manifest text: `ImageSet.parse` returns a set or throws diagnostics; it never
/// traps, hangs or exhausts memory (aliases, deep nesting, odd scalars).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzImageSet(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: count), as: UTF8.self)
    do {
        let set = try ImageSet.parse(text, file: "fuzz.yaml")
        _ = set.desiredTags()
    } catch let e as ImageSetError {
        for d in e.diagnostics { _ = d.description }
    } catch {
        fatalError("ImageSet.parse threw \(type(of: error)), not ImageSetError: \(error)")
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzImageSet(data, size) })
