// swift-tools-version:6.0
import PackageDescription

// Dependencies point one way: BerthCLI → Reconcile → Store, Registry → Transport → OCI.
let package = Package(
    name: "berth",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "berth", targets: ["berth"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // containerd's API is gRPC over its unix socket.
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // System libraries; CCurl and CZlib with a tiny C shim (curl's setopt is variadic, zlib's inits are macros).
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("curl")]),
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CISAL", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),

        .target(name: "OCI", dependencies: [.product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Transport", dependencies: ["CCurl", "OCI"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Registry", dependencies: [
            "Transport", "OCI", "CZlib",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: [.swiftLanguageMode(.v6)]),
        // containerd's API (images, content, leases, snapshots, diff, containers, version): Swift
        // generated once from its protos by scripts/gen-containerd-api.sh and committed.
        .target(name: "ContainerdAPI", dependencies: [
            .product(name: "GRPCCore", package: "grpc-swift-2"),
            .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Store", dependencies: [
            "OCI", "Registry", "Transport", "CZlib", "CISAL", "CZstd", "ContainerdAPI",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "GRPCCore", package: "grpc-swift-2"),
            .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], swiftSettings: [.swiftLanguageMode(.v6)]),
        // The desired state: the YAML manifest, its schema and validation (pure, no I/O but reading the file).
        .target(name: "ImageSet", dependencies: ["OCI", "CYAML"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "Reconcile", dependencies: ["OCI", "Registry", "Store", "ImageSet"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // Docker-compatible text: Go templates, units, relative times, filters (pure).
        .target(name: "Render", swiftSettings: [.swiftLanguageMode(.v6)]),
        .target(name: "BerthCLI", dependencies: [
            "OCI", "Registry", "Store", "Transport", "Reconcile", "Render", "ImageSet",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: [.swiftLanguageMode(.v6)]),
        // Linked by lld with packed relative relocations (DT_RELR: 27 KB instead of 3.3 MB of
        // .rela.dyn for the loader to read and apply) and without exporting every symbol
        // dynamically (each library's symbol lookups otherwise walk the executable's 1.2 MB
        // .dynsym): 7 MB less resident at start, a no-op converge 41 -> 32 MB peak RSS.
        .executableTarget(name: "berth", dependencies: ["BerthCLI"], swiftSettings: [.swiftLanguageMode(.v6)],
                          linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                                                         "-Xlinker", "--no-export-dynamic"], .when(platforms: [.linux]))]),

        // Real peers for tests: registry processes, token service, fixture images.
        .target(name: "TestSupport", dependencies: [
            "OCI", "CZlib",
            .product(name: "Crypto", package: "swift-crypto"),
        ], path: "Tests/Support", swiftSettings: [.swiftLanguageMode(.v6)]),
        // Starts test peers and seeds registries from the command line (scripts, benchmarks).
        .executableTarget(name: "berth-testbed", dependencies: ["TestSupport"], swiftSettings: [.swiftLanguageMode(.v6)]),

        .testTarget(name: "OCITests", dependencies: ["OCI"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "ReconcileTests", dependencies: ["Reconcile", "ImageSet", "Store", "OCI"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "RenderTests", dependencies: ["Render"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "ImageSetTests", dependencies: ["ImageSet", "OCI"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // Pure parts of Transport/Registry/Store: parsers, index edits, tar and gzip streams.
        .testTarget(name: "UnitTests", dependencies: ["Registry", "Store", "Transport", "OCI", "CZlib", "CZstd"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "IntegrationTests", dependencies: ["Store", "Registry", "Transport", "OCI", "TestSupport", "BerthCLI", "Reconcile"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "TestSupportTests", dependencies: ["TestSupport", "OCI"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // One store conformance suite over the embedded layout and a real dockerd; end-to-end CLI runs.
        .testTarget(name: "DockerTests", dependencies: ["Store", "Reconcile", "Registry", "OCI", "TestSupport", "ImageSet"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "ResilienceTests", dependencies: ["Store", "OCI", "TestSupport", "ImageSet", "Render"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // The containerd store against a real containerd (ctr as the oracle).
        .testTarget(name: "ContainerdTests", dependencies: ["Store", "Registry", "OCI", "TestSupport"], swiftSettings: [.swiftLanguageMode(.v6)]),
        // A fleet of berth processes converging through a pull-through cache (the built binary, a real proxy-mode registry).
        .testTarget(name: "FleetTests", dependencies: ["OCI", "TestSupport"], swiftSettings: [.swiftLanguageMode(.v6)]),
        .testTarget(name: "FaultTests", dependencies: ["Store", "Registry", "Transport", "OCI", "TestSupport"], swiftSettings: [.swiftLanguageMode(.v6)]),
    ],
    swiftLanguageModes: [.v5]
)
