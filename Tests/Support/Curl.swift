import Foundation

/// An HTTP response as the `curl` CLI saw it (the last response when curl followed 100-continue).
public struct HTTPResponse: Sendable {
    public let status: Int
    /// Header fields in order, names as sent.
    public let headers: [(name: String, value: String)]
    public let body: Data

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
    public var text: String { String(decoding: body, as: UTF8.self) }
    /// The body parsed as a JSON object (throws when it is not one).
    public func jsonObject() throws -> [String: Any] {
        guard let o = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw TestBedError("the response body is not a JSON object: \(text.prefix(300))")
        }
        return o
    }
}

/// HTTP for tests through the `curl` CLI: an independent client, so a test of berth's own HTTP
/// stack never checks itself with itself.
public enum Curl {
    /// Performs one request; throws only when curl itself fails (connection, TLS), not on HTTP errors.
    public static func request(_ url: String, method: String = "GET", headers: [String: String] = [:],
                               basicAuth: (String, String)? = nil, caCertificate: String? = nil,
                               body: Data? = nil, timeout: TimeInterval = 30) throws -> HTTPResponse {
        let dir = try TempDirectory(prefix: "berth-curl")
        defer { dir.remove() }
        let headerFile = dir.url.appendingPathComponent("headers"), bodyFile = dir.url.appendingPathComponent("body")
        var args = ["-sS", "-X", method, "-D", headerFile.path, "-o", bodyFile.path, "-w", "%{http_code}",
                    "--max-time", String(Int(timeout))]
        if method == "HEAD" { args = ["-sS", "-I", "-D", headerFile.path, "-o", bodyFile.path, "-w", "%{http_code}", "--max-time", String(Int(timeout))] }
        for (k, v) in headers.sorted(by: { $0.key < $1.key }) { args += ["-H", "\(k): \(v)"] }
        if let (u, p) = basicAuth { args += ["-u", "\(u):\(p)"] }
        if let caCertificate { args += ["--cacert", caCertificate] }
        if let body {
            let bodyIn = dir.url.appendingPathComponent("request-body")
            try body.write(to: bodyIn)
            args += ["--data-binary", "@" + bodyIn.path]
        }
        args.append(url)
        let r = try Shell.run(.curl, args, timeout: timeout + 5, check: false)
        guard r.status == 0 else {
            throw TestBedError("curl \(method) \(url) failed (exit \(r.status)): \(r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let rawHeaders = (try? String(contentsOf: headerFile, encoding: .utf8)) ?? ""
        // Several blocks when curl saw interim responses; the last one is the answer.
        let blocks = rawHeaders.components(separatedBy: "\r\n\r\n").filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        var fields: [(name: String, value: String)] = []
        for line in (blocks.last ?? "").components(separatedBy: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return HTTPResponse(status: Int(r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0,
                            headers: fields, body: (try? Data(contentsOf: bodyFile)) ?? Data())
    }
}
