import SlimCore

extension OpenCLBackend {
    public func softmaxRows(_ x: Tensor, into out: Tensor) throws {
        try checkRows(x, out: out, perFeature: [], op: "softmaxRows")
        try requireOn(id, [x, out], op: "softmaxRows")
        let ls = tuning.rowWorkGroup
        try launch("normalization", "softmax_rows", options: "-D LS=\(ls)",
                   [.buffer(x), .buffer(out), .int(x.shape.innermost)],
                   global: [x.shape.outerCount * ls], local: [ls])
    }

    public func layerNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float, into out: Tensor,
                          saving stats: NormStatistics?) throws {
        try checkLayerNorm(x, gamma: gamma, beta: beta, out: out, stats: stats, on: id)
        let rows = x.shape.outerCount
        let ls = tuning.rowWorkGroup
        try launch("normalization", "layernorm_rows", options: "-D LS=\(ls)",
                   [.buffer(x), .buffer(gamma), .buffer(beta), .buffer(out), .int(x.shape.innermost), .float(epsilon),
                    stats.map { .buffer($0.mean) } ?? .null, stats.map { .buffer($0.rstd) } ?? .null],
                   global: [rows * ls], local: [ls])
    }

    public func rmsNorm(_ x: Tensor, weight: Tensor, epsilon: Float, into out: Tensor) throws {
        try checkRows(x, out: out, perFeature: [weight], op: "rmsNorm")
        try requireOn(id, [x, weight, out], op: "rmsNorm")
        let ls = tuning.rowWorkGroup
        try launch("normalization", "rmsnorm_rows", options: "-D LS=\(ls)",
                   [.buffer(x), .buffer(weight), .buffer(out), .int(x.shape.innermost), .float(epsilon)],
                   global: [x.shape.outerCount * ls], local: [ls])
    }
}
