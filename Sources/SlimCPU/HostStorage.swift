import SlimCore

/// Host memory owned by the CPU backend, 64-byte aligned so SIMD loads never
/// straddle cache lines at the start of a tensor.
final class HostStorage: TensorStorage, @unchecked Sendable {
    // @unchecked: the pointer is written only by ops the caller orders; the
    // class itself never mutates after init.
    let owner: BackendID
    let byteCount: Int
    let pointer: UnsafeMutableRawPointer

    init(owner: BackendID, byteCount: Int) {
        self.owner = owner
        self.byteCount = byteCount
        self.pointer = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
    }

    deinit { pointer.deallocate() }
}

extension Tensor {
    /// The host memory of a CPU tensor as floats (the backend has checked where it lives).
    var hostFloats: UnsafeMutablePointer<Float> {
        (storage as! HostStorage).pointer.assumingMemoryBound(to: Float.self)
    }
    var hostBytes: UnsafeMutableRawPointer { (storage as! HostStorage).pointer }
}
