import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Durable file replacement: temp file in the same directory, write, fsync, rename, fsync the
/// directory. Readers see the old content or the new, never a mix.
public enum Durable {
    public static func write(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        let tmp = try writeTemp(data, for: url)
        guard rename(tmp.path, url.path) == 0 else {
            let e = errno
            unlink(tmp.path)
            throw StoreError.io(path: url.path, errno: e)
        }
        syncDirectory(dir)
    }

    /// Creates `url` durably unless a file of that name exists, which it never replaces
    /// (link(2) fails with EEXIST). Returns false when the file existed.
    @discardableResult
    public static func create(_ data: Data, at url: URL) throws -> Bool {
        let tmp = try writeTemp(data, for: url)
        defer { unlink(tmp.path) }
        guard link(tmp.path, url.path) == 0 else {
            if errno == EEXIST { return false }
            throw StoreError.io(path: url.path, errno: errno)
        }
        syncDirectory(url.deletingLastPathComponent())
        return true
    }

    /// `data` written and fsynced to a temp file beside `url`, for renaming or linking into place.
    private static func writeTemp(_ data: Data, for url: URL) throws -> URL {
        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError.io(path: tmp.path, errno: errno) }
        var ok = false
        defer { if !ok { close(fd); unlink(tmp.path) } }
        try data.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 { if errno == EINTR { continue }; throw StoreError.io(path: tmp.path, errno: errno) }
                off += n
            }
        }
        guard fsync(fd) == 0 else { throw StoreError.io(path: tmp.path, errno: errno) }
        close(fd)
        ok = true
        return tmp
    }

    static func syncDirectory(_ dir: URL) {
        let fd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}

/// An exclusive advisory lock (flock) on a file, which the kernel releases when the holder
/// dies: a lock left by a dead process never blocks. The holder's PID is written into the
/// file so a waiting process can name it.
public final class StoreLock {
    let fd: Int32
    let path: String

    /// Takes the lock, waiting up to `timeout` seconds (0: try once).
    public init(path: String, timeout: Double) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError.io(path: path, errno: errno) }
        let deadline = Date().addingTimeInterval(timeout)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno != EWOULDBLOCK && errno != EINTR { let e = errno; close(fd); throw StoreError.io(path: path, errno: e) }
            if Date() >= deadline {
                let holder = StoreLock.holder(fd: fd)
                close(fd)
                throw StoreError.locked(path: path, holderPID: holder)
            }
            usleep(50_000)
        }
        ftruncate(fd, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        self.fd = fd
        self.path = path
    }

    deinit { release() }

    /// The PID of the process holding the lock on `fd`'s file: from the kernel (/proc/locks,
    /// by inode), else from what the holder wrote into the file. The holder writes its PID
    /// just after taking the lock, so the file may still be empty for a moment: read it a few
    /// times before giving up.
    static func holder(fd: Int32) -> Int? {
        var st = stat()
        if fstat(fd, &st) == 0, let locks = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) {
            // "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF" (device as hex major:minor).
            let dev = UInt64(st.st_dev)
            let major = (dev >> 8) & 0xfff, minor = (dev & 0xff) | ((dev >> 12) & 0xfff00)
            let suffix = String(format: "%02llx:%02llx:%llu", major, minor, UInt64(st.st_ino))
            for line in locks.split(separator: "\n") where line.contains("FLOCK") {
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                if f.count >= 6, f[5] == suffix, let pid = Int(f[4]), pid > 0 { return pid }
            }
        }
        for _ in 0..<10 {
            var buf = [UInt8](repeating: 0, count: 64)
            let n = pread(fd, &buf, 64, 0)
            if n > 0, let pid = Int(String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) {
                return pid
            }
            usleep(20_000)
        }
        return nil
    }

    private var released = false
    public func release() {
        guard !released else { return }
        released = true
        flock(fd, LOCK_UN)
        close(fd)
    }
}
