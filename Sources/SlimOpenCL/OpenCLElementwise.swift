import SlimCore

extension OpenCLBackend {
    public func add(_ a: Tensor, _ b: Tensor, into out: Tensor) throws { try binary(a, b, out, op: "add", code: 0) }
    public func mul(_ a: Tensor, _ b: Tensor, into out: Tensor) throws { try binary(a, b, out, op: "mul", code: 1) }

    public func scale(_ x: Tensor, by alpha: Float, into out: Tensor) throws {
        try checkUnary(x, out: out, op: "scale", on: id)
        try launch("elementwise", "scale", [.buffer(x), .buffer(out), .int(x.elementCount), .float(alpha)],
                   global: [x.elementCount], local: [tuning.elementwiseWorkGroup])
    }

    public func gelu(_ x: Tensor, into out: Tensor) throws {
        try checkUnary(x, out: out, op: "gelu", on: id)
        try launch("elementwise", "gelu", [.buffer(x), .buffer(out), .int(x.elementCount)],
                   global: [x.elementCount], local: [tuning.elementwiseWorkGroup])
    }

    private func binary(_ a: Tensor, _ b: Tensor, _ out: Tensor, op: String, code: Int) throws {
        try checkBroadcast(a, b, out: out, op: op)
        try requireOn(id, [a, b, out], op: op)
        try launch("elementwise", "binary_op",
                   [.buffer(a), .buffer(b), .buffer(out), .int(a.elementCount), .int(b.elementCount), .int(code)],
                   global: [a.elementCount], local: [tuning.elementwiseWorkGroup])
    }
}
