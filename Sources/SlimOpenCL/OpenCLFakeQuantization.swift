import SlimCore

// Host code of Kernels/fake_quant.cl: one program per grid (group size and
// integer range are compile-time constants of the kernel).

extension OpenCLBackend {
    private func fakeQuantOptions(_ grid: FakeQuantGrid) -> String {
        "-D G=\(grid.groupSize) -D LO=\(grid.low) -D HI=\(grid.high) -D LS=\(tuning.rowWorkGroup)"
            + (device.correctlyRoundedDivide ? " -cl-fp32-correctly-rounded-divide-sqrt" : "")
    }

    public func fakeQuantize(_ w: Tensor, scales: Tensor, zeros: Tensor?, grid: FakeQuantGrid, into out: Tensor) throws {
        try checkFakeQuantize(w, scales: scales, zeros: zeros, grid: grid, outputs: [out], op: "fakeQuantize", on: id)
        try launch("fake_quant", "fake_quantize", options: fakeQuantOptions(grid),
                   [.buffer(w), .buffer(scales), zeros.map { .buffer($0) } ?? .null, .buffer(out), .int(w.elementCount)],
                   global: [w.elementCount], local: [tuning.elementwiseWorkGroup])
    }

    public func fakeQuantizeBackward(_ w: Tensor, scales: Tensor, zeros: Tensor?, grid: FakeQuantGrid, gradOutput dy: Tensor,
                                     into dw: Tensor, scaleGradient: Tensor?) throws {
        try checkFakeQuantize(w, scales: scales, zeros: zeros, grid: grid, outputs: [dy, dw],
                              groupTensors: scaleGradient.map { [$0] } ?? [], op: "fakeQuantizeBackward", on: id)
        let ls = tuning.rowWorkGroup
        try launch("fake_quant", "fake_quantize_backward", options: fakeQuantOptions(grid),
                   [.buffer(w), .buffer(scales), zeros.map { .buffer($0) } ?? .null, .buffer(dy), .buffer(dw),
                    scaleGradient.map { .buffer($0) } ?? .null],
                   global: [scales.elementCount * ls], local: [ls])
    }
}
