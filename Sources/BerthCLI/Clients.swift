import Foundation
import OCI
import Registry
import Store
import Transport

/// Builds the registry client for CLI verbs: docker's credentials, docker's certs.d CA
/// convention (`/etc/docker/certs.d/HOST/ca.crt`, or `$BERTH_CERTS_D`), loopback insecure.
enum Clients {
    static func registry(options: RegistryOptions? = nil, for ref: Reference? = nil,
                         overrides: [String: RegistryHostSettings] = [:]) throws -> RegistryClient {
        let creds: CredentialProvider
        do { creds = try DockerConfig() } catch let e as CredentialError { throw RegistryError.credentials(e) }
        let certsDir = ProcessInfo.processInfo.environment["BERTH_CERTS_D"] ?? "/etc/docker/certs.d"
        var table = overrides
        if let options, let ref, options.insecure || options.caFile != nil {
            var s = table[ref.domain] ?? RegistryHostSettings.defaults(for: ref.domain)
            if options.insecure { s.insecure = true }
            if let ca = options.caFile { s.caFile = ca }
            table[ref.domain] = s
        }
        let frozen = table
        return RegistryClient(credentials: creds, settings: { host in
            if let s = frozen[host] { return s }
            var s = RegistryHostSettings.defaults(for: host)
            let ca = "\(certsDir)/\(host)/ca.crt"
            if FileManager.default.fileExists(atPath: ca) { s.caFile = ca }
            return s
        })
    }
}
