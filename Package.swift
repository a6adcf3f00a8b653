// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Bellows",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "bellows", targets: ["bellows"]),
        .library(name: "BellowsEngine", targets: ["BellowsEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        .target(name: "PGClient", dependencies: ["CLibPQ"]),
        .target(name: "BellowsSQL"),
        .target(name: "BellowsPlan", dependencies: ["BellowsSQL", .product(name: "Yams", package: "Yams")]),
        // The commit a release build was made from (scripts/install defines it; empty otherwise).
        .target(name: "CBuildInfo"),
        .target(name: "BellowsEngine", dependencies: ["PGClient", "BellowsPlan", "BellowsSQL", "CBuildInfo"]),
        .executableTarget(
            name: "bellows",
            dependencies: ["BellowsEngine", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Shared by the test targets: scratch databases on the test server.
        .target(name: "BellowsTestSupport", dependencies: ["PGClient"], path: "Tests/Support"),
        .testTarget(name: "PGClientTests", dependencies: ["PGClient", "BellowsTestSupport"]),
        .testTarget(name: "BellowsSQLTests", dependencies: ["BellowsSQL"]),
        .testTarget(name: "BellowsPlanTests", dependencies: ["BellowsPlan"], exclude: ["Golden"]),
        .testTarget(name: "BellowsEngineTests", dependencies: ["BellowsEngine", "BellowsTestSupport"]),
        .testTarget(name: "BellowsCLITests", dependencies: ["bellows", "BellowsEngine", "BellowsTestSupport"], exclude: ["Golden"]),
    ],
    swiftLanguageModes: [.v6]
)
