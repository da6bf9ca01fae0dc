import Foundation
import OCI
import Testing
@testable import Store

/// `TagPositions` answers as a search of the image list does (first and last image carrying a
/// tag, nil for a tag none carries), whatever the hashes: real ones, and hashes so coarse that
/// most tags collide.
@Suite struct TagPositionsTests {
    static func images(seed: UInt64) -> [ObservedImage] {
        var rng = seed
        func next(_ n: Int) -> Int {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Int((rng >> 33) % UInt64(n))
        }
        let digest = { (i: Int) in try! Digest(parsing: "sha256:" + String(format: "%064x", i)) }
        return (0..<60).map { i in
            // 0–4 tags each from a small pool, so tags repeat across images and within one.
            let tags = (0..<next(5)).map { _ in try! Reference(parsing: "registry.example.com/r\(next(6)):t\(next(8))") }
            return ObservedImage(digest: digest(i), id: digest(1000 + i), tags: tags, repoDigests: [])
        }
    }

    @Test(arguments: [(1, false), (2, true), (3, true), (4, false)])
    func answersAsALinearSearchDoes(seed: UInt64, coarse: Bool) throws {
        let images = Self.images(seed: seed)
        let table = coarse ? TagPositions(images, hash: { $0.hashValue & 3 }) : TagPositions(images)
        var asked = Set<Reference>()
        for r in 0..<7 { for t in 0..<9 { asked.insert(try Reference(parsing: "registry.example.com/r\(r):t\(t)")) } }
        for ref in asked {
            #expect(table.first(ref, in: images) == images.firstIndex { $0.tags.contains(ref) }, "first \(ref)")
            #expect(table.last(ref, in: images) == images.lastIndex { $0.tags.contains(ref) }, "last \(ref)")
        }
    }
}
