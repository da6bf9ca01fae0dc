import Foundation
import Synchronization
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Writers are serialized by the store lock; readers never see a half-written store
/// (issue 7 "Concurrency", issue 5 "Running from cron").
///
/// To make "at once" deterministic, the first writer is frozen with SIGSTOP as soon as the
/// lock file names it (it holds the flock while stopped), the second is started, and the
/// first is resumed. Unsynchronized races (both started together) run as well.
@Suite(.serialized)
struct ConcurrencyTests {
    let bed: CrashBed
    let work: TempDirectory

    init() throws {
        bed = try CrashBed.shared()
        work = try TempDirectory(prefix: "berth-concurrency")
    }

    /// A fresh store and a manifest file for `refs`.
    func setup(_ name: String, _ refs: [String], unlisted: String = "keep") throws -> (store: String, files: StoreFiles, manifest: String) {
        let store = work.url.appendingPathComponent("\(name)-store")
        let manifest = work.url.appendingPathComponent("\(name).yaml").path
        try manifestYAML(refs, unlisted: unlisted, dangling: "prune").write(toFile: manifest, atomically: true, encoding: .utf8)
        return (store.path, StoreFiles(store), manifest)
    }

    func expectConverged(_ store: String, _ manifest: String, _ context: String) throws {
        let verify = try VerifyOutcome.run(store: store)
        #expect(verify.valid, "\(context): \(verify.output)")
        let plan = try Berth.run(["plan", "-f", manifest, "--store", store, "--detailed-exitcode"])
        #expect(plan.status == 0, "\(context): plan --detailed-exitcode exited \(plan.status): \(plan.stdoutText)\(plan.stderrText)")
    }

