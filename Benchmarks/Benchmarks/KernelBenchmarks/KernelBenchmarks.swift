import Benchmark
import SlimCore
import SlimCPU
import SlimOpenCL

/// Every backend on this machine: the CPU, and the first OpenCL device if any.
let backends: [any Backend] = {
    var list: [any Backend] = [CPUBackend()]
    if let device = try? OpenCLBackend.preferredDevice(), let b = try? OpenCLBackend(device: device) { list.append(b) }
    return list
}()

/// fp32 GEMM at the shapes the foundation issue reports, per backend. Throughput
/// is counted in flops (scaled to GFLOP/s by package-benchmark's output).
let benchmarks: @Sendable () -> Void = {
    for backend in backends {
        for (m, n, k) in [(1024, 1024, 1024), (64, 4096, 4096), (1, 4096, 4096)] {
            let name = "gemm \(backend.id.kind.rawValue) \(m)x\(n)x\(k)"
            Benchmark(name, configuration: .init(metrics: [.wallClock, .throughput], warmupIterations: 2,
                                                 scalingFactor: .one, maxDuration: .seconds(3), maxIterations: 50)) { benchmark in
                let a = try backend.tensor([Float](repeating: 0.5, count: m * k), shape: [m, k])
                let b = try backend.tensor([Float](repeating: 0.25, count: k * n), shape: [k, n])
                let c = try backend.allocate([m, n])
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    try backend.gemm(a, b, into: c, options: GemmOptions())
                    try backend.synchronize()
                }
            }
        }
    }
}
