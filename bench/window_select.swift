import Foundation

/// Issue 15's figure: choosing a window from a repository's 5,000 listed tags (4,500 v-prefixed
/// versions, 500 builds that are not versions), optimized as the release binary is. Prints the
/// median of 9 runs. Built by bench/window_select.sh with Sources/ImageSet's Semver.swift and
/// TagSelection.swift.
@main struct WindowSelectBench {
    static func main() {
        var tags: [String] = []
        for major in 0..<5 { for minor in 0..<20 { for patch in 0..<45 { tags.append("v\(major).\(minor).\(patch)") } } }
        for i in 0..<500 { tags.append("build-\(i)") }
        let clock = ContinuousClock()
        for (name, selection) in [
            ("semver + regex, newest 3", TagSelection(semver: ">=1.4.0 <4.0.0", regex: #"^v\d+\.\d+\.\d+$"#, newest: 3)),
            ("semver, every match", TagSelection(semver: "^3.0.0")),
            ("regex over builds, newest 2 (created times from a table)", TagSelection(regex: "^build-", newest: 2)),
        ] {
            var times: [Duration] = []
            var chosen: [String] = []
            for _ in 0..<9 { times.append(clock.measure { chosen = selection.select(from: tags, created: { _ in Date() }) }) }
            let median = times.sorted()[4]
            print("\(tags.count) tags, \(name): \(chosen.count) chosen, median \(median)")
        }
    }
}
