import Foundation
import OCI

public enum StoreError: Error, Equatable, CustomStringConvertible {
    case io(path: String, errno: Int32)
    case locked(path: String, holderPID: Int?)
    case corrupt(path: String, reason: String)
    case noSuchImage(String)
    case ambiguous(String, candidates: [String])
    case conflict(String)
    case missingBlob(Digest)
    case notAStore(path: String, reason: String)
    /// A read found no store at the path (reads never create one).
    case noStore(path: String)
    /// The verb cannot work on this kind of store (exit 64).
    case unsupported(verb: String, store: String, reason: String)
    /// A locator or flag combination that cannot be used (exit 64).
    case usage(String)

    public var description: String {
        switch self {
        case .io(let path, let e): return "\(path): \(String(cString: strerror(e)))"
        case .locked(let path, let pid):
            let who = pid.map { "process \($0)" } ?? "another process"
            return "the store is locked by \(who) (\(path)); another berth is writing to it. Try again later, or pass --lock-timeout to wait"
        case .corrupt(let path, let reason): return "store file \(path) is damaged: \(reason). Run 'berth store verify --repair'"
        case .noSuchImage(let s): return "No such image: \(s)"
        case .ambiguous(let s, let candidates): return "\(s) is ambiguous: it matches \(candidates.joined(separator: ", "))"
        case .conflict(let s): return s
        case .missingBlob(let d): return "blob \(d) is missing from the store"
        case .notAStore(let path, let reason): return "\(path) is not a berth store: \(reason)"
        case .noStore(let path):
            return "no berth store at \(path) (nothing was created; 'berth store init', 'berth apply' or 'berth image pull' makes one there, or name another with --store)"
        case .unsupported(let verb, let store, let reason): return "'berth \(verb)' does not work on the \(store) store: \(reason)"
        case .usage(let s): return s
        }
    }
}
