import Foundation
import OCI

extension RegistryServer {
    /// Every tag under `prefix/` that points at an incomplete image: a manifest (or an index's
    /// child) the repository does not serve, or a config or layer it does not serve at the
    /// manifest's size. Read with the curl CLI, so it is independent of berth's client.
    public func incompleteTags(under prefix: String) throws -> [String] {
        struct Catalog: Decodable { var repositories: [String]? }
        struct Tags: Decodable { var tags: [String]? }
        let catalog = try request("/v2/_catalog?n=10000")
        let repos = (try JSONDecoder().decode(Catalog.self, from: catalog.body).repositories ?? []).filter { $0.hasPrefix(prefix + "/") }
        var bad: [String] = []
        for repo in repos {
            let list = try request("/v2/\(repo)/tags/list")
            for tag in (try? JSONDecoder().decode(Tags.self, from: list.body).tags ?? []) ?? [] {
                var manifests = [tag]
                var needed: [Descriptor] = []
                while let reference = manifests.popLast() {
                    let r = try request("/v2/\(repo)/manifests/\(reference)", headers: ["Accept": MediaType.manifestAccept])
                    guard r.status == 200 else { bad.append("\(repo):\(tag): manifest \(reference) answered \(r.status)"); continue }
                    if let index = try? JSONDecoder().decode(ImageIndex.self, from: r.body), !index.manifests.isEmpty {
                        manifests += index.manifests.map(\.digest.description)
                    } else if let image = try? JSONDecoder().decode(ImageManifest.self, from: r.body) {
                        needed += [image.config] + image.layers
                    } else {
                        bad.append("\(repo):\(tag): manifest \(reference) does not parse")
                    }
                }
                for d in needed {
                    let h = try request("/v2/\(repo)/blobs/\(d.digest)", method: "HEAD")
                    if h.status != 200 || h.header("Content-Length") != String(d.size) {
                        bad.append("\(repo):\(tag): blob \(d.digest) answered \(h.status) (\(h.header("Content-Length") ?? "no length"), want \(d.size))")
                    }
                }
            }
        }
        return bad
    }
}
