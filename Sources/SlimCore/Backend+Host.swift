// Host-array conveniences over the memory primitives of `Backend`.

extension Backend {
    /// A new fp32 tensor (contents undefined until written).
    public func allocate(_ shape: Shape, name: String = "") throws -> Tensor {
        try allocate(shape, dtype: .f32, name: name)
    }

    /// A new tensor holding `values`.
    public func tensor<T: BitwiseCopyable>(_ values: [T], shape: Shape, dtype: DType = .f32, name: String = "") throws -> Tensor {
        let t = try allocate(shape, dtype: dtype, name: name)
        guard values.count * MemoryLayout<T>.stride == t.byteCount else {
            throw SlimError.shapeMismatch(op: "upload", detail: "\(values.count) host values of \(T.self) for \(t.label)")
        }
        try values.withUnsafeBytes { try upload($0, to: t) }
        return t
    }

    /// The contents of an fp32 tensor, after every queued op has finished.
    public func floats(_ t: Tensor) throws -> [Float] {
        try requireF32(t, op: "download")
        var out = [Float](repeating: 0, count: t.elementCount)
        try out.withUnsafeMutableBytes { try download(t, into: $0) }
        return out
    }

    /// Uploads fp32 `values` into an existing tensor.
    public func write(_ values: [Float], to t: Tensor) throws {
        guard values.count == t.elementCount, t.dtype == .f32 else {
            throw SlimError.shapeMismatch(op: "upload", detail: "\(values.count) floats for \(t.label)")
        }
        try values.withUnsafeBytes { try upload($0, to: t) }
    }

    /// Checks that a host transfer of `count` bytes fits `t` exactly.
    public func checkTransfer(_ t: Tensor, bytes count: Int, op: String) throws(SlimError) {
        try requireOn(id, [t], op: op)
        guard count == t.byteCount else {
            throw .shapeMismatch(op: op, detail: "\(count) host bytes for \(t.label) of \(t.byteCount) bytes")
        }
    }
}
