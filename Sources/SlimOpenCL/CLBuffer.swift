import COpenCL
import SlimCore

/// Device memory behind an OpenCL tensor; released when the last tensor using it goes.
final class CLBuffer: TensorStorage, @unchecked Sendable {
    // @unchecked: cl_mem handles are thread-safe OpenCL objects, and this class never mutates.
    let owner: BackendID
    let byteCount: Int
    let mem: cl_mem

    init(owner: BackendID, byteCount: Int, mem: cl_mem) {
        self.owner = owner
        self.byteCount = byteCount
        self.mem = mem
    }

    deinit { clReleaseMemObject(mem) }
}

extension Tensor {
    /// The `cl_mem` of an OpenCL tensor (the backend has checked where it lives).
    var clMem: cl_mem { (storage as! CLBuffer).mem }
}
