import SlimCore
import SlimModel

/// H = 2·XᵀX of the inputs of linear layers, summed on the backend over
/// every calibration sequence that passes (the one Hessian loop of encoders
/// and decoders). Layers that share an input share one Hessian: `key` maps a
/// layer's weight name to the name its Hessian is kept under, or nil to skip it.
final class HessianCollector {
    let backend: any Backend
    let key: (String) -> String?
    private var sums: [String: Tensor] = [:]
    /// Rows (tokens) seen per Hessian.
    private(set) var rows: [String: Int] = [:]

    init(backend: any Backend, key: @escaping (String) -> String?) {
        self.backend = backend
        self.key = key
    }

    /// The observer a model's forward pass calls with each linear layer's input `[tokens, K]`.
    func observe(_ name: String, _ x: Tensor) throws {
        guard let key = key(name) else { return }
        let k = x.shape.innermost
        let h = try sums[key] ?? backend.tensor([Float](repeating: 0, count: k * k), shape: [k, k], name: "H " + key)
        sums[key] = h
        rows[key, default: 0] += x.elementCount / k
        try backend.gemm(x, x, into: h, options: GemmOptions(transposeA: true, alpha: 2, beta: 1))
    }

    /// The sums so far, in double, by key.
    func hessians() throws -> [String: [Double]] {
        var result: [String: [Double]] = [:]
        for key in Array(sums.keys) { result[key] = try take(key) }
        return result
    }

    func has(_ key: String) -> Bool { sums[key] != nil }

    /// One sum in double, handed over: the collector forgets it (a k×k Hessian of a wide MLP is
    /// 250 MB in double, so a layer-wise run holds one at a time).
    func take(_ key: String) throws -> [Double]? {
        guard sums[key] != nil else { return nil }
        // The device copy goes before the double one is made: 1½ copies at the peak, not 2½.
        let floats = try backend.floats(sums.removeValue(forKey: key)!)
        return floats.map(Double.init)
    }
}
