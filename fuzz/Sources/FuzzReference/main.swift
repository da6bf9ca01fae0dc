import CFuzzerDriver
import Foundation
import OCI

/// Any bytes: `Reference(parsing:)` throws or returns; a reference it returns prints to text
/// that parses back to the same reference: always the canonical form, and the familiar form
/// unless it is ambiguous exactly as in docker: a Hub path whose first component looks like a
/// host (`docker.io/a.b/c` → `a.b/c`, read back as host `a.b`), or `library/<64 hex>`, whose
/// familiar form reads as an image ID.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzReference(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: count), as: UTF8.self)
    guard let ref = try? Reference(parsing: text) else { return 0 }
    let firstComponent = ref.familiarName.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
    let hostLikeHubPath = ref.domain == Reference.dockerHubDomain && ref.familiarName.contains("/")
        && (firstComponent.contains(".") || firstComponent.contains(":") || firstComponent == "localhost"
            || firstComponent != firstComponent.lowercased())
    let imageIDLikeName = ref.familiarName.utf8.count == 64 && ref.familiarName.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    let familiarIsAmbiguous = hostLikeHubPath || imageIDLikeName
    for form in familiarIsAmbiguous ? [ref.description] : [ref.description, ref.familiarString] {
        guard let again = try? Reference(parsing: form) else {
            fatalError("\(ref) prints as \"\(form)\", which does not parse (input \(text.debugDescription))")
        }
        guard again == ref else {
            fatalError("\"\(form)\" parses to \(again), not \(ref) (input \(text.debugDescription))")
        }
    }
    _ = ref.withDefaultTag().registryReference
    _ = ref.registryHost
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzReference(data, size) })
