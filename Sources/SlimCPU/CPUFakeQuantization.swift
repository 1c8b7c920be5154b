import SlimCore

// Fake quantization for quantization-aware training (issue #9): every group
// of a weight row in one loop, the definition of FakeQuantGrid applied value
// by value, so the forward equals the codec's encode-then-decode exactly.

extension CPUBackend {
    public func fakeQuantize(_ w: Tensor, scales: Tensor, zeros: Tensor?, grid: FakeQuantGrid, into out: Tensor) throws {
        try checkFakeQuantize(w, scales: scales, zeros: zeros, grid: grid, outputs: [out], op: "fakeQuantize", on: id)
        let wp = w.hostFloats, sp = scales.hostFloats, zp = zeros?.hostFloats, op = out.hostFloats, g = grid.groupSize
        parallelChunks(scales.elementCount, grain: max(1, 16_384 / g)) { groups in
            for group in groups {
                let s = sp[group], z = zp?[group] ?? 0
                for i in group * g..<(group + 1) * g { op[i] = grid.reference(wp[i], scale: s, zero: z).value }
            }
        }
    }

    public func fakeQuantizeBackward(_ w: Tensor, scales: Tensor, zeros: Tensor?, grid: FakeQuantGrid, gradOutput dy: Tensor,
                                     into dw: Tensor, scaleGradient: Tensor?) throws {
        try checkFakeQuantize(w, scales: scales, zeros: zeros, grid: grid, outputs: [dy, dw],
                              groupTensors: scaleGradient.map { [$0] } ?? [], op: "fakeQuantizeBackward", on: id)
        let wp = w.hostFloats, sp = scales.hostFloats, zp = zeros?.hostFloats, dyp = dy.hostFloats, dwp = dw.hostFloats
        let dsp = scaleGradient?.hostFloats, g = grid.groupSize
        parallelChunks(scales.elementCount, grain: max(1, 16_384 / g)) { groups in
            for group in groups {
                let s = sp[group], z = zp?[group] ?? 0
                var ds: Float = 0
                for i in group * g..<(group + 1) * g {
                    let d = grid.reference(wp[i], scale: s, zero: z)
                    dwp[i] = dyp[i] * d.dw
                    ds += dyp[i] * d.ds
                }
                dsp?[group] = ds
            }
        }
    }
}
