import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `kill -9` at any moment leaves the store valid and loses nothing the user wanted
/// (issue 7 "Crashes", issue 5 "Running from cron").
///
/// A seeded loop: each run applies a different subset of the six images (unlisted images are
/// removed and their blobs collected, so kills land in pulls, removals and GC), and is killed
/// with SIGKILL at a random moment: a third of the time anywhere in the run, otherwise a random
/// 0–30 ms after its first download began (downloads are a small part of a run on loopback). After every kill `berth store verify` must pass
/// (leftovers are allowed, damage is not), and no image that the run wanted and the store
/// already held may have vanished or changed. After every fourth kill the same apply runs to
/// the end and `berth plan --detailed-exitcode` must then find nothing to do. At the end skopeo and umoci read
/// every image. Replay a run with BERTH_CRASH_SEED=<seed> (and BERTH_CRASH_RUNS=<n>).
@Suite(.serialized)
struct CrashLoopTests {
    struct Tally: CustomStringConvertible {
        var runs = 0, kills = 0, finishedBeforeKill = 0, beforeDownloads = 0, midPull = 0, midBlob = 0, afterPulls = 0
        var converges = 0, leftoversSeen = 0, imagesLost = 0
        var description: String {
            "\(runs) runs: \(kills) SIGKILLs landed (\(beforeDownloads) before any download, \(midPull) mid-pull of which \(midBlob) with a blob half-downloaded, \(afterPulls) after the pulls), "
                + "\(finishedBeforeKill) runs finished before the kill; \(converges) converging applies; "
                + "\(leftoversSeen) verifies reported leftovers; images lost: \(imagesLost)"
        }
    }

