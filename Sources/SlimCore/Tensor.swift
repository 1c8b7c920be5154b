/// Identifies one backend instance, so a tensor can say where it lives.
public struct BackendID: Sendable, Hashable, CustomStringConvertible {
    public let kind: BackendKind
    /// Distinguishes several devices of one kind (two OpenCL devices, say).
    public let instance: Int
    public let name: String

    public init(kind: BackendKind, instance: Int, name: String) {
        self.kind = kind
        self.instance = instance
        self.name = name
    }

    public static func == (a: BackendID, b: BackendID) -> Bool { a.kind == b.kind && a.instance == b.instance }
    public func hash(into h: inout Hasher) { h.combine(kind); h.combine(instance) }
    public var description: String { "\(kind.rawValue):\(instance) (\(name))" }
}

public enum BackendKind: String, Sendable, Hashable, CaseIterable {
    case cpu, opencl
}

/// The memory behind a tensor: host memory for the CPU backend, a `cl_mem` for
/// OpenCL. Only the backend that made it knows its concrete type.
public protocol TensorStorage: AnyObject, Sendable {
    var owner: BackendID { get }
    var byteCount: Int { get }
}

/// A dense array of `shape` elements of `dtype`, living on one backend.
///
/// A tensor is a value that shares its storage: copies of a `Tensor` alias the
/// same memory, and ``reshaped(_:)`` is free. Moving data between host and
/// device is explicit (``Backend/upload(_:to:)``, ``Backend/download(_:)``).
public struct Tensor: Sendable, CustomStringConvertible {
    public let shape: Shape
    public let dtype: DType
    public let storage: any TensorStorage
    /// A name for error messages ("layer.0.attention.q.weight"); empty if none.
    public var name: String

    public init(shape: Shape, dtype: DType, storage: any TensorStorage, name: String = "") {
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
        self.name = name
    }

    public var elementCount: Int { shape.elementCount }
    public var byteCount: Int { dtype.byteCount(elements: shape.elementCount) }
    public var backend: BackendID { storage.owner }

    /// The same memory seen with another shape of the same element count.
    public func reshaped(_ newShape: Shape) throws(SlimError) -> Tensor {
        // Checked: the new shape comes from the caller, and its product may not fit an Int.
        guard let count = newShape.checkedElementCount, count == shape.elementCount else {
            throw .shapeMismatch(op: "reshape", detail: "\(label) has \(shape.elementCount) elements, \(newShape) has "
                                     + (newShape.checkedElementCount.map(String.init) ?? "a count that overflows or a negative dimension"))
        }
        return Tensor(shape: newShape, dtype: dtype, storage: storage, name: name)
    }

    public func named(_ name: String) -> Tensor { var t = self; t.name = name; return t }

    /// How error messages refer to this tensor.
    public var label: String { (name.isEmpty ? "tensor" : "'\(name)'") + " \(shape) \(dtype)" }
    public var description: String { "Tensor(\(label) on \(backend))" }
}
