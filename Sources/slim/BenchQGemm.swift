import ArgumentParser
import Foundation
import SlimCore
import SlimCPU

struct BenchQGemm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qgemm",
        abstract: "Quantized GEMM Y = X·Wᵀ with W compressed: median time, GFLOP/s, GB/s of weights and activations moved.")

    @Option(help: "int8, w8a8, int4-g32, int4-g64, int4-g128 (-asym), q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q6_k, bf16, f16 (16-bit float weights, fp32 activations); several separated by commas.")
    var format: String = "int8"
    @Option(help: "MxNxK (M tokens, N outputs, K inputs); several separated by commas.") var shape: String = "1x4096x4096"
    @Option(help: "Comma-separated backends (cpu,opencl); default: --backend auto's pick.") var backend: String?
    @Option(help: "Activations: f32 (weight-only), int8 or int8-row (quantized per row, integer dot products; w8a8 implies it), or int8-block (a scale per 32, as llama.cpp's Q8 blocks).")
    var activations: String = "f32"
    @Option(help: "Limit the CPU backend's integer kernels to portable, avx2 or avx512-vnni (ARM64: portable, neon or neon-dotprod; default: the best the CPU has).")
    var isa: String?
    @Option(help: "Cycle through this many different weight matrices, so they do not stay in cache (decode from memory).")
    var matrices = 1
    @Option(help: "Untimed runs first.") var warmup = 3
    @Option(help: "Timed runs (at least 5); the median is reported.") var runs = 15
    @Flag(help: "Print a JSON array, one object per backend, format and shape.") var json = false
    @OptionGroup var rooflinePlot: RooflineOptions

    func validate() throws {
        guard runs >= 5 else { throw ValidationError("--runs must be at least 5") }
        guard matrices >= 1 else { throw ValidationError("--matrices must be at least 1") }
        let precision = try ActivationPrecision(option: activations)
        if let isa, CPUBackend.ISA.allCases.first(where: { $0.description == isa }) == nil {
            throw ValidationError("--isa \(isa): use " + CPUBackend.ISA.allCases.map(\.description).joined(separator: ", "))
        }
        if precision == .int8PerBlock, format.split(separator: ",").contains("w8a8") {
            throw ValidationError("w8a8 quantizes activations per row; use --format int8 --activations int8-block for blocks")
        }
        for s in try BenchSizes.shapes("--shape", shape) {
            let (m, n, k) = (s[0], s[1], s[2])
            // Each weight is made in fp32 first, then packed.
            try BenchSizes.checkOperands("--shape \(m)x\(n)x\(k)", [("W", [matrices, n, k]), ("X", [m, k]), ("Y", [m, n])])
        }
        for f in format.split(separator: ",") where f != "w8a8" { _ = try QuantFormat(parsing: String(f)) }
    }

    func run() throws {
        CPUInfo.measurePeak()
        var results: [[String: Any]] = []
        let limit = CPUBackend.ISA.allCases.first { $0.description == isa }
        for opened in try BackendSelection.openList(self.backend) {
            let backend: any Backend = opened is CPUBackend && limit != nil ? CPUBackend(isa: limit!) : opened
            for f in format.split(separator: ",").map(String.init) {
                for s in try BenchSizes.shapes("--shape", shape) {
                    let r = try measure(backend, format: f, m: s[0], n: s[1], k: s[2])
                    results.append(r)
                    if !json { print(benchLine(r) + String(format: "  weights %.1f MiB", Double(r["weight_bytes"] as! Int) / 1048576)) }
                }
            }
        }
        if json { try printJSON(results) }
        try rooflinePlot.draw(results)
    }

    private func measure(_ backend: any Backend, format name: String, m: Int, n: Int, k: Int) throws -> [String: Any] {
        let precision = try ActivationPrecision(option: self.activations)
        let w8a8 = name == "w8a8" || precision != .f32
        let format = name == "w8a8" ? QuantFormat.int8PerChannel : try QuantFormat(parsing: name)
        try format.validate(rows: n, columns: k)
        var rng = SystemRandomNumberGenerator()
        var weights: [QuantizedTensor] = []
        var reference: [Float] = []
        for i in 0..<matrices {
            let values = (0..<n * k).map { _ in Float.random(in: -1..<1, using: &rng) }
            let e = try QuantCodec.encode(values, rows: n, columns: k, format: format)
            if i == 0 { reference = try QuantCodec.decode(e, rows: n, columns: k, format: format) }
            weights.append(try backend.upload(e, rows: n, columns: k, format: format, name: "W\(i)"))
        }
        let xValues = (0..<m * k).map { _ in Float.random(in: -1..<1, using: &rng) }
        let x = try backend.tensor(xValues, shape: [m, k], name: "X")
        let y = try backend.allocate([m, n], name: "Y")
        let activations: ActivationPrecision = !w8a8 ? .f32 : precision == .int8PerBlock ? .int8PerBlock : .int8PerRow
        var next = 0
        let ms = try medianMilliseconds(warmup: warmup, runs: runs) {
            try backend.quantizedMatmul(x, weights[next % matrices], bias: nil, into: y, activations: activations)
            try backend.synchronize()
            next += 1
        }
        // Check the last product (weights[0] when matrices == 1) against the dequantized reference.
        try backend.quantizedMatmul(x, weights[0], bias: nil, into: y, activations: activations)
        try spotCheck(try backend.floats(y), x: xValues, w: reference, m: m, n: n, k: k, loose: w8a8)
        let shape = QuantizedMatmulShape.Dims(m: m, n: n, k: k)
        let label = w8a8 && name != "w8a8" ? name + (activations == .int8PerBlock ? "+a8b" : "+a8") : name
        var record = benchRecord(backend, op: "qgemm_\(label)", shape: "\(m)x\(n)x\(k)", ms: ms, flops: shape.flops,
                                 bytes: Double(weights[0].byteCount + (m * k + m * n) * 4), runs: runs)
        record["format"] = name
        record["activations"] = activations == .int8PerBlock ? "int8-block" : w8a8 ? "int8" : "f32"
        record["weight_bytes"] = weights[0].byteCount
        record["matrices"] = matrices
        if let cpu = backend as? CPUBackend, w8a8 { record["isa"] = min(cpu.isa, CPUBackend.ISA.best).description }
        return record
    }

    private func spotCheck(_ y: [Float], x: [Float], w: [Float], m: Int, n: Int, k: Int, loose: Bool) throws {
        for probe in 0..<16 {
            let t = (probe * 7919) % m, r = (probe * 104_729) % n
            var sum = 0.0, norm = 0.0
            for j in 0..<k {
                sum += Double(x[t * k + j]) * Double(w[r * k + j])
                norm += abs(Double(x[t * k + j]) * Double(w[r * k + j]))
            }
            // W8A8 also rounds X to 8 bits (≈ 0.4% of |x|); weight-only is fp32 accumulation.
            let tolerance = (loose ? 1e-2 : 1e-5) * max(norm, 1)
            if abs(Double(y[t * n + r]) - sum) > tolerance {
                throw SlimError.invalidArgument("qgemm result wrong at (\(t), \(r)): \(y[t * n + r]) vs \(sum)")
            }
        }
    }
}
