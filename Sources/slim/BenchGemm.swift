import ArgumentParser
import Foundation
import SlimCore

struct BenchGemm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "fp32 GEMM C = A·B: median time, GFLOP/s, GB/s and % of the device's peak.")

    @Option(help: "MxNxK; several separated by commas.") var shape: String = "1024x1024x1024"
    @Option(help: "Comma-separated backends (cpu,opencl); default: --backend auto's pick.") var backend: String?
    @Flag(help: "Multiply by Aᵀ with A stored [K, M], as a linear layer's weight gradient dYᵀ·X is.") var transposeA = false
    @Flag(help: "Multiply by Bᵀ with B stored [N, K], as a linear layer's weight is.") var transposeB = false
    @Option(help: "Untimed runs first.") var warmup = 2
    @Option(help: "Timed runs (at least 5); the median is reported.") var runs = 7
    @Flag(help: "Print a JSON array, one object per backend and shape.") var json = false
    @OptionGroup var rooflinePlot: RooflineOptions

    func validate() throws {
        guard runs >= 5 else { throw ValidationError("--runs must be at least 5") }
        for s in try BenchSizes.shapes("--shape", shape) {
            let (m, n, k) = (s[0], s[1], s[2])
            try BenchSizes.checkOperands("--shape \(m)x\(n)x\(k)", [("A", [m, k]), ("B", [k, n]), ("C", [m, n])])
        }
    }

    func run() throws {
        let shapes = try BenchSizes.shapes("--shape", shape)
        CPUInfo.measurePeak()
        var results: [[String: Any]] = []
        for backend in try BackendSelection.openList(self.backend) {
            for s in shapes {
                let result = try measure(backend, m: s[0], n: s[1], k: s[2])
                results.append(result)
                if !json { print(benchLine(result)) }
            }
        }
        if json { try printJSON(results) }
        try rooflinePlot.draw(results)
    }

    private func measure(_ backend: any Backend, m: Int, n: Int, k: Int) throws -> [String: Any] {
        var rng = SystemRandomNumberGenerator()
        let aValues = (0..<m * k).map { _ in Float.random(in: -1..<1, using: &rng) }
        let bValues = (0..<k * n).map { _ in Float.random(in: -1..<1, using: &rng) }
        let a = try backend.tensor(aValues, shape: transposeA ? [k, m] : [m, k], name: "A")
        let b = try backend.tensor(bValues, shape: transposeB ? [n, k] : [k, n], name: "B")
        let c = try backend.allocate([m, n], name: "C")
        let options = GemmOptions(transposeA: transposeA, transposeB: transposeB)
        let ms = try medianMilliseconds(warmup: warmup, runs: runs) {
            try backend.gemm(a, b, into: c, options: options)
            try backend.synchronize()
        }
        try spotCheck(backend.floats(c), a: aValues, b: bValues, m: m, n: n, k: k)
        let bytes = Double((m * k + k * n + m * n) * 4)
        return benchRecord(backend, op: "gemm" + (transposeA || transposeB ? "_\(transposeA ? "t" : "n")\(transposeB ? "t" : "n")" : ""), shape: "\(m)x\(n)x\(k)", ms: ms,
                           flops: GemmShape(m: m, n: n, k: k).flops, bytes: bytes, runs: runs)
    }

    /// A benchmark of a wrong result is worthless: compare a few elements with float64 dot products.
    private func spotCheck(_ c: [Float], a: [Float], b: [Float], m: Int, n: Int, k: Int) throws {
        for probe in 0..<16 {
            let i = (probe * 7919) % m, j = (probe * 104_729) % n
            var sum = 0.0, norm = 0.0
            for p in 0..<k {
                let bv = transposeB ? b[j * k + p] : b[p * n + j]
                let av = transposeA ? a[p * m + i] : a[i * k + p]
                sum += Double(av) * Double(bv)
                norm += abs(Double(av) * Double(bv))
            }
            // fp32 accumulation: error grows like sqrt(K)·ε·Σ|terms|; 1e-5·Σ|terms| is a loose bound.
            if abs(Double(c[i * n + j]) - sum) > 1e-5 * max(norm, 1) {
                throw SlimError.invalidArgument("gemm result wrong at (\(i), \(j)): \(c[i * n + j]) vs \(sum)")
            }
        }
    }
}