    @Test func aSecondApplyExits75NamingTheHolderOrWaitsWithLockTimeout() throws {
        defer { work.remove() }
        let (store, files, manifest) = try setup("two-applies", bed.references)
        let first = try BerthProcess(["apply", "-f", manifest, "--store", store, "--yes"])
        try #require(files.waitUntilLocked(by: first), "the first apply never held the lock: \(first.stderr)")
        first.signal(SIGSTOP)
        defer { first.signal(SIGCONT) }

        // Without --lock-timeout (no terminal: 0), the second gives up at once: 75 and the PID.
        let t0 = Date()
        let second = try Berth.run(["apply", "-f", manifest, "--store", store, "--yes"], timeout: 30)
        #expect(second.status == 75, "second apply: \(second.status) \(second.stderrText)")
        #expect(second.stderrText.contains("locked by process \(first.pid)"), "\(second.stderrText)")
        #expect(second.stderrText.split(separator: "\n").count == 1, "one line: \(second.stderrText)")
        #expect(Date().timeIntervalSince(t0) < 10)

        // A short timeout waits that long, then 75 as well.
        let t1 = Date()
        let short = try Berth.run(["apply", "-f", manifest, "--store", store, "--yes", "--lock-timeout", "1"], timeout: 30)
        #expect(short.status == 75, "\(short.stderrText)")
        #expect(Date().timeIntervalSince(t1) >= 1)

        // With a long timeout the third waits, then applies after the first finished.
        let third = try BerthProcess(["apply", "-f", manifest, "--store", store, "--yes", "--lock-timeout", "60", "--detailed-exitcode"])
        usleep(500_000)
        #expect(third.isRunning, "the waiting apply did not wait: \(third.stderr)")
        first.signal(SIGCONT)
        #expect(try first.exitStatus() == 0, "\(first.stderr)")
        let thirdStatus = try third.exitStatus()
        #expect(thirdStatus == 0, "the waiting apply found changes to make or failed (\(thirdStatus)): \(third.stdout)\(third.stderr)")
        try expectConverged(store, manifest, "after two applies")

        // Unsynchronized: pairs started together, on an empty store each time. Each exits 0
        // (it ran) or 75 (the other held the lock); the store is valid and converges.
        var outcomes: [Int32: Int] = [:]
        for round in 0..<3 {
            let (s, _, m) = try setup("race-\(round)", Array(bed.references.prefix(3 + round)))
            let a = try BerthProcess(["apply", "-f", m, "--store", s, "--yes"])
            let b = try BerthProcess(["apply", "-f", m, "--store", s, "--yes"])
            for p in [a, b] {
                let status = try p.exitStatus()
                outcomes[status, default: 0] += 1
                #expect(status == 0 || status == 75, "round \(round): \(status) \(p.stderr)")
                if status == 75 { #expect(p.stderr.contains("locked by process"), "\(p.stderr)") }
            }
            let verify = try VerifyOutcome.run(store: s)
            #expect(verify.valid, "round \(round): \(verify.output)")
            #expect(try Berth.run(["apply", "-f", m, "--store", s, "--yes"]).status == 0)
            try expectConverged(s, m, "round \(round)")
        }
        print("concurrency: racing applies exited \(outcomes.sorted { $0.key < $1.key }.map { "\($0.value)× \($0.key)" }.joined(separator: ", "))")
    }

    @Test func applyAndImageRmAtOnce() throws {
        defer { work.remove() }
        let refs = bed.references
        // The store holds images 0–2; the manifest wants all six (pulls to do).
        let (store, files, manifest) = try setup("rm", refs)
        let (_, _, firstHalf) = try setup("rm-first-half", Array(refs.prefix(3)))
        #expect(try Berth.run(["apply", "-f", firstHalf, "--store", store, "--yes"]).status == 0)

        let apply = try BerthProcess(["apply", "-f", manifest, "--store", store, "--yes"])
        try #require(files.waitUntilLocked(by: apply), "apply never held the lock: \(apply.stderr)")
        apply.signal(SIGSTOP)
        defer { apply.signal(SIGCONT) }
        let refused = try Berth.run(["image", "rm", refs[0], "--store", store], timeout: 30)
        #expect(refused.status == 75, "\(refused.stderrText)")
        #expect(refused.stderrText.contains("locked by process \(apply.pid)"), "\(refused.stderrText)")
        let rm = try BerthProcess(["image", "rm", refs[0], "--store", store, "--lock-timeout", "60"])
        usleep(300_000)
        #expect(rm.isRunning, "image rm did not wait for the lock: \(rm.stderr)")
        apply.signal(SIGCONT)
        #expect(try apply.exitStatus() == 0, "\(apply.stderr)")
        #expect(try rm.exitStatus() == 0, "\(rm.stderr)")
        #expect(rm.stdout.contains("Untagged: \(refs[0])"), "\(rm.stdout)")
        // rm ran second: the image is gone and the other five are whole.
        let held = try files.taggedImages()
        #expect(held[refs[0]] == nil)
        #expect(Set(held.keys) == Set(refs.dropFirst()))
        let verify = try VerifyOutcome.run(store: store)
        #expect(verify.valid, "\(verify.output)")
        #expect(try Berth.run(["apply", "-f", manifest, "--store", store, "--yes"]).status == 0)
        try expectConverged(store, manifest, "after apply + rm")

        // Unsynchronized, with staggered starts: both finish (rm waits), the store stays valid.
        var rng = SeededGenerator(seed: 0x5EED_0001)
        for round in 0..<4 {
            let (s, _, m) = try setup("rm-race-\(round)", refs)
            #expect(try Berth.run(["apply", "-f", firstHalf, "--store", s, "--yes"]).status == 0)
            let a = try BerthProcess(["apply", "-f", m, "--store", s, "--yes", "--lock-timeout", "60"])
            usleep(useconds_t(rng.next() % 200_000))
            let r = try BerthProcess(["image", "rm", refs[Int(rng.next() % 3)], "--store", s, "--lock-timeout", "60"])
            #expect(try a.exitStatus() == 0, "round \(round): \(a.stderr)")
            #expect(try r.exitStatus() == 0, "round \(round): \(r.stderr)")
            let v = try VerifyOutcome.run(store: s)
            #expect(v.valid, "round \(round): \(v.output)")
        }
    }

    /// `image prune` when this berth has it; otherwise `image rm --force` by image ID, which
    /// also deletes the image and collects its blobs.
    @Test func applyAndPruneAtOnce() throws {
        defer { work.remove() }
        let refs = bed.references
        let hasPrune = (try Berth.run(["image", "prune", "--help"])).status == 0
        print("concurrency: 'berth image prune' is \(hasPrune ? "available" : "not implemented; using 'image rm --force <ID>'")")
        var rng = SeededGenerator(seed: 0x5EED_0002)
        for round in 0..<4 {
            // The store holds images 3–5; the manifest wants 0–2 (pulls), and leaves 3–5 alone.
            let (store, files, manifest) = try setup("prune-\(round)", Array(refs.prefix(3)))
            let (_, _, secondHalf) = try setup("prune-second-half-\(round)", Array(refs.suffix(3)))
            #expect(try Berth.run(["apply", "-f", secondHalf, "--store", store, "--yes"]).status == 0)
            let victim = bed.images[3 + round % 3]
            let remover: [String] = hasPrune
                ? ["image", "prune", "--all", "--force", "--store", store, "--lock-timeout", "60"]
                : ["image", "rm", "--force", victim.imageID.description, "--store", store, "--lock-timeout", "60"]

            let apply = try BerthProcess(["apply", "-f", manifest, "--store", store, "--yes", "--lock-timeout", "60"])
            if round == 0 {
                // Deterministic: prune waits while apply holds the lock.
                try #require(files.waitUntilLocked(by: apply), "\(apply.stderr)")
                apply.signal(SIGSTOP)
                let p = try BerthProcess(remover)
                usleep(300_000)
                #expect(p.isRunning, "the remover did not wait for the lock: \(p.stderr)")
                apply.signal(SIGCONT)
                #expect(try apply.exitStatus() == 0, "\(apply.stderr)")
                #expect(try p.exitStatus() == 0, "\(p.stderr)")
            } else {
                usleep(useconds_t(rng.next() % 250_000))
                let p = try BerthProcess(remover)
                #expect(try apply.exitStatus() == 0, "round \(round): \(apply.stderr)")
                #expect(try p.exitStatus() == 0, "round \(round): \(p.stderr)")
            }
            let held = try files.taggedImages()
            for r in refs.prefix(3) {
                #expect(held[r] != nil || hasPrune, "round \(round): \(r), which the apply pulled, is gone: \(held)")
            }
            if !hasPrune { #expect(held[victim.reference] == nil, "round \(round): the removed image is still tagged") }
            let verify = try VerifyOutcome.run(store: store)
            #expect(verify.valid, "round \(round): \(verify.output)")
            #expect(try Berth.run(["apply", "-f", manifest, "--store", store, "--yes"]).status == 0)
            try expectConverged(store, manifest, "round \(round)")
        }
    }

    /// `image ls` and `store verify` (no repair, no lock) run in a loop while applies pull,
    /// remove and collect garbage: every read exits 0 and shows a whole store.
    @Test func readersNeverSeeABrokenStore() throws {
        defer { work.remove() }
        let refs = bed.references
        let (store, _, _) = try setup("readers", [])
        #expect(try Berth.run(["store", "init", "--store", store]).status == 0, "readers never create a store")
        let manifests = try [Array(refs.prefix(3)), Array(refs.suffix(3)), refs, [refs[1], refs[4]], Array(refs.prefix(4))]
            .enumerated().map { i, set in try setup("readers-\(i)", set, unlisted: "remove").manifest }
        let log = ReaderLog()
        let group = DispatchGroup()
        let lister = Thread {
            // Built on the thread that uses it: a `Regex` is not `Sendable`.
            let line = #/^\S+:\S+\t(sha256:)?[0-9a-f]{12,64}\t[0-9.]+[kMG]?B$/#
            while log.writing {
                guard let r = try? Berth.run(["image", "ls", "--store", store, "--format", "{{.Repository}}:{{.Tag}}\t{{.ID}}\t{{.Size}}"], timeout: 60) else { log.note("image ls did not run"); continue }
                log.count(list: true)
                if r.status != 0 { log.note("image ls exited \(r.status): \(r.stderrText)") }
                for l in r.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).dropLast() where (try? line.wholeMatch(in: String(l))) == nil {
                    log.note("image ls printed an incomplete line: \(l.debugDescription)")
                }
                if !r.stdoutText.isEmpty && !r.stdoutText.hasSuffix("\n") { log.note("image ls output is cut: \(r.stdoutText.debugDescription)") }
            }
            group.leave()
        }
        let verifier = Thread {
            while log.writing {
                guard let v = try? VerifyOutcome.run(store: store) else { log.note("verify did not run"); continue }
                log.count(list: false)
                if !v.valid { log.note("store verify during writes: \(v.output)") }
            }
            group.leave()
        }
        group.enter(); lister.start()
        group.enter(); verifier.start()
        var applies = 0
        for round in 0..<2 {
            for m in manifests {
                let r = try Berth.run(["apply", "-f", m, "--store", store, "--yes", "--lock-timeout", "60"])
                applies += 1
                #expect(r.status == 0, "round \(round): apply \(m): \(r.stderrText)")
            }
        }
        log.stop()
        #expect(group.wait(timeout: .now() + 120) == .success)
        let (lists, verifies, problems) = log.results
        print("concurrency: \(applies) applies while readers ran \(lists) image ls and \(verifies) store verify; \(problems.count) problems")
        #expect(problems.isEmpty, "\(problems.prefix(5).joined(separator: "\n"))")
        #expect(lists >= applies && verifies >= 2, "the readers hardly ran (\(lists) ls, \(verifies) verify)")
    }
}

/// What the reader threads saw, shared with the writer loop.
private final class ReaderLog: Sendable {
    private struct State {
        var isWriting = true
        var lists = 0, verifies = 0
        var problems: [String] = []
    }
    private let state = Mutex(State())

    var writing: Bool { state.withLock { $0.isWriting } }
    func stop() { state.withLock { $0.isWriting = false } }
    func note(_ problem: String) { state.withLock { $0.problems.append(problem) } }
    func count(list: Bool) { state.withLock { if list { $0.lists += 1 } else { $0.verifies += 1 } } }
    var results: (lists: Int, verifies: Int, problems: [String]) { state.withLock { ($0.lists, $0.verifies, $0.problems) } }
}
