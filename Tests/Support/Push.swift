import Foundation
import OCI

/// Writes built content to disk in the two forms skopeo reads.
public enum OCILayout {
    /// An OCI image layout at `directory`: `oci-layout`, `index.json` with one entry per item
    /// (annotated `org.opencontainers.image.ref.name`), and every manifest and blob under
    /// `blobs/sha256/`. Merges into an existing layout's blobs; `index.json` is replaced.
    public static func write(_ items: [(refName: String, content: any PushableContent)], to directory: URL) throws {
        let fm = FileManager.default
        let blobs = directory.appendingPathComponent("blobs/sha256", isDirectory: true)
        try fm.createDirectory(at: blobs, withIntermediateDirectories: true)
        try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: directory.appendingPathComponent("oci-layout"))
        func put(_ digest: Digest, _ data: Data) throws {
            let file = blobs.appendingPathComponent(digest.hex)
            if !fm.fileExists(atPath: file.path) { try data.write(to: file) }
        }
        var manifests: [Descriptor] = []
        for (refName, content) in items {
            for blob in content.blobs { try put(blob.digest, blob.data) }
            for child in content.childManifests { try put(child.manifestDigest, child.manifest) }
            try put(content.rootDigest, content.rootManifest)
            manifests.append(Descriptor(mediaType: content.rootMediaType, digest: content.rootDigest,
                                        size: Int64(content.rootManifest.count),
                                        annotations: [Descriptor.refNameAnnotation: refName]))
        }
        let index = ImageIndex(mediaType: MediaType.ociIndex, manifests: manifests)
        try canonicalJSON(index).write(to: directory.appendingPathComponent("index.json"))
    }

    /// containers/image's `dir:` layout (version 1.1): `manifest.json` is the root manifest,
    /// `<hex>.manifest.json` each child, blobs by hex. Unlike `oci:`, it carries any media type.
    public static func writeDirTransport(_ content: any PushableContent, to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data("Directory Transport Version: 1.1\n".utf8).write(to: directory.appendingPathComponent("version"))
        for blob in content.blobs { try blob.data.write(to: directory.appendingPathComponent(blob.digest.hex)) }
        for child in content.childManifests {
            try child.manifest.write(to: directory.appendingPathComponent("\(child.manifestDigest.hex).manifest.json"))
        }
        try content.rootManifest.write(to: directory.appendingPathComponent("manifest.json"))
    }
}

/// Where to push: a registry host and how to reach it.
public struct PushTarget: Sendable {
    public enum Security: Sendable {
        /// Plain HTTP, or HTTPS without verification (skopeo `--dest-tls-verify=false`).
        case insecure
        /// HTTPS verified with the system CAs plus the `*.crt` files in this directory (if any).
        case verified(certDirectory: String?)
    }
    public var host: String
    public var security: Security
    public var credentials: (user: String, password: String)?

    public init(host: String, security: Security, credentials: (user: String, password: String)? = nil) {
        self.host = host
        self.security = security
        self.credentials = credentials
    }
}

extension RegistryServer {
    /// How `Fixtures.push` reaches this registry (its CA trusted, its default credentials).
    public var pushTarget: PushTarget {
        PushTarget(host: host, security: tls ? .verified(certDirectory: certDirectory) : .insecure, credentials: credentials)
    }

    /// Pushes `content` as `repository:tag` (see `Fixtures.push`); returns the root digest.
    @discardableResult
    public func push(_ content: any PushableContent, repository: String, tag: String,
                     credentials: (String, String)? = nil) throws -> Digest {
        try Fixtures.push(content, to: self, repository: repository, tag: tag, credentials: credentials)
    }
}

public enum Fixtures {
    /// Pushes `content` to `registry` as `repository:tag` with skopeo, digests preserved, then
    /// reads the manifest back and throws unless the registry serves exactly the computed bytes.
    /// `credentials` default to the registry's own (`RegistryServer.credentials`).
    @discardableResult
    public static func push(_ content: any PushableContent, to registry: RegistryServer, repository: String, tag: String,
                            credentials: (String, String)? = nil) throws -> Digest {
        var target = registry.pushTarget
        if let (u, p) = credentials { target.credentials = (u, p) }
        return try push(content, to: target, repository: repository, tag: tag)
    }

    /// Pushes to any registry. OCI-only content goes through an OCI image layout (`oci:`);
    /// content with docker media types through skopeo's `dir:` layout, because skopeo 1.9's
    /// `oci:` transport does not find index.json entries with docker media types.
    @discardableResult
    public static func push(_ content: any PushableContent, to target: PushTarget, repository: String, tag: String) throws -> Digest {
        let work = try TempDirectory(prefix: "berth-push")
        defer { work.remove() }
        let source: String
        if content.isAllOCI {
            let layout = work.url.appendingPathComponent("layout", isDirectory: true)
            try OCILayout.write([("push", content)], to: layout)
            source = "oci:\(layout.path):push"
        } else {
            let dir = work.url.appendingPathComponent("dir", isDirectory: true)
            try OCILayout.writeDirTransport(content, to: dir)
            source = "dir:\(dir.path)"
        }
        let destination = "docker://\(target.host)/\(repository):\(tag)"
        var args = ["--insecure-policy", "copy", "--all", "--preserve-digests", "--retry-times", "2", "--quiet"]
        args += securityFlags(target, prefix: "--dest-")
        args += [source, destination]
        try Shell.run(.skopeo, args, timeout: 900)

        let served = try fetchManifest(target: target, reference: "\(repository):\(tag)")
        let digest = Digest.sha256(served)
        guard digest == content.rootDigest else {
            throw TestBedError("pushed \(repository):\(tag) to \(target.host) but the registry serves manifest \(digest), not the computed \(content.rootDigest) (media type \(content.rootMediaType)); served bytes:\n\(String(decoding: served.prefix(2000), as: UTF8.self))")
        }
        return digest
    }

    /// The raw manifest bytes the registry serves for `repository:tag` (or `@digest`), via `skopeo inspect --raw`.
    public static func fetchManifest(target: PushTarget, reference: String) throws -> Data {
        var args = ["--insecure-policy", "inspect", "--raw", "--retry-times", "2"]
        args += securityFlags(target, prefix: "--")
        args.append("docker://\(target.host)/\(reference)")
        return try Shell.run(.skopeo, args, timeout: 120).stdout
    }

    static func securityFlags(_ target: PushTarget, prefix: String) -> [String] {
        var args: [String] = []
        switch target.security {
        case .insecure: args.append("\(prefix)tls-verify=false")
        case .verified(let dir):
            args.append("\(prefix)tls-verify=true")
            if let dir { args += ["\(prefix)cert-dir", dir] }
        }
        if let (u, p) = target.credentials { args += ["\(prefix)creds", "\(u):\(p)"] } else { args.append("\(prefix)no-creds") }
        return args
    }
}

extension RegistryServer {
    /// The raw manifest bytes served for `repository:tag` or `repository@digest` (through skopeo,
    /// with this registry's CA and credentials).
    public func manifestBytes(_ reference: String) throws -> Data {
        try Fixtures.fetchManifest(target: pushTarget, reference: reference)
    }
}
