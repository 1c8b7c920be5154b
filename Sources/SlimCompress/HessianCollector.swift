import SlimCore
import SlimModel
import SlimParallel

/// H = 2·XᵀX of the inputs of linear layers, summed over every calibration
/// sequence that passes (the one Hessian loop of encoders and decoders). Layers
/// that share an input share one Hessian: `key` maps a layer's weight name to
/// the name its Hessian is kept under, or nil to skip it.
///
/// Two ways to sum:
/// - `exact` (the layer-wise decoder pipeline): each sequence's 2·XᵀX is computed
///   on the backend and added on the host to an ``ExactSum``, so the Hessian is
///   the same bits however the sequences are split over ranks or devices (and
///   is not rounded to float32 at every sequence). With several ranks each
///   collects its own sequences and ``take(_:)`` sums them over `collective`:
///   every rank calls it for the same keys in the same order. Only the upper
///   triangle is summed (H is symmetric; the lower is its mirror), so it costs
///   8 bytes per element of H on the host while collecting (one block's
///   Hessians at a time), and ``take(_:)`` peaks at 12 (the packed sum, then its
///   double result, then the full matrix).
/// - otherwise (one process only): float32 sums on the backend, 4 bytes per
///   element, for callers that hold every block's Hessians at once.
final class HessianCollector {
    let backend: any Backend
    let key: (String) -> String?
    let collective: (any Collective)?
    private var sums: [String: ExactSum] = [:]
    private var deviceSums: [String: Tensor] = [:]
    /// One k×k product per width, reused across sequences.
    private var scratch: [Int: Tensor] = [:]
    /// A panel of rows of that product, to read it to the host in pieces.
    private var panels: [Int: Tensor] = [:]
    /// Rows (tokens) seen per Hessian, by this rank.
    private(set) var rows: [String: Int] = [:]

    /// `collective`: sum exactly, over these ranks; nil: float32 sums on the backend.
    /// Elements of the product read to the host at a time (whole rows; 4 MB by default).
    let panelElements: Int

    init(backend: any Backend, exactOver collective: (any Collective)? = nil, panelElements: Int = 1 << 20,
         key: @escaping (String) -> String?) {
        self.backend = backend
        self.panelElements = panelElements
        self.collective = collective
        self.key = key
    }

    /// The observer a model's forward pass calls with each linear layer's input `[tokens, K]`.
    func observe(_ name: String, _ x: Tensor) throws {
        guard let key = key(name) else { return }
        let k = x.shape.innermost
        guard collective != nil else {
            let h = try deviceSums[key] ?? backend.tensor([Float](repeating: 0, count: k * k), shape: [k, k], name: "H " + key)
            deviceSums[key] = h
            rows[key, default: 0] += x.elementCount / k
            try backend.gemm(x, x, into: h, options: GemmOptions(transposeA: true, alpha: 2, beta: 1))
            return
        }
        let product = try scratch[k] ?? backend.allocate([k, k], name: "XᵀX of width \(k)")
        scratch[k] = product
        rows[key, default: 0] += x.elementCount / k
        try backend.gemm(x, x, into: product, options: GemmOptions(transposeA: true, alpha: 2, beta: 0))
        var sum = sums.removeValue(forKey: key) ?? ExactSum(count: k * (k + 1) / 2, name: "H " + key)
        try addUpperTriangle(of: product, side: k, to: &sum)
        sums[key] = sum
    }

    /// Reads the k×k product a panel of rows at a time, not as one k² host copy.
    private func addUpperTriangle(of product: Tensor, side k: Int, to sum: inout ExactSum) throws {
        let rows = min(k, max(1, panelElements / k))
        let panel = try panels[k] ?? backend.allocate([rows, k], name: "rows of XᵀX of width \(k)")
        panels[k] = panel
        var host = [Float](repeating: 0, count: rows * k)
        for first in stride(from: 0, to: k, by: rows) {
            let n = min(rows, k - first)
            try backend.copyElements(product, from: first * k, to: panel, at: 0, count: n * k)
            try host.withUnsafeMutableBytes { try backend.download(panel, into: $0) }
            try host.withUnsafeBufferPointer { try sum.addUpperTriangle(rows: UnsafeBufferPointer(rebasing: $0[0..<n * k]), first: first, side: k) }
        }
    }

    /// The sums so far, in double, by key (in key order, so every rank exchanges them in the same order).
    func hessians() throws -> [String: [Double]] {
        var result: [String: [Double]] = [:]
        for key in (Array(sums.keys) + Array(deviceSums.keys)).sorted() { result[key] = try take(key) }
        return result
    }

    func has(_ key: String) -> Bool { sums[key] != nil || deviceSums[key] != nil }

    /// One sum over every rank in double, handed over: the collector forgets it (a k×k Hessian of a
    /// wide MLP is 250 MB in double, so a layer-wise run holds one at a time).
    func take(_ key: String) throws -> [Double]? {
        if let h = deviceSums.removeValue(forKey: key) {
            // The device copy goes before the double one is made: 1½ copies at the peak, not 2½.
            return try backend.floats(h).map(Double.init)
        }
        guard var sum = sums.removeValue(forKey: key), let collective else { return nil }
        if sums.isEmpty { scratch = [:]; panels = [:] }
        var packed = try sum.total(over: collective, step: "summing the Hessian of \(key)")
        sum = ExactSum(count: 0, name: sum.name)  // the 16-byte words go before the full matrix is made
        return Self.symmetric(fromUpperTriangle: &packed)
    }

    /// The row-major k×k matrix whose upper triangle (row i: columns i..<k) is `packed`;
    /// `packed` is emptied as it is read, so the peak is the packed triangle plus the matrix.
    static func symmetric(fromUpperTriangle packed: inout [Double]) -> [Double] {
        let k = (Int(Double(8 * packed.count + 1).squareRoot()) - 1) / 2
        precondition(k * (k + 1) / 2 == packed.count, "\(packed.count) is not a triangle's size")
        var full = [Double](repeating: 0, count: k * k)
        var p = 0
        for i in 0..<k {
            for j in i..<k {
                full[i * k + j] = packed[p]
                full[j * k + i] = packed[p]
                p += 1
            }
        }
        packed = []
        return full
    }
}
