import Foundation
import Synchronization
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

let usage = """
    usage:
      berth-testbed registry [--dir DIR] [--port N] [--tls] [--htpasswd USER:PASS]
          Runs a docker-registry on 127.0.0.1 until SIGTERM/SIGINT. The first stdout line is
          HOST:PORT; with --tls the second is the CA certificate path (ca=PATH).
      berth-testbed seed --registry HOST [--insecure] [--cert-dir DIR] [--profile demo|demo-move|bench]
                         [--scale X] [--creds USER:PASS]
          Builds and pushes a fixture set; prints "REPO:TAG DIGEST" per pushed tag.
    """

func fail(_ message: String, code: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("berth-testbed: \(message)\n".utf8))
    exit(code)
}

/// `--flag VALUE` and bare `--flag` options; anything else is an error.
struct Options {
    var values: [String: String] = [:]
    var flags: Set<String> = []
    init(_ args: ArraySlice<String>, valued: Set<String>, bare: Set<String>) {
        var i = args.startIndex
        while i < args.endIndex {
            var arg = args[i]
            var inline: String?
            if let eq = arg.firstIndex(of: "="), arg.hasPrefix("--") {
                inline = String(arg[arg.index(after: eq)...])
                arg = String(arg[..<eq])
            }
            if valued.contains(arg) {
                if let inline { values[arg] = inline } else {
                    guard i + 1 < args.endIndex else { fail("\(arg) needs a value\n\(usage)") }
                    values[arg] = args[i + 1]
                    i += 1
                }
            } else if bare.contains(arg), inline == nil {
                flags.insert(arg)
            } else {
                fail("unknown argument '\(args[i])'\n\(usage)")
            }
            i += 1
        }
    }
}

func splitCredentials(_ text: String?, flag: String) -> (String, String)? {
    guard let text else { return nil }
    guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else { fail("\(flag) expects USER:PASS") }
    return (String(text[..<colon]), String(text[text.index(after: colon)...]))
}

func runRegistry(_ args: ArraySlice<String>) -> Never {
    let o = Options(args, valued: ["--dir", "--port", "--htpasswd"], bare: ["--tls"])
    let auth: RegistryAuth = splitCredentials(o.values["--htpasswd"], flag: "--htpasswd").map { .htpasswd(user: $0.0, password: $0.1) } ?? .none
    var port: UInt16?
    if let p = o.values["--port"] {
        guard let n = UInt16(p), n > 0 else { fail("--port expects a port number, got '\(p)'") }
        port = n
    }
    let server: RegistryServer
    do {
        server = try RegistryServer(tls: o.flags.contains("--tls"), auth: auth, name: "testbed",
                                    storageDirectory: o.values["--dir"].map { URL(fileURLWithPath: $0, isDirectory: true) },
                                    port: port)
    } catch {
        fail("\(error)", code: 1)
    }
    print(server.host)
    if let ca = server.caCertificatePath { print("ca=\(ca)") }
    fflush(nil)
    // SIGTERM/SIGINT write to a pipe the main thread waits on. A handler (unlike SIG_IGN) is
    // reset by exec, so the registry's supervisor still receives these signals.
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { fail("pipe(): \(String(cString: strerror(errno)))", code: 1) }
    signalPipeWrite.store(fds[1], ordering: .releasing)
    for sig in [SIGTERM, SIGINT] {
        signal(sig) { _ in
            var byte: UInt8 = 1
            _ = write(signalPipeWrite.load(ordering: .acquiring), &byte, 1)
        }
    }
    // Exit, with the registry's log, if it dies on its own.
    while true {
        var pfd = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        if poll(&pfd, 1, 1000) > 0 {
            server.stop()
            exit(0)
        }
        if !server.isRunning {
            FileHandle.standardError.write(Data("berth-testbed: the registry exited\n\(server.logText)\n".utf8))
            exit(1)
        }
    }
}

/// The write end of the signal pipe: stored once before the handlers are installed, read by
/// them (a lock-free atomic load is async-signal-safe, a lock is not).
let signalPipeWrite = Atomic<Int32>(-1)

func runSeed(_ args: ArraySlice<String>) -> Never {
    let o = Options(args, valued: ["--registry", "--profile", "--creds", "--cert-dir", "--scale"], bare: ["--insecure"])
    guard let host = o.values["--registry"] else { fail("seed needs --registry HOST\n\(usage)") }
    let profileName = o.values["--profile"] ?? "demo"
    guard let profile = SeedProfile(rawValue: profileName) else {
        fail("unknown profile '\(profileName)' (expected \(SeedProfile.allCases.map(\.rawValue).joined(separator: " or ")))")
    }
    var scale = 1.0
    if let s = o.values["--scale"] {
        guard let v = Double(s), v > 0 else { fail("--scale expects a positive number, got '\(s)'") }
        scale = v
    }
    if o.flags.contains("--insecure") && o.values["--cert-dir"] != nil { fail("--insecure and --cert-dir exclude each other") }
    let security: PushTarget.Security = o.flags.contains("--insecure") ? .insecure : .verified(certDirectory: o.values["--cert-dir"])
    let creds = splitCredentials(o.values["--creds"], flag: "--creds")
    let target = PushTarget(host: host, security: security, credentials: creds.map { (user: $0.0, password: $0.1) })
    do {
        try Fixtures.seed(profile, to: target, scale: scale) { pushed in
            print("\(pushed.repository):\(pushed.tag) \(pushed.digest)")
            fflush(nil)
        }
    } catch {
        fail("\(error)", code: 1)
    }
    exit(0)
}

let arguments = CommandLine.arguments.dropFirst()
switch arguments.first {
case "registry": runRegistry(arguments.dropFirst())
case "seed": runSeed(arguments.dropFirst())
case "-h", "--help", "help": print(usage); exit(0)
default: fail("expected a command\n\(usage)")
}
