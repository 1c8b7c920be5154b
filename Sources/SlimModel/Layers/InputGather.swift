import SlimCore

/// `x[:, order]`: a layer's input columns in the order its weight's columns
/// were stored (GPTQ act-order checkpoints sorted into Slim's contiguous
/// groups). Kept as runs of consecutive columns, each copied with one
/// `copyElements` per row: exact on every backend, with no kernel of its own.
/// Act-order permutations have short runs, so this costs about one copy per
/// input element per row; fine for decoding, slow for long prompts.
public struct InputGather: Sendable {
    /// (first input column, count, destination column).
    public let runs: [(from: Int, count: Int, to: Int)]
    public let width: Int

    public init(_ order: [Int]) {
        var runs: [(Int, Int, Int)] = []
        for (to, from) in order.enumerated() {
            if let last = runs.last, last.0 + last.1 == from, last.2 + last.1 == to {
                runs[runs.count - 1].1 += 1
            } else {
                runs.append((from, 1, to))
            }
        }
        self.runs = runs.map { (from: $0.0, count: $0.1, to: $0.2) }
        width = order.count
    }

    public func apply(_ x: Tensor, on backend: any Backend, name: String) throws -> Tensor {
        let rows = x.shape.outerCount
        guard x.shape.elementCount == rows * width else {
            throw SlimError.shapeMismatch(op: "gather the input of \(name)", detail: "input \(x.shape) is not rows of \(width)")
        }
        let out = try backend.allocate(x.shape, name: name + " gathered input")
        for r in 0..<rows {
            for run in runs { try backend.copyElements(x, from: r * width + run.from, to: out, at: r * width + run.to, count: run.count) }
        }
        return out
    }
}
