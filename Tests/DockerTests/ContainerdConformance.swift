import Foundation
import Store
import Synchronization
import TestSupport

/// The private containerd the conformance suites run against (the `.containerd` store kind),
/// started on first use beside the shared dockerd and stopped at exit.
enum ContainerdForConformance {
    private static let daemon = Mutex<Result<ContainerdDaemon, any Error>?>(nil)

    static func shared() throws -> ContainerdDaemon {
        try daemon.withLock { d in
            if d == nil {
                d = Result { try ContainerdDaemon(name: "containerd-conformance") }
                if case .success = d! { atexit { ContainerdForConformance.stopShared() } }
            }
            return try d!.get()
        }
    }

    private static func stopShared() {
        daemon.withLock { d in if case .success(let c)? = d { c.stop() } }
    }

    /// An empty containerd store with berth's state under `stateRoot`.
    static func freshStore(stateRoot: URL) throws -> ContainerdStore {
        let d = try shared()
        try d.reset()
        return try ContainerdStore(address: d.socketPath, namespace: ContainerdDaemon.namespace, snapshotter: d.snapshotter, stateRoot: stateRoot)
    }

    /// `--store` and `--snapshotter` for a berth run against it (emptied first).
    static func freshStoreArguments() throws -> [String] {
        let d = try shared()
        try d.reset()
        return ["--store", d.locator, "--snapshotter", d.snapshotter]
    }
}
