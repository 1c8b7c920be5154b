/// Sizes computed from untrusted numbers (a file's header, a command line)
/// with overflow checks: a product that does not fit an `Int` is an error to
/// report, not a trap. Shapes, allocations, file readers and the benchmarks'
/// shape options all count elements and bytes through here.
public enum CheckedSize {
    /// The product of `factors`, or nil if one is negative or the product overflows.
    public static func product(_ factors: some Sequence<Int>) -> Int? {
        var result = 1
        for f in factors {
            guard f >= 0 else { return nil }
            let (p, overflow) = result.multipliedReportingOverflow(by: f)
            guard !overflow else { return nil }
            result = p
        }
        return result
    }

    /// `a + b`, or an error saying that `what` has a size that does not fit.
    public static func sum(_ a: Int, _ b: Int, of what: String) throws(SlimError) -> Int {
        let (s, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw .invalidArgument("\(what): \(a) + \(b) overflows a 64-bit count") }
        return s
    }

    /// The product of `factors`, or an error saying that `what` (`"--shape 9x9x9"`,
    /// `"tensor 'w'"`) has a size that does not fit.
    public static func product(_ factors: [Int], of what: String) throws(SlimError) -> Int {
        if let negative = factors.first(where: { $0 < 0 }) {
            throw .invalidArgument("\(what): negative size \(negative) in \(factors.map(String.init).joined(separator: "x"))")
        }
        guard let p = product(factors) else {
            throw .invalidArgument("\(what): \(factors.map(String.init).joined(separator: " × ")) overflows a 64-bit count")
        }
        return p
    }
}

extension Shape {
    /// The number of elements, or nil if a dimension is negative or the product overflows.
    public var checkedElementCount: Int? { CheckedSize.product(dims) }
}

extension DType {
    /// Bytes for `elements` elements, or nil if that overflows.
    public func checkedByteCount(elements: Int) -> Int? {
        guard elements >= 0 else { return nil }
        let (bits, overflow) = elements.multipliedReportingOverflow(by: bitWidth)
        guard !overflow, bits <= Int.max - 7 else { return nil }
        return (bits + 7) / 8
    }
}

/// The bytes a new tensor of `shape` and `dtype` needs, checked: every
/// backend's `allocate` starts here, so a shape whose size overflows (or has
/// a negative dimension) is an error before any memory is asked for.
public func allocationBytes(_ shape: Shape, _ dtype: DType, name: String) throws(SlimError) -> Int {
    let what = name.isEmpty ? "allocate \(dtype) tensor" : "allocate '\(name)' (\(dtype))"
    let elements = try CheckedSize.product(shape.dims, of: what)
    guard let bytes = dtype.checkedByteCount(elements: elements) else {
        throw .invalidArgument("\(what): \(elements) elements of \(dtype) overflow a 64-bit byte count")
    }
    return bytes
}
