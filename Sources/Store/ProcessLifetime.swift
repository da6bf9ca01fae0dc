import Foundation

/// Values a one-shot command leaves to process exit instead of freeing.
///
/// Freeing a large store's observation and plan (50,000 images, 200,000 tags) walks every
/// object in it: a tenth of a 10× offline plan, for memory the kernel takes back at exit in
/// one step anyway. A one-shot command (`plan`, `apply`, the docker verbs) says so once, at
/// start; a long-running one (`converge` every interval) does not, and then `leave` keeps
/// nothing, so a loop's rounds free what they built.
public enum ProcessLifetime {
    private final class Kept: @unchecked Sendable {
        let lock = NSLock()
        /// nil: not a one-shot process, keep nothing.
        var values: [Any]?
    }
    private static let kept = Kept()

    /// Declares the process one-shot: from now on `leave` keeps what it is given until exit.
    public static func declareOneShot() {
        kept.lock.withLock { if kept.values == nil { kept.values = [] } }
    }

    /// Keeps `values` (copies share their storage) until exit in a one-shot process, so their
    /// last owner's release is a decrement and not a walk; otherwise does nothing.
    public static func leave(_ values: Any...) {
        kept.lock.withLock { if kept.values != nil { kept.values!.append(contentsOf: values) } }
    }

    /// Frees `values` on another thread once the caller drops its copies: a large temporary
    /// (a store's index and state, read to build an observation) is released on the second
    /// core while the first goes on planning. The memory goes back to the kernel too
    /// (`malloc_trim`): freed, it would stay in the allocator's free lists, counted in the
    /// process's resident size while the planner's large tables are mapped anew beside it.
    public static func free(_ values: Any...) {
        let box = UncheckedBox(values)
        DispatchQueue.global(qos: .utility).async {
            box.drop()
            #if os(Linux)
            _ = glibcMallocTrim(0)
            #endif
        }
    }

    private final class UncheckedBox: @unchecked Sendable {
        var values: [Any]?
        init(_ values: [Any]) { self.values = values }
        func drop() { values = nil }
    }
}

#if os(Linux)
/// glibc's `malloc_trim` (declared in `<malloc.h>`, which the Glibc module does not export).
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
