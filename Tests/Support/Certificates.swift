import Foundation
import OCI

/// Key material made with the `openssl` CLI. All keys are EC P-256 (fast to generate).
public enum Certificates {
    /// A CA and a server certificate for `IP:127.0.0.1, DNS:localhost` signed by it, written to
    /// `directory` as `ca.crt`, `ca.key`, `server.crt`, `server.key`.
    public struct ServerTLS: Sendable {
        public let caCertificate: URL
        public let serverCertificate: URL
        public let serverKey: URL
    }

    public static func makeServerTLS(in directory: URL, commonName: String = "berth test registry") throws -> ServerTLS {
        let ca = directory.appendingPathComponent("ca.crt"), caKey = directory.appendingPathComponent("ca.key")
        let crt = directory.appendingPathComponent("server.crt"), key = directory.appendingPathComponent("server.key")
        let csr = directory.appendingPathComponent("server.csr"), ext = directory.appendingPathComponent("server.ext")
        try Shell.run(.openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                 "-keyout", caKey.path, "-out", ca.path, "-days", "3650", "-subj", "/CN=berth test CA",
                                 "-addext", "basicConstraints=critical,CA:TRUE",
                                 "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try Shell.run(.openssl, ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                 "-keyout", key.path, "-out", csr.path, "-subj", "/CN=\(commonName)"])
        try Data("""
            basicConstraints=CA:FALSE
            keyUsage=critical,digitalSignature,keyEncipherment
            extendedKeyUsage=serverAuth
            subjectAltName=IP:127.0.0.1,DNS:localhost

            """.utf8).write(to: ext)
        try Shell.run(.openssl, ["x509", "-req", "-in", csr.path, "-CA", ca.path, "-CAkey", caKey.path,
                                 "-set_serial", "0x" + randomHex(8), "-days", "3650", "-extfile", ext.path, "-out", crt.path])
        return ServerTLS(caCertificate: ca, serverCertificate: crt, serverKey: key)
    }

    /// A self-signed EC P-256 certificate and its key (PKCS#8 PEM) in `directory`, for signing
    /// tokens: `signer.crt`, `signer.key`.
    public static func makeSigningCertificate(in directory: URL, commonName: String) throws -> (certificate: URL, key: URL) {
        let crt = directory.appendingPathComponent("signer.crt"), key = directory.appendingPathComponent("signer.key")
        try Shell.run(.openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                 "-keyout", key.path, "-out", crt.path, "-days", "3650", "-subj", "/CN=\(commonName)",
                                 "-addext", "keyUsage=critical,digitalSignature"])
        return (crt, key)
    }

    /// The DER bytes of the first certificate in a PEM file.
    public static func derOfFirstCertificate(pem: String) throws -> Data {
        let begin = "-----BEGIN CERTIFICATE-----", end = "-----END CERTIFICATE-----"
        guard let b = pem.range(of: begin), let e = pem.range(of: end, range: b.upperBound..<pem.endIndex) else {
            throw TestBedError("no certificate in PEM text")
        }
        let body = pem[b.upperBound..<e.lowerBound].filter { !$0.isWhitespace }
        guard let der = Data(base64Encoded: String(body)) else { throw TestBedError("the certificate PEM is not valid base64") }
        return der
    }

    static func randomHex(_ bytes: Int) -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in UInt8.random(in: 0...255, using: &g) }.hexString
    }
}
