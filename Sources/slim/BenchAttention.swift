import ArgumentParser
import Foundation
import SlimCore

struct BenchAttention: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Block-sparse attention forward (and backward): median time, GFLOP/s over the kept blocks, peak memory.")

    @Option(help: "dense, causal, window:W (W tokens each side), causal-window:W, bigbird:WINDOW,GLOBAL,RANDOM (blocks), dilated:REACH,DILATION, strided:S or fixed:S (tokens).")
    var layout: String = "dense"
    @Option(help: "Sequence length(s), comma-separated.") var seq: String = "2048"
    @Option(help: "Heads.") var heads = 8
    @Option(help: "Head dimension.") var dim = 64
    @Option(help: "Sequences per batch.") var batch = 1
    @Option(help: "Block size (16...128); 128 makes the per-block sgemm calls largest.") var block = 128
    @Flag(help: "Time the backward pass too.") var backward = false
    @Option(help: "Comma-separated backends (cpu,opencl); default: --backend auto's pick.") var backend: String?
    @Option(help: "Untimed runs first.") var warmup = 1
    @Option(help: "Timed runs; the median is reported.") var runs = 5
    @Flag(help: "Print a JSON array, one object per backend and length.") var json = false

    func validate() throws {
        guard heads >= 1, dim >= 1, batch >= 1, runs >= 1 else { throw ValidationError("sizes and --runs must be positive") }
        for s in seq.split(separator: ",") where (Int(s) ?? 0) < 1 { throw ValidationError("--seq \(s): expected a positive length") }
        for length in seq.split(separator: ",").compactMap({ Int($0) }) {
            // Q, K, V, O and dO, before the layout (whose size grows with the length) is built.
            try BenchSizes.checkOperands("--seq \(length) --heads \(heads) --dim \(dim) --batch \(batch)",
                                         [("Q, K, V, O, dO", [5, batch, length, heads, dim]), ("log-sum-exp", [batch, heads, length])])
        }
    }

    func run() throws {
        var results: [[String: Any]] = []
        for b in try BackendSelection.openList(backend) {
            for length in seq.split(separator: ",").compactMap({ Int($0) }) {
                let r = try measure(b, length: length)
                results.append(r)
                if !json {
                    print(String(format: "%@ attention %@ L=%d h=%d d=%d%@: forward %.2f ms %.1f GFLOP/s%@, peak %.1f MiB",
                                 b.id.kind.rawValue, layout, length, heads, dim, backward ? " +backward" : "",
                                 r["median_ms"] as! Double, r["gflops"] as! Double,
                                 backward ? String(format: ", backward %.2f ms %.1f GFLOP/s", r["backward_ms"] as! Double,
                                                   r["backward_gflops"] as! Double) : "",
                                 Double(r["peak_bytes"] as! Int) / 1048576))
                }
            }
        }
        if json { try printJSON(results) }
    }

    func makeLayout(_ length: Int) throws -> BlockSparseLayout {
        let parts = layout.split(separator: ":", maxSplits: 1).map(String.init)
        let args = parts.count > 1 ? parts[1].split(separator: ",").compactMap { Int($0) } : []
        func arg(_ i: Int) throws -> Int {
            guard i < args.count else { throw ValidationError("--layout \(layout): missing parameter \(i + 1)") }
            return args[i]
        }
        switch parts[0] {
        case "dense": return try .dense(queryLength: length, keyLength: length, blockSize: block)
        case "causal": return try .causal(queryLength: length, blockSize: block)
        case "window": return try .window(queryLength: length, blockSize: block, left: try arg(0), right: try arg(0))
        case "causal-window": return try .window(queryLength: length, blockSize: block, left: try arg(0), right: 0, causal: true)
        case "bigbird":
            return try .bigBird(length: length, blockSize: block, windowBlocks: try arg(0), globalBlocks: try arg(1), randomBlocks: try arg(2))
        case "dilated": return try .dilated(length: length, blockSize: block, reach: try arg(0), dilation: try arg(1))
        case "strided": return try .strided(length: length, blockSize: block, stride: try arg(0))
        case "fixed": return try .fixed(length: length, blockSize: block, stride: try arg(0))
        default: throw ValidationError("--layout \(layout): unknown pattern")
        }
    }

    private func measure(_ b: any Backend, length: Int) throws -> [String: Any] {
        let lay = try makeLayout(length)
        let shape: Shape = [batch, length, heads, dim]
        var rng = SystemRandomNumberGenerator()
        func random() throws -> Tensor {
            try b.tensor((0..<shape.elementCount).map { _ in Float.random(in: -1..<1, using: &rng) }, shape: shape)
        }
        let (q, k, v, dO) = (try random(), try random(), try random(), try random())
        let o = try b.allocate(shape), lse = try b.allocate([batch, heads, length])
        let options = AttentionOptions(scale: 1 / Float(dim).squareRoot())
        let ms = try medianMilliseconds(warmup: warmup, runs: runs) {
            try b.attention(q, k, v, layout: lay, options: options, into: o, logSumExp: lse)
            try b.synchronize()
        }
        // Score entries inside the kept blocks (ragged edge blocks counted as they are).
        var entries = 0.0
        for r in 0..<lay.queryBlocks {
            let rows = min(lay.blockSize, length - r * lay.blockSize)
            for c in lay.keptColumns(ofRow: r) { entries += Double(rows * min(lay.blockSize, length - c * lay.blockSize)) }
        }
        let flops = 4 * entries * Double(dim * heads * batch)
        let operandBytes = 5 * shape.elementCount * 4 + lse.byteCount
        // Each core holds one block of scores and one of output rows at a time.
        let scratch = CPUInfo.current.cores * (2 * lay.blockSize * lay.blockSize + lay.blockSize * dim) * 4
        var record: [String: Any] = [
            "backend": b.id.kind.rawValue, "device": b.id.name, "layout": layout, "seq": length, "heads": heads, "dim": dim,
            "batch": batch, "block": lay.blockSize, "kept_blocks": lay.keptBlocks, "median_ms": ms,
            "gflops": flops / (ms / 1e3) / 1e9, "peak_bytes": operandBytes + lay.byteCount + scratch, "layout_bytes": lay.byteCount,
        ]
        if backward {
            let grads = AttentionGradients(dq: try b.allocate(shape), dk: try b.allocate(shape), dv: try b.allocate(shape))
            let bms = try medianMilliseconds(warmup: warmup, runs: runs) {
                try b.attentionBackward(q, k, v, output: o, logSumExp: lse, gradOutput: dO, layout: lay, options: options, into: grads)
                try b.synchronize()
            }
            record["backward_ms"] = bms
            record["backward_gflops"] = 2.5 * flops / (bms / 1e3) / 1e9
            record["peak_bytes"] = operandBytes + 3 * shape.elementCount * 4 + lse.byteCount + lay.byteCount + scratch
        }
        return record
    }
}
