// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for berth's parsers. The parser modules are symlinks into ../Sources, so
// the fuzzers always test the current code. Build and run with ./run.sh (it passes
// -sanitize=fuzzer,address). Each target's main.swift hands its input callback to libFuzzer's
// LLVMFuzzerRunDriver, since SwiftPM aliases main to the module's own entry point.
let package = Package(
    name: "berth-fuzz",
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .target(name: "OCI", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .target(name: "ImageSet", dependencies: ["OCI", "CYAML"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Render"),
        // Sources/Registry/Challenge.swift alone (the rest of Registry needs libcurl).
        .target(name: "RegistryChallenge"),
        // Declares libFuzzer's LLVMFuzzerRunDriver for the targets' main.swift.
        .target(name: "CFuzzerDriver"),

        .executableTarget(name: "FuzzReference", dependencies: ["OCI", "CFuzzerDriver"]),
        .executableTarget(name: "FuzzImageSet", dependencies: ["ImageSet", "CFuzzerDriver"]),
        .executableTarget(name: "FuzzTemplate", dependencies: ["Render", "CFuzzerDriver"]),
        .executableTarget(name: "FuzzChallenge", dependencies: ["RegistryChallenge", "CFuzzerDriver"]),
    ],
    swiftLanguageModes: [.v5]
)