    /// The very first write to a store is oci-layout's temp file; a berth killed right there
    /// (or one still creating the store while another starts) left a directory the store
    /// refused as "not a berth store". Both must work.
    @Test func aStoreWhoseCreationWasKilledIsStillUsable() throws {
        let bed = try CrashBed.shared()
        let work = try TempDirectory(prefix: "berth-crash-create")
        defer { work.remove() }
        let store = work.url.appendingPathComponent("store")
        try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
        try Data("{\"imageLayout".utf8).write(to: store.appendingPathComponent(".oci-layout.tmp-4242-17"))
        let manifest = work.url.appendingPathComponent("images.yaml").path
        try manifestYAML([bed.references[0]]).write(toFile: manifest, atomically: true, encoding: .utf8)
        let apply = try Berth.run(["apply", "-f", manifest, "--store", store.path, "--yes"])
        #expect(apply.status == 0, "\(apply.stderrText)")
        #expect(try StoreFiles(store).taggedImages()[bed.references[0]] == bed.images[0].digest.description)
        #expect(try VerifyOutcome.run(store: store.path).valid)

        // A directory holding anything else is still refused.
        let other = work.url.appendingPathComponent("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: other.appendingPathComponent("notes.txt"))
        let refused = try Berth.run(["image", "ls", "--store", other.path])
        #expect(refused.status != 0 && refused.stderrText.contains("no berth store at \(other.path)"), "\(refused.stderrText)")
        let pull = try Berth.run(["image", "pull", "x/y:1", "--store", other.path])
        #expect(pull.status != 0 && pull.stderrText.contains("not a berth store"), "a write refuses it too: \(pull.stderrText)")
    }

    @Test func sigkillAtRandomMomentsLeavesAValidStoreThatConverges() throws {
        let bed = try CrashBed.shared()
        let env = ProcessInfo.processInfo.environment
        let seed = env["BERTH_CRASH_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64(UInt32.max))
        let runs = env["BERTH_CRASH_RUNS"].flatMap { Int($0) } ?? 32
        print("crash loop: seed \(seed), \(runs) runs (replay with BERTH_CRASH_SEED=\(seed) BERTH_CRASH_RUNS=\(runs))")
        var rng = SeededGenerator(seed: seed)

        let work = try TempDirectory(prefix: "berth-crash")
        defer { work.remove() }
        let store = work.url.appendingPathComponent("store").path
        let files = StoreFiles(work.url.appendingPathComponent("store"))
        let manifest = work.url.appendingPathComponent("images.yaml").path
        let all = bed.references
        let expected = Dictionary(uniqueKeysWithValues: bed.images.map { ($0.reference, $0.digest.description) })

        func write(_ refs: [String]) throws {
            try manifestYAML(refs, unlisted: "remove", dangling: "prune").write(toFile: manifest, atomically: true, encoding: .utf8)
        }
        func apply() throws -> BerthProcess {
            try BerthProcess(["apply", "-f", manifest, "--store", store, "--yes"])
        }

        // Calibrate: a full apply from empty, timed, gives the window kills are spread over.
        try write(all)
        let started = Date()
        let first = try apply()
        let firstStatus = try first.exitStatus()
        #expect(firstStatus == 0, "\(first.stderr)")
        let fullApply = Date().timeIntervalSince(started)
        print("crash loop: a full apply from empty takes \(String(format: "%.2f", fullApply))s")
        try #require(try files.taggedImages() == expected)

        var tally = Tally()
        // Kills come at a random fraction of a window that adapts to how long runs take (most
        // runs pull only part of the set): it shrinks after a run that finished first.
        var window = fullApply * 0.8
        for run in 1...runs {
            tally.runs += 1
            // A subset that needs at least one pull (when the store lacks any image), so most
            // runs have downloads to interrupt; otherwise a proper subset (removals and GC).
            let held = Set(try files.taggedImages().keys)
            let missing = all.filter { !held.contains($0) }
            var wanted = all.filter { _ in rng.next() % 2 == 0 }
            if !missing.isEmpty && Set(wanted).isSubset(of: held) {
                wanted.append(missing[Int(rng.next() % UInt64(missing.count))])
            } else if missing.isEmpty && wanted.count == all.count {
                wanted.remove(at: Int(rng.next() % UInt64(wanted.count)))
            }
            if wanted.isEmpty { wanted = [all[Int(rng.next() % UInt64(all.count))]] }
            wanted = all.filter(Set(wanted).contains)
            try write(wanted)
            let before = try files.taggedImages()
            let blobsBefore = files.blobs

            let p = try apply()
            if rng.next() % 3 == 0 {
                // Any moment of the run: startup, planning, pulls, removals, GC, bookkeeping.
                usleep(useconds_t(Double(rng.next() % 1_000) / 1_000 * window * 1_000_000))
            } else {
                // Inside the downloads, which are a small part of a run on loopback: wait for
                // the first ingest file or new blob, then a random 0–30 ms more.
                let extra = useconds_t(rng.next() % 30_000)
                let deadline = Date().addingTimeInterval(fullApply * 3)
                while p.isRunning && Date() < deadline && files.ingestLeftovers.isEmpty && files.blobs == blobsBefore { usleep(300) }
                usleep(extra)
            }
            p.signal(SIGKILL)
            let status = try p.exitStatus()
            if p.killedBySignal && status == SIGKILL {
                tally.kills += 1
                window = min(fullApply, window * 1.05)
                let after = try files.taggedImages()
                let leftovers = files.ingestLeftovers
                if !wanted.allSatisfy({ after[$0] != nil }) {
                    if !leftovers.isEmpty || files.blobs != blobsBefore {
                        tally.midPull += 1
                        if !leftovers.isEmpty { tally.midBlob += 1 }
                    } else {
                        tally.beforeDownloads += 1
                    }
                } else {
                    tally.afterPulls += 1
                }
            } else {
                tally.finishedBeforeKill += 1
                window *= 0.8
                #expect(status == 0, "run \(run) (seed \(seed)): apply exited \(status): \(p.stderr)")
            }

            let verify = try VerifyOutcome.run(store: store)
            #expect(verify.valid, "run \(run) (seed \(seed)): store verify after the kill:\n\(verify.output)")
            if !verify.notes.isEmpty { tally.leftoversSeen += 1 }
            // Nothing the run wanted and the store held may vanish or change, killed or not.
            let after = try files.taggedImages()
            for r in wanted where before[r] != nil && after[r] != before[r] {
                tally.imagesLost += 1
                Issue.record("run \(run) (seed \(seed)): \(r) was \(before[r]!) before the run and is \(after[r] ?? "absent") after it")
            }
            for (r, d) in after where d != expected[r] {
                Issue.record("run \(run) (seed \(seed)): \(r) points at \(d), not the pushed \(expected[r] ?? "nothing")")
            }

            // Every fourth run: the next apply (same manifest) must converge.
            if run % 4 == 0 {
                let full = try apply()
                let status = try full.exitStatus()
                #expect(status == 0, "run \(run) (seed \(seed)): apply after the kill exited \(status): \(full.stderr)")
                let plan = try Berth.run(["plan", "-f", manifest, "--store", store, "--detailed-exitcode"])
                #expect(plan.status == 0, "run \(run) (seed \(seed)): plan after the converging apply exited \(plan.status): \(plan.stdoutText)\(plan.stderrText)")
                let now = try files.taggedImages()
                for r in wanted where now[r] != expected[r] {
                    tally.imagesLost += 1
                    Issue.record("run \(run) (seed \(seed)): \(r) is \(now[r] ?? "absent") after a converging apply")
                }
                #expect(Set(now.keys) == Set(wanted), "run \(run): the store holds \(now.keys.sorted()) after converging on \(wanted)")
                tally.converges += 1
            }
        }

        // Converge on everything; the store must be valid, complete and readable by others.
        try write(all)
        let last = try apply()
        let lastStatus = try last.exitStatus()
        #expect(lastStatus == 0, "\(last.stderr)")
        let plan = try Berth.run(["plan", "-f", manifest, "--store", store, "--detailed-exitcode"])
        #expect(plan.status == 0, "\(plan.stdoutText)\(plan.stderrText)")
        let final = try files.taggedImages()
        #expect(final == expected)
        tally.imagesLost += expected.keys.filter { final[$0] != expected[$0] }.count
        let verify = try VerifyOutcome.run(store: store)
        #expect(verify.valid && verify.notes.isEmpty, "after the final apply:\n\(verify.output)")

        for ref in final.keys.sorted() {
            let inspect = try Shell.run(.skopeo, ["--insecure-policy", "inspect", "oci:\(store):\(ref)"], check: false)
            #expect(inspect.status == 0, "skopeo cannot read \(ref): \(inspect.stderrText)")
            if inspect.status == 0 {
                struct Inspect: Decodable { var Digest: String; var Layers: [String] }
                let info = try JSONDecoder().decode(Inspect.self, from: inspect.stdout)
                #expect(info.Digest == expected[ref], "skopeo reads \(ref) as \(info.Digest)")
                #expect(info.Layers.count == 3)
            }
        }
        let umoci = try Shell.run(.umoci, ["ls", "--layout", store], check: false)
        #expect(umoci.status == 0, "umoci ls: \(umoci.stderrText)")
        #expect(Set(umoci.stdoutText.split(separator: "\n").map(String.init)) == Set(final.keys), "umoci ls:\n\(umoci.stdoutText)")

        print("crash loop (seed \(seed)): \(tally)")
        #expect(tally.kills >= runs / 2, "too few kills landed (\(tally)); the apply is faster than the kill window")
        #expect(tally.midPull > 0, "no kill landed mid-pull (\(tally))")
        #expect(tally.imagesLost == 0)
    }
}
