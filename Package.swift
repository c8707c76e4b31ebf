// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "unetc",
    products: [
        .executable(name: "unetc", targets: ["unetc"]),
        .library(name: "UNetC", targets: ["UNetC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The compiler: IR, weights, passes, planner, C generator, reference interpreter.
        .target(name: "UNetC"),
        // The thin command line over the library.
        .executableTarget(
            name: "unetc",
            dependencies: [
                "UNetC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "UNetCTests",
            dependencies: ["UNetC"],
            exclude: ["Data"]
        ),
    ]
)
