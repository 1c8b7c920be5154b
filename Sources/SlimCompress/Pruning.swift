import Foundation
import SlimCore

/// Which weights pruning removes.
public enum PruningPattern: Sendable, Equatable, CustomStringConvertible {
    /// A fraction of each layer's weights.
    case unstructured(Double)
    /// In every run of `m` consecutive inputs of a row, keep the `n` largest (2:4 is what sparse tensor cores run).
    case nOfM(n: Int, m: Int)
    /// Structured: this fraction of each layer's MLP neurons removed (the matrices shrink).
    case neurons(Double)
    /// Structured: this fraction of each layer's attention heads removed.
    case heads(Double)

    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2, ["unstructured", "neurons", "heads"].contains(parts[0]) {
            guard let f = Double(parts[1]), f > 0, f < 1 else {
                throw SlimError.invalidArgument("pruning pattern '\(text)': the fraction removed must be a number with 0 < f < 1 (removing every \(parts[0] == "unstructured" ? "weight" : parts[0] == "heads" ? "head" : "neuron") leaves nothing to run)")
            }
            self = parts[0] == "neurons" ? .neurons(f) : parts[0] == "heads" ? .heads(f) : .unstructured(f)
        } else if parts.count == 2, let n = Int(parts[0]), let m = Int(parts[1]), n > 0, m > n, m <= 64 {
            self = .nOfM(n: n, m: m)
        } else {
            throw SlimError.invalidArgument("pruning pattern '\(text)': expected N:M (2:4, 4:8), unstructured:F, neurons:F or heads:F (the fraction removed, 0 < F < 1)")
        }
    }

    public var description: String {
        switch self {
        case let .unstructured(f): "unstructured:\(f)"
        case let .nOfM(n, m): "\(n):\(m)"
        case let .neurons(f): "neurons:\(f)"
        case let .heads(f): "heads:\(f)"
        }
    }

    /// Whether whole neurons or heads go (the tensors shrink) rather than single weights (zeroed).
    public var isStructured: Bool {
        switch self {
        case .neurons, .heads: true
        case .unstructured, .nOfM: false
        }
    }

    public var sparsity: Double {
        switch self {
        case let .unstructured(f), let .neurons(f), let .heads(f): f
        case let .nOfM(n, m): 1 - Double(n) / Double(m)
        }
    }
}

/// How a weight's importance is scored before the least important are zeroed.
public enum PruningMethod: String, Sendable, CaseIterable {
    /// |W|, compared across the whole layer.
    case magnitude
    /// Wanda (Sun et al., 2023): |W_ij| · ‖X_j‖, compared within each output row;
    /// needs the inputs' norms from calibration.
    case wanda
}

struct Pruner {
    let pattern: PruningPattern
    let method: PruningMethod

    /// Zeroes the pruned weights of `w` (`[rows, columns]`). `inputNorms` are
    /// ‖X_j‖ per input column (Wanda).
    func prune(_ w: inout [Float], rows: Int, columns k: Int, inputNorms: [Double]?) throws {
        if method == .wanda, inputNorms?.count != k {
            throw SlimError.invalidArgument("Wanda needs the \(k) input norms of the layer from calibration")
        }
        let scores = w.indices.map { Double(abs(w[$0])) * (method == .wanda ? inputNorms![$0 % k] : 1) }
        let score: (Int) -> Double = { scores[$0] }
        switch pattern {
        case .neurons, .heads:
            throw SlimError.invalidArgument("\(pattern) removes whole neurons or heads: ModelPruner slices those, not Pruner")
        case let .nOfM(n, m):
            guard k % m == 0 else { throw SlimError.invalidArgument("\(n):\(m) pruning needs rows whose length \(k) is a multiple of \(m)") }
            for start in stride(from: 0, to: w.count, by: m) {
                let order = (start..<start + m).sorted { score($0) > score($1) }
                for i in order.dropFirst(n) { w[i] = 0 }
            }
        case let .unstructured(fraction):
            if method == .magnitude {
                // One threshold for the layer.
                let drop = Int((Double(w.count) * fraction).rounded())
                for i in w.indices.sorted(by: { score($0) < score($1) }).prefix(drop) { w[i] = 0 }
            } else {
                // Wanda compares weights that feed the same output.
                let drop = Int((Double(k) * fraction).rounded())
                for r in 0..<rows {
                    for i in (r * k..<(r + 1) * k).sorted(by: { score($0) < score($1) }).prefix(drop) { w[i] = 0 }
                }
            }
        }
    }
}
