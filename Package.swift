// swift-tools-version: 6.0
import PackageDescription

// Slim: compress transformer models and run them compressed, on OpenCL or the CPU.
// Layers (each imports only those below it, see DESIGN.md):
//   slim (CLI) → SlimCompress → SlimModel, SlimOpenCL, SlimCPU → SlimCore → COpenCL, CBLAS, Kernels
//   SlimParallel (ranks: threads or MPI, exact sums) sits on SlimCore, under SlimModel, SlimCompress and SlimTrain.

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

/// The CPU backend's GEMM goes through the platform BLAS: Accelerate on Apple
/// platforms, OpenBLAS (Debian's libopenblas-dev) elsewhere.
let blasDependencies: [Target.Dependency] = [
    .target(name: "CBLAS", condition: .when(platforms: [.linux, .windows, .android, .openbsd]))
]

let package = Package(
    name: "Slim",
    platforms: [.macOS(.v13)],
    // MARK: - Public API
    products: [
        .executable(name: "slim", targets: ["slim"]),
        .library(name: "SlimCore", targets: ["SlimCore"]),
        .library(name: "SlimCPU", targets: ["SlimCPU"]),
        .library(name: "SlimOpenCL", targets: ["SlimOpenCL"]),
        .library(name: "SlimModel", targets: ["SlimModel"]),
        .library(name: "SlimCompress", targets: ["SlimCompress"]),
        .library(name: "SlimConformance", targets: ["SlimConformance"]),
        .library(name: "SlimParallel", targets: ["SlimParallel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .executableTarget(
            name: "slim",
            dependencies: [
                "SlimCore", "SlimCPU", "SlimOpenCL", "SlimModel", "SlimCompress", "SlimConformance", "SlimParallel", "CMemory",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .target(name: "SlimCore", dependencies: ["CPUProbe", "CHash"], swiftSettings: strict),
        .target(name: "SlimCPU", dependencies: ["SlimCore", "CPUKernels"] + blasDependencies, swiftSettings: strict),
        .target(name: "SlimOpenCL", dependencies: ["SlimCore", "COpenCL", "Kernels"], swiftSettings: strict),
        /// Ranks of a data-parallel job (threads, or MPI processes through Open MPI opened at run time) and exact sums across them.
        .target(name: "SlimParallel", dependencies: ["SlimCore", "CParallel"], swiftSettings: strict),
        /// Model files (safetensors, GGUF, config.json), tokenizers and transformer blocks on the Backend ops.
        .target(name: "SlimModel", dependencies: ["SlimCore", "SlimParallel", "CFileSystem"], swiftSettings: strict),
        /// Compression methods over a model's weights, the compressed folder format, evaluation.
        .target(name: "SlimCompress", dependencies: ["SlimModel", "SlimCore", "SlimParallel"] + blasDependencies, swiftSettings: strict),
        /// The float64 references and the op list the conformance suite checks backends against,
        /// shared with `slim selftest` so a user's own device runs the same checks.
        .target(name: "SlimConformance", dependencies: ["SlimCore"], swiftSettings: strict),

        // MARK: - Implementation details
        /// `<CL/cl.h>` from opencl-headers, linking the ICD loader (ocl-icd).
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL",
                       providers: [.apt(["ocl-icd-opencl-dev", "opencl-headers"])]),
        /// The CPU backend's quantized row kernels (AVX2 with a portable fallback).
        .target(name: "CPUKernels", cSettings: [.unsafeFlags(["-O3"])]),
        /// The atomic swap of two paths (renameat2 / renamex_np) that output replacement needs.
        .target(name: "CFileSystem"),
        /// The C library's allocator settings (glibc's mmap threshold) for long compressions.
        .target(name: "CMemory"),
        /// Exact 128-bit fixed-point sums, and Open MPI called through dlopen (no link-time dependency on MPI).
        .target(name: "CParallel", linkerSettings: [.linkedLibrary("dl")]),
        /// Measures a core's fp32 FMA throughput for the host's peak figure.
        .target(name: "CPUProbe"),
        /// SHA-256's compression function, with the x86 SHA extensions where present.
        .target(name: "CHash", cSettings: [.unsafeFlags(["-O3"])]),
        /// `<cblas.h>` from OpenBLAS.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS",
                       providers: [.apt(["libopenblas-dev"])]),
        /// The OpenCL C sources, embedded in the binary so an installed `slim` needs no files beside it.
        .target(name: "Kernels", path: "Kernels",
                exclude: ["README.md"],
                resources: [
                    .embedInCode("gemm.cl"),
                    .embedInCode("elementwise.cl"),
                    .embedInCode("normalization.cl"),
                    .embedInCode("qgemm.cl"),
                    .embedInCode("attention.cl"),
                    .embedInCode("attention_mask.cl"),
                    .embedInCode("attention_delta.cl"),
                    .embedInCode("attention_tiled.cl"),
                    .embedInCode("integer_division.cl"),
                    .embedInCode("embedding.cl"),
                    .embedInCode("training.cl"),
                    .embedInCode("reductions.cl"),
                    .embedInCode("fake_quant.cl"),
                    .embedInCode("tuning.json"),
                ],
                swiftSettings: strict),

        // MARK: - Tests
        /// What every test target shares: seeds that replay, unique temporary paths, the seeded
        /// generator, and the backends a test runs on (the OpenCL half fails when required).
        .target(name: "TestSupport", dependencies: ["SlimCore", "SlimCPU", "SlimOpenCL", "SlimParallel"], path: "Tests/TestSupport",
                swiftSettings: strict),
        .testTarget(name: "SlimCoreTests", dependencies: ["TestSupport", "SlimCore", "SlimParallel"], swiftSettings: strict),
        .testTarget(name: "ConformanceTests", dependencies: ["SlimConformance", "SlimCore", "SlimCPU", "SlimOpenCL", "Kernels"],
                    swiftSettings: strict),
        .testTarget(name: "SlimModelTests", dependencies: ["TestSupport", "SlimModel", "SlimCompress", "SlimCore", "SlimCPU", "SlimOpenCL", "SlimParallel"],
                    swiftSettings: strict),
        /// Runs the `slim` executable end to end (it is built beside the tests).
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "slim"], swiftSettings: strict),
        /// A trainable BERT student: forward, backward, AdamW, distillation (issue #7).
        .target(name: "SlimTrain", dependencies: ["SlimCompress", "SlimModel", "SlimCore", "SlimParallel"], swiftSettings: strict),
        .testTarget(name: "SlimTrainTests", dependencies: ["TestSupport", "SlimTrain", "SlimModel", "SlimCore", "SlimCPU", "SlimOpenCL", "SlimParallel"],
                    swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)

// `slim distill` trains through SlimTrain (issue #7).
package.targets.first { $0.name == "slim" }?.dependencies.append("SlimTrain")
