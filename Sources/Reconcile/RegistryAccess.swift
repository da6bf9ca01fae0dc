import Foundation
import ImageSet
import OCI
import Registry

/// Builds the registry client every command uses: docker's credentials (`$DOCKER_CONFIG`),
/// docker's certs.d CA convention (`/etc/docker/certs.d/HOST/ca.crt`, or `$BERTH_CERTS_D`),
/// loopback registries insecure, and the manifest's per-registry settings over those.
public enum RegistryAccess {
    public static func client(registries: [String: RegistrySettings] = [:], overrides: [String: RegistryHostSettings] = [:],
                              environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RegistryClient {
        let creds: CredentialProvider
        do { creds = try DockerConfig() } catch let e as CredentialError { throw RegistryError.credentials(e) }
        let certsDir = environment["BERTH_CERTS_D"] ?? "/etc/docker/certs.d"
        var table = hostSettings(registries)
        for (host, s) in overrides { table[host] = s }
        let frozen = table
        return RegistryClient(credentials: creds, settings: { host in
            if let s = frozen[host] { return s }
            var s = RegistryHostSettings.defaults(for: host)
            let ca = "\(certsDir)/\(host)/ca.crt"
            if FileManager.default.fileExists(atPath: ca) { s.caFile = ca }
            return s
        })
    }

    /// A client for one reference named on the command line, with `--insecure` / `--ca-file`.
    public static func client(for ref: Reference, insecure: Bool, caFile: String?) throws -> RegistryClient {
        guard insecure || caFile != nil else { return try client() }
        var s = RegistryHostSettings.defaults(for: ref.domain)
        if insecure { s.insecure = true }
        if let caFile { s.caFile = caFile }
        return try client(overrides: [ref.domain: s])
    }

    /// The manifest's `registries:` section as transport settings; mirrors inherit their
    /// registry's TLS settings unless listed themselves.
    public static func hostSettings(_ registries: [String: RegistrySettings]) -> [String: RegistryHostSettings] {
        var out: [String: RegistryHostSettings] = [:]
        for (host, s) in registries {
            var h = RegistryHostSettings.defaults(for: host)
            if s.insecure { h.insecure = true }
            if let ca = s.caFile { h.caFile = ca }
            out[host] = h
            for m in s.mirrors.map({ MirrorRouting.split($0).host }) {
                var mirror = out[m] ?? registries[m].map { RegistryHostSettings(insecure: $0.insecure || RegistryHostSettings.defaults(for: m).insecure, caFile: $0.caFile) }
                    ?? RegistryHostSettings(insecure: s.insecure || RegistryHostSettings.defaults(for: m).insecure, caFile: s.caFile)
                mirror.retry = .mirror
                out[m] = mirror
            }
        }
        return out
    }
}
