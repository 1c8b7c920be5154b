import SlimCore

extension OpenCLBackend {
    public func gemm(_ a: Tensor, _ b: Tensor, into c: Tensor, options: GemmOptions) throws {
        let s = try GemmShape(a: a, b: b, c: c, options: options)
        try requireOn(id, [a, b, c] + (options.bias.map { [$0] } ?? []), op: "gemm")
        let transposes = "-D TRANS_A=\(options.transposeA ? 1 : 0) -D TRANS_B=\(options.transposeB ? 1 : 0)"
        let arguments: [KernelArgument] = [
            .int(s.m), .int(s.n), .int(s.k), .float(options.alpha), .float(options.beta),
            .buffer(a), .buffer(b), .buffer(c), options.bias.map { .buffer($0) } ?? .null,
            .int(options.epilogue == .gelu ? 1 : 0),
        ]
        switch tuning.gemm {
        case let .tiled(tile, wpt):
            try launch("gemm", "gemm_tiled", options: "\(transposes) -D TS=\(tile) -D WPT=\(wpt)", arguments,
                       global: [s.n, (s.m + tile - 1) / tile * (tile / wpt)], local: [tile, tile / wpt])
        case let .blocked(rows, vectors):
            // Fewer rows per work-item than the tuned block when M is small
            // (decode): otherwise every block would take the scalar edge path.
            let mr = s.m < rows ? 1 : rows
            try launch("gemm", "gemm_blocked", options: "\(transposes) -D MR=\(mr) -D NV=\(vectors)", arguments,
                       global: [(s.m + mr - 1) / mr, (s.n + 8 * vectors - 1) / (8 * vectors)], local: [1, 1])
        }
    }
}
