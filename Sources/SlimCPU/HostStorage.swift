import SlimCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Host memory owned by the CPU backend, 64-byte aligned so SIMD loads never
/// straddle cache lines at the start of a tensor.
final class HostStorage: TensorStorage, @unchecked Sendable {
    // @unchecked: the pointer is written only by ops the caller orders; the
    // class itself never mutates after init.
    let owner: BackendID
    let byteCount: Int
    let pointer: UnsafeMutableRawPointer

    /// `what` names the tensor in the error when the memory cannot be had:
    /// `UnsafeMutableRawPointer.allocate` would stop the process instead.
    init(owner: BackendID, byteCount: Int, what: String) throws(SlimError) {
        var memory: UnsafeMutableRawPointer?
        guard posix_memalign(&memory, 64, max(byteCount, 1)) == 0, let memory else {
            throw .outOfMemory(what: what, bytes: byteCount, device: "the host")
        }
        self.owner = owner
        self.byteCount = byteCount
        self.pointer = memory
    }

    deinit { free(pointer) }
}

extension Tensor {
    /// The host memory of a CPU tensor as floats (the backend has checked where it lives).
    var hostFloats: UnsafeMutablePointer<Float> {
        (storage as! HostStorage).pointer.assumingMemoryBound(to: Float.self)
    }
    var hostBytes: UnsafeMutableRawPointer { (storage as! HostStorage).pointer }
}
