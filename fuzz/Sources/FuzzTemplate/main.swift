import CFuzzerDriver
import Foundation
import Render

/// Any bytes as a Go template: `GoTemplate(_:)` parses or throws a `TemplateError` locating
/// the fault; it never traps.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzTemplate(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: count), as: UTF8.self)
    do {
        _ = try GoTemplate(text)
    } catch let e as TemplateError {
        _ = e.description
    } catch {
        fatalError("GoTemplate threw \(type(of: error)), not TemplateError: \(error)")
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzTemplate(data, size) })
