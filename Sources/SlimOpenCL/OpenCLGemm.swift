import SlimCore

extension OpenCLBackend {
    public func gemm(_ a: Tensor, _ b: Tensor, into c: Tensor, options: GemmOptions) throws {
        let s = try GemmShape(a: a, b: b, c: c, options: options)
        try requireOn(id, [a, b, c] + (options.bias.map { [$0] } ?? []), op: "gemm")
        let transposes = "-D TRANS_A=\(options.transposeA ? 1 : 0) -D TRANS_B=\(options.transposeB ? 1 : 0)"
        func arguments(_ bOperand: Tensor) -> [KernelArgument] {
            [.int(s.m), .int(s.n), .int(s.k), .float(options.alpha), .float(options.beta),
             .buffer(a), .buffer(bOperand), .buffer(c), options.bias.map { .buffer($0) } ?? .null,
             .int(options.epilogue == .gelu ? 1 : 0)]
        }
        switch tuning.gemm {
        case let .tiled(tile, wpt):
            try launch("gemm", "gemm_tiled", options: "\(transposes) -D TS=\(tile) -D WPT=\(wpt)", arguments(b),
                       global: [s.n, (s.m + tile - 1) / tile * (tile / wpt)], local: [tile, tile / wpt])
        case let .blocked(rows, width):
            // Small M (decode) reads B once: packing it would triple the
            // traffic, and a block of `rows` rows would mostly be padding.
            let mr = s.m < rows ? 1 : rows
            let packed = s.m >= packingThreshold
            let strips = (s.n + width - 1) / width
            let options = "\(transposes) -D MR=\(mr) -D VW=\(width) -D PACKED_B=\(packed ? 1 : 0)"
            guard packed else {
                try launch("gemm", "gemm_blocked", options: options, arguments(b),
                           global: [(s.m + mr - 1) / mr, strips], local: [1, 1])
                return
            }
            try withScratch(elements: strips * width * s.k) { panels in
                try launch("gemm", "gemm_pack_b", options: options, [.int(s.n), .int(s.k), .buffer(b), .buffer(panels)],
                           global: [strips, (s.k + 63) / 64], local: [1, 1])
                try launch("gemm", "gemm_blocked", options: options, arguments(panels),
                           global: [(s.m + mr - 1) / mr, strips], local: [1, 1])
            }
        }
    }

    /// From this many rows of A, B is packed into panels first (see gemm.cl).
    var packingThreshold: Int { tuning.gemmPackFromRows }
}
