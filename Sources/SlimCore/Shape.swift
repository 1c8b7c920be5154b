/// The dimensions of a ``Tensor``, outermost first (row-major, last dimension contiguous).
public struct Shape: Sendable, Hashable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var dims: [Int]

    public init(_ dims: [Int]) { self.dims = dims }
    public init(arrayLiteral dims: Int...) { self.dims = dims }

    public var rank: Int { dims.count }
    public var elementCount: Int { dims.reduce(1, *) }
    public subscript(i: Int) -> Int { dims[i < 0 ? dims.count + i : i] }

    /// The last dimension (1 for a scalar).
    public var innermost: Int { dims.last ?? 1 }
    /// The product of every dimension but the last: the number of rows of the
    /// tensor viewed as a matrix over its last dimension.
    public var outerCount: Int { dims.dropLast().reduce(1, *) }

    public var description: String { "[" + dims.map(String.init).joined(separator: "x") + "]" }

    /// Parses `MxNxK`-style text, as the command line writes shapes: positive
    /// sizes whose product fits an `Int` (``elementCount`` would trap on one that does not).
    public init?(parsing text: String) {
        let parts = text.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        self.dims = parts.map { $0! }
        guard checkedElementCount != nil else { return nil }
    }
}
