import CFuzzerDriver
import Foundation
import RegistryChallenge

/// Any bytes as a `WWW-Authenticate` value: `AuthChallenge.parse` returns (it never traps or
/// loops), with lowercased schemes and parameter names.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzChallenge(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: count), as: UTF8.self)
    for c in AuthChallenge.parse(text) {
        precondition(!c.scheme.isEmpty && c.scheme == c.scheme.lowercased(), "scheme \(c.scheme.debugDescription)")
        for name in c.parameters.keys { precondition(name == name.lowercased(), "parameter \(name.debugDescription)") }
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzChallenge(data, size) })
