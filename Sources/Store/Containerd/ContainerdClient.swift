import Foundation
import Synchronization
import ContainerdAPI
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import SwiftProtobuf

/// The result of async work, handed to the blocking thread that waits for it.
private final class Outcome<T: Sendable>: Sendable {
    let value = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
}

/// Runs `body` on the concurrency runtime and blocks this (real, non-cooperative) thread until
/// it ends. berth's stores are synchronous on their own threads; containerd's client is async.
func blockingAwait<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let outcome = Outcome<T>()
    // Not on the cooperative pool: a caller that blocks one of its (few) threads here, as an
    // async test or any Swift concurrency caller may, would otherwise starve the very task it
    // waits for.
    Task(executorPreference: GRPCQueueExecutor.shared) {
        let r: Result<T, any Error>
        do { r = .success(try await body()) } catch { r = .failure(error) }
        outcome.value.withLock { $0 = r }
        outcome.done.signal()
    }
    outcome.done.wait()
    return try outcome.value.withLock { $0! }.get()
}

/// Runs the gRPC client's tasks on GCD worker threads of their own rather than on the
/// cooperative pool, which blocking callers of `blockingAwait` may be occupying.
final class GRPCQueueExecutor: TaskExecutor {
    static let shared = GRPCQueueExecutor()
    private let queue = DispatchQueue(label: "berth.containerd.grpc", attributes: .concurrent)
    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        queue.async { unowned.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Errors from containerd's API, in words for people.
public enum ContainerdError: Error, CustomStringConvertible {
    case noDaemon(address: String, reason: String)
    case rpc(what: String, code: String, message: String)
    case badContent(what: String, reason: String)

    public var description: String {
        switch self {
        case .noDaemon(let a, let why): return "cannot reach containerd at \(a): \(why) (set CONTAINERD_ADDRESS or --store containerd:/path/containerd.sock)"
        case .rpc(let what, let code, let message): return "containerd: \(what): \(message) (\(code))"
        case .badContent(let what, let why): return "containerd: \(what): \(why)"
        }
    }
}

/// containerd's gRPC API over its unix socket, for blocking callers: one long-lived
/// `GRPCClient` whose connections run in a task of their own; every call names the namespace
/// in the `containerd-namespace` header (and a lease in `containerd-lease` when given).
final class ContainerdClient: Sendable {
    typealias Transport = HTTP2ClientTransport.Posix
    let address: String
    let namespace: String
    let grpc: GRPCClient<Transport>
    private let connections: Task<Void, Never>

    init(address: String, namespace: String) throws {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: address) else {
            throw ContainerdError.noDaemon(address: address, reason: "no such socket")
        }
        guard attributes[.type] as? FileAttributeType == .typeSocket else { throw ContainerdError.noDaemon(address: address, reason: "not a socket") }
        self.address = address
        self.namespace = namespace
        let transport = try Transport(target: .unixDomainSocket(path: address, authority: "localhost"), transportSecurity: .plaintext)
        let client = GRPCClient(transport: transport)
        grpc = client
        connections = Task(executorPreference: GRPCQueueExecutor.shared) { try? await client.runConnections() }
    }

    deinit {
        grpc.beginGracefulShutdown()
    }

    func metadata(lease: String? = nil) -> Metadata {
        var m = Metadata()
        m.addString(namespace, forKey: "containerd-namespace")
        if let lease { m.addString(lease, forKey: "containerd-lease") }
        return m
    }

    static let options: CallOptions = {
        var o = CallOptions.defaults
        o.timeout = .seconds(300)
        return o
    }()

    /// Runs one call; a gRPC error becomes `ContainerdError.rpc` naming `what`.
    func call<T: Sendable>(_ what: String, _ body: @escaping @Sendable (GRPCClient<Transport>) async throws -> T) throws -> T {
        let client = grpc
        do { return try blockingAwait { try await body(client) } } catch let e as RPCError {
            if e.code == .unavailable, e.message.contains("connect") || e.message.contains("No such file") {
                throw ContainerdError.noDaemon(address: address, reason: e.message)
            }
            throw ContainerdError.rpc(what: what, code: "\(e.code)", message: e.message)
        }
    }

    /// Like `call`, with containerd's NotFound as nil.
    func find<T: Sendable>(_ what: String, _ body: @escaping @Sendable (GRPCClient<Transport>) async throws -> T) throws -> T? {
        let client = grpc
        do { return try blockingAwait { try await body(client) } } catch let e as RPCError {
            if e.code == .notFound { return nil }
            throw ContainerdError.rpc(what: what, code: "\(e.code)", message: e.message)
        }
    }

    // MARK: Version

    func version() throws -> (version: String, revision: String) {
        let md = metadata()
        let r = try call("version") { g in
            try await Containerd_Services_Version_V1_Version.Client(wrapping: g).version(Google_Protobuf_Empty(), metadata: md, options: Self.options)
        }
        return (r.version, r.revision)
    }

    // MARK: Images

    typealias Image = Containerd_Services_Images_V1_Image

    func listImages() throws -> [Image] {
        let md = metadata()
        return try call("list images") { g in
            try await Containerd_Services_Images_V1_Images.Client(wrapping: g).list(.init(), metadata: md, options: Self.options).images
        }
    }

    func image(named name: String) throws -> Image? {
        let md = metadata()
        var req = Containerd_Services_Images_V1_GetImageRequest()
        req.name = name
        return try find("get image \(name)") { [req] g in
            try await Containerd_Services_Images_V1_Images.Client(wrapping: g).get(req, metadata: md, options: Self.options).image
        }
    }

    /// Creates the record, or updates its target and labels when it exists.
    func putImage(_ image: Image) throws {
        let md = metadata()
        var create = Containerd_Services_Images_V1_CreateImageRequest()
        create.image = image
        let client = grpc
        do {
            _ = try blockingAwait { [create] in
                try await Containerd_Services_Images_V1_Images.Client(wrapping: client).create(create, metadata: md, options: Self.options)
            }
            return
        } catch let e as RPCError where e.code == .alreadyExists {
        } catch let e as RPCError {
            throw ContainerdError.rpc(what: "create image \(image.name)", code: "\(e.code)", message: e.message)
        }
        var update = Containerd_Services_Images_V1_UpdateImageRequest()
        update.image = image
        update.updateMask = Google_Protobuf_FieldMask(protoPaths: ["target", "labels"])
        _ = try call("update image \(image.name)") { [update] g in
            try await Containerd_Services_Images_V1_Images.Client(wrapping: g).update(update, metadata: md, options: Self.options)
        }
    }

    /// Deletes the record; `sync` waits for containerd's garbage collection. False when absent.
    @discardableResult
    func deleteImage(_ name: String, sync: Bool) throws -> Bool {
        let md = metadata()
        var req = Containerd_Services_Images_V1_DeleteImageRequest()
        req.name = name
        req.sync = sync
        return try find("delete image \(name)") { [req] g in
            _ = try await Containerd_Services_Images_V1_Images.Client(wrapping: g).delete(req, metadata: md, options: Self.options)
            return true
        } ?? false
    }

    // MARK: Content

    typealias ContentInfo = Containerd_Services_Content_V1_Info

    func contentInfo(_ digest: String) throws -> ContentInfo? {
        let md = metadata()
        var req = Containerd_Services_Content_V1_InfoRequest()
        req.digest = digest
        return try find("content info \(digest)") { [req] g in
            try await Containerd_Services_Content_V1_Content.Client(wrapping: g).info(req, metadata: md, options: Self.options).info
        }
    }

    /// Every blob in the namespace's content store.
    func listContent() throws -> [ContentInfo] {
        let md = metadata()
        return try call("list content") { g in
            try await Containerd_Services_Content_V1_Content.Client(wrapping: g).list(.init(), metadata: md, options: Self.options) { response in
                var all: [ContentInfo] = []
                for try await m in response.messages { all += m.info }
                return all
            }
        }
    }

    /// A whole blob (manifests and configs: small), nil when absent.
    func readContent(_ digest: String, limit: Int = 16 << 20) throws -> Data? {
        let md = metadata()
        var req = Containerd_Services_Content_V1_ReadContentRequest()
        req.digest = digest
        return try find("read content \(digest)") { [req] g in
            try await Containerd_Services_Content_V1_Content.Client(wrapping: g).read(req, metadata: md, options: Self.options) { response in
                var data = Data()
                for try await m in response.messages {
                    data.append(m.data)
                    if data.count > limit { throw ContainerdError.badContent(what: "read \(digest)", reason: "more than \(limit) bytes") }
                }
                return data
            }
        }
    }

    /// Sets labels on a blob (merging with those it has).
    func labelContent(_ digest: String, labels: [String: String]) throws {
        guard !labels.isEmpty else { return }
        let md = metadata()
        var req = Containerd_Services_Content_V1_UpdateRequest()
        req.info.digest = digest
        req.info.labels = labels
        req.updateMask = Google_Protobuf_FieldMask(protoPaths: labels.keys.sorted().map { "labels.\($0)" })
        _ = try call("label content \(digest)") { [req] g in
            try await Containerd_Services_Content_V1_Content.Client(wrapping: g).update(req, metadata: md, options: Self.options)
        }
    }

    /// Streams `file` (already verified) into the content store as `digest`, under `lease`,
    /// committing it with `labels`. A blob containerd already has counts as written.
    func writeContent(file: URL, digest: String, size: Int64, labels: [String: String], lease: String) throws {
        let md = metadata(lease: lease)
        let path = file.path
        // One ingest per pull (its lease), so two pulls of a shared blob never lock each other
        // out; the second commit finds the blob there.
        let ref = "berth-" + digest.replacingOccurrences(of: ":", with: "-") + "-" + lease
        let client = grpc
        do {
            _ = try blockingAwait {
                try await Containerd_Services_Content_V1_Content.Client(wrapping: client).write(metadata: md, options: Self.options, requestProducer: { writer in
                    guard let h = FileHandle(forReadingAtPath: path) else { throw ContainerdError.badContent(what: "write \(digest)", reason: "cannot open \(path)") }
                    defer { try? h.close() }
                    var offset: Int64 = 0
                    while let chunk = try h.read(upToCount: 1 << 20), !chunk.isEmpty {
                        var w = Containerd_Services_Content_V1_WriteContentRequest()
                        w.action = .write
                        w.ref = ref
                        w.total = size
                        w.expected = digest
                        w.offset = offset
                        w.data = chunk
                        try await writer.write(w)
                        offset += Int64(chunk.count)
                    }
                    var c = Containerd_Services_Content_V1_WriteContentRequest()
                    c.action = .commit
                    c.ref = ref
                    c.total = size
                    c.expected = digest
                    c.offset = offset
                    c.labels = labels
                    try await writer.write(c)
                }, onResponse: { response in
                    var committed = false
                    for try await m in response.messages where m.action == .commit {
                        guard m.digest == digest else {
                            throw ContainerdError.badContent(what: "write \(digest)", reason: "containerd committed \(m.digest)")
                        }
                        committed = true
                    }
                    return committed
                })
            }
        } catch let e as RPCError where e.code == .alreadyExists {
            try labelContent(digest, labels: labels)
        } catch let e as RPCError {
            throw ContainerdError.rpc(what: "write content \(digest)", code: "\(e.code)", message: e.message)
        }
    }

    // MARK: Leases

    /// A lease that protects what a pull writes until it is published; it expires by itself
    /// (`containerd.io/gc.expire`) should berth die first.
    func createLease(expiresIn seconds: TimeInterval) throws -> String {
        let md = metadata()
        var req = Containerd_Services_Leases_V1_CreateRequest()
        req.id = "berth-\(UUID().uuidString.lowercased())"
        let f = ISO8601DateFormatter()
        req.labels = ["containerd.io/gc.expire": f.string(from: Date().addingTimeInterval(seconds)), "io.berth.pull": "true"]
        return try call("create lease") { [req] g in
            try await Containerd_Services_Leases_V1_Leases.Client(wrapping: g).create(req, metadata: md, options: Self.options).lease.id
        }
    }

    /// Puts something that exists already (a blob: `content`; a committed snapshot:
    /// `snapshots/<snapshotter>`) under the lease, so it stays while the pull that uses it runs.
    func addToLease(_ lease: String, id: String, type: String) throws {
        let md = metadata()
        var req = Containerd_Services_Leases_V1_AddResourceRequest()
        req.id = lease
        req.resource.id = id
        req.resource.type = type
        _ = try call("add \(id) to lease \(lease)") { [req] g in
            try await Containerd_Services_Leases_V1_Leases.Client(wrapping: g).addResource(req, metadata: md, options: Self.options)
        }
    }

    func deleteLease(_ id: String) throws {
        let md = metadata()
        var req = Containerd_Services_Leases_V1_DeleteRequest()
        req.id = id
        _ = try find("delete lease \(id)") { [req] g in
            _ = try await Containerd_Services_Leases_V1_Leases.Client(wrapping: g).delete(req, metadata: md, options: Self.options)
            return true
        }
    }

    // MARK: Snapshots and diff

    func snapshotExists(_ key: String, snapshotter: String) throws -> Bool {
        let md = metadata()
        var req = Containerd_Services_Snapshots_V1_StatSnapshotRequest()
        req.snapshotter = snapshotter
        req.key = key
        return try find("stat snapshot \(key)") { [req] g in
            _ = try await Containerd_Services_Snapshots_V1_Snapshots.Client(wrapping: g).stat(req, metadata: md, options: Self.options)
            return true
        } ?? false
    }

    func prepareSnapshot(_ key: String, parent: String, snapshotter: String, lease: String) throws -> [Containerd_Types_Mount] {
        let md = metadata(lease: lease)
        var req = Containerd_Services_Snapshots_V1_PrepareSnapshotRequest()
        req.snapshotter = snapshotter
        req.key = key
        req.parent = parent
        return try call("prepare snapshot \(key)") { [req] g in
            try await Containerd_Services_Snapshots_V1_Snapshots.Client(wrapping: g).prepare(req, metadata: md, options: Self.options).mounts
        }
    }

    /// Commits the active snapshot `key` as `name`; false when `name` exists already (another
    /// pull unpacked the same chain meanwhile).
    func commitSnapshot(_ name: String, key: String, snapshotter: String, lease: String) throws -> Bool {
        let md = metadata(lease: lease)
        var req = Containerd_Services_Snapshots_V1_CommitSnapshotRequest()
        req.snapshotter = snapshotter
        req.name = name
        req.key = key
        let client = grpc
        do {
            _ = try blockingAwait { [req] in
                try await Containerd_Services_Snapshots_V1_Snapshots.Client(wrapping: client).commit(req, metadata: md, options: Self.options)
            }
            return true
        } catch let e as RPCError where e.code == .alreadyExists {
            return false
        } catch let e as RPCError {
            throw ContainerdError.rpc(what: "commit snapshot \(name)", code: "\(e.code)", message: e.message)
        }
    }

    func removeSnapshot(_ key: String, snapshotter: String) throws {
        let md = metadata()
        var req = Containerd_Services_Snapshots_V1_RemoveSnapshotRequest()
        req.snapshotter = snapshotter
        req.key = key
        _ = try find("remove snapshot \(key)") { [req] g in
            _ = try await Containerd_Services_Snapshots_V1_Snapshots.Client(wrapping: g).remove(req, metadata: md, options: Self.options)
            return true
        }
    }

    /// Applies a layer from the content store onto `mounts`; returns the digest of what was
    /// applied (the layer's diff_id).
    func applyLayer(digest: String, mediaType: String, size: Int64, mounts: [Containerd_Types_Mount], lease: String) throws -> String {
        let md = metadata(lease: lease)
        var req = Containerd_Services_Diff_V1_ApplyRequest()
        req.diff.digest = digest
        req.diff.mediaType = mediaType
        req.diff.size = size
        req.mounts = mounts
        return try call("apply layer \(digest)") { [req] g in
            try await Containerd_Services_Diff_V1_Diff.Client(wrapping: g).apply(req, metadata: md, options: Self.options).applied.digest
        }
    }

    // MARK: Containers

    /// The image names containers (of any state) in the namespace were created from.
    func containerImages() throws -> [String: [String]] {
        let md = metadata()
        let list = try call("list containers") { g in
            try await Containerd_Services_Containers_V1_Containers.Client(wrapping: g).list(.init(), metadata: md, options: Self.options).containers
        }
        var out: [String: [String]] = [:]
        for c in list where !c.image.isEmpty { out[c.image, default: []].append(c.id) }
        return out
    }
}
