// swift-tools-version: 6.1
import PackageDescription

// Slim's benchmarks, kept as their own package (swift-nio's layout) so their
// dependencies never reach Slim's users: `cd Benchmarks && swift package benchmark`.
let package = Package(
    name: "SlimBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Slim", path: "../"),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "KernelBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "SlimCore", package: "Slim"),
                .product(name: "SlimCPU", package: "Slim"),
                .product(name: "SlimOpenCL", package: "Slim"),
            ],
            path: "Benchmarks/KernelBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]),
    ])
