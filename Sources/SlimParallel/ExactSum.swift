import CParallel
import SlimCore

/// A sum of float arrays that is the same bits however it is split: over
/// calibration sequences in one process, over the devices of a machine, or over
/// MPI ranks. Each value is counted in units of 2^-64 in a 128-bit integer
/// (values below 2^-64 in magnitude are dropped, ones of 2^62 or more refused),
/// and integer addition is associative; the total is rounded to double once.
/// So a GPTQ Hessian summed by two ranks equals the one summed by one rank bit
/// for bit, and usually more accurately than float32 accumulation.
///
/// Memory: 16 bytes per element (a packed triangle of a 11008² Hessian: 0.97 GB).
/// The exchange sends 3 int64 limbs per element (24 bytes), a chunk at a time,
/// so it adds little to the peak (see ``total(over:step:)``).
public struct ExactSum {
    public let count: Int
    /// Two words per element: a little-endian Int128.
    private var words: [UInt64]
    /// What the values are, for errors.
    public let name: String

    public init(count: Int, name: String) {
        self.count = count
        self.name = name
        words = [UInt64](repeating: 0, count: 2 * count)
    }

    public mutating func add(_ values: [Float]) throws {
        try check(values.count)
        let bad = words.withUnsafeMutableBufferPointer { w in values.withUnsafeBufferPointer { slim_exact_add_f32(w.baseAddress!, $0.baseAddress!, count) } }
        if bad != 0 { throw refused(Double(values[bad - 1]), at: bad - 1) }
    }

    public mutating func add(_ values: [Double]) throws {
        try check(values.count)
        let bad = words.withUnsafeMutableBufferPointer { w in values.withUnsafeBufferPointer { slim_exact_add_f64(w.baseAddress!, $0.baseAddress!, count) } }
        if bad != 0 { throw refused(values[bad - 1], at: bad - 1) }
    }

    /// Adds the upper-triangle part (column ≥ row) of rows `first..<first + rows` of a row-major
    /// `side`×`side` matrix (`panel` holds just those rows) to a sum of side·(side+1)/2 elements:
    /// a symmetric matrix's sum at half the memory, read a panel of rows at a time.
    public mutating func addUpperTriangle(rows panel: UnsafeBufferPointer<Float>, first: Int, side: Int) throws {
        let rows = panel.count / max(side, 1)
        guard rows * side == panel.count, first >= 0, first + rows <= side else {
            throw SlimError.shapeMismatch(op: "exact sum of \(name)", detail: "\(panel.count) values are not whole rows \(first)… of a \(side)×\(side) matrix")
        }
        try check(side * (side + 1) / 2)
        guard rows > 0 else { return }
        let bad = words.withUnsafeMutableBufferPointer { slim_exact_add_f32_upper($0.baseAddress!, panel.baseAddress!, side, first, rows) }
        if bad != 0 {
            var row = 0, column = bad - 1  // the packed index back to (row, column)
            while column >= side - row { column -= side - row; row += 1 }
            throw refused(Double(panel[(row - first) * side + row + column]), at: bad - 1)
        }
    }

    /// The whole matrix at once.
    public mutating func addUpperTriangle(_ matrix: [Float], side: Int) throws {
        guard matrix.count == side * side else {
            throw SlimError.shapeMismatch(op: "exact sum of \(name)", detail: "\(matrix.count) values are not a \(side)×\(side) matrix")
        }
        try matrix.withUnsafeBufferPointer { try addUpperTriangle(rows: $0, first: 0, side: side) }
    }

    /// Elements exchanged per collective call: 24 MB of limbs, so the exchange never holds
    /// more than that beside the sum and its result.
    public static let exchangeChunk = 1 << 20

    /// The sum over every rank's sums, in double, the same on every rank. Every rank makes the
    /// same sequence of collective calls (one per chunk of ``exchangeChunk`` elements).
    public func total(over collective: any Collective, step: String) throws -> [Double] {
        var out = [Double](repeating: 0, count: count)
        var start = 0
        while start < count {
            let n = min(Self.exchangeChunk, count - start)
            var limbs = [Int64](repeating: 0, count: 3 * n)
            words.withUnsafeBufferPointer { w in limbs.withUnsafeMutableBufferPointer { slim_exact_to_limbs(w.baseAddress! + 2 * start, $0.baseAddress!, n) } }
            if collective.size > 1 { limbs = try collective.allReduceSum(limbs, step: step) }
            let bad = limbs.withUnsafeBufferPointer { l in out.withUnsafeMutableBufferPointer { slim_exact_from_limbs(l.baseAddress!, $0.baseAddress! + start, n) } }
            guard bad == 0 else {
                throw SlimError.nonFinite(tensor: name, origin: step, detail: "a sum beyond 2^62 at element \(start + bad - 1)")
            }
            start += n
        }
        return out
    }

    private func check(_ n: Int) throws {
        guard n == count else { throw SlimError.shapeMismatch(op: "exact sum of \(name)", detail: "\(n) values added to a sum of \(count)") }
    }

    private func refused(_ value: Double, at index: Int) -> SlimError {
        .nonFinite(tensor: name, origin: "exact sum", detail: "\(value) at element \(index) (finite values below 2^62 in magnitude are summed, and totals below 2^62)")
    }
}
