import Foundation
import SlimCore

/// The float64 references the conformance suite and `slim selftest` share.

/// Normalised mean squared error, mse(actual, ref) / mse(ref, 0) (ggml's metric).
public func nmse(_ actual: [Float], _ reference: [Double]) -> Double {
    var err = 0.0, norm = 0.0
    for (a, r) in zip(actual, reference) {
        err += (Double(a) - r) * (Double(a) - r)
        norm += r * r
    }
    return err / max(norm, .leastNormalMagnitude)
}

public func referenceGemm(m: Int, n: Int, k: Int, a: [Float], b: [Float], c: [Float], options: GemmOptions,
                   bias: [Float]?) -> [Double] {
    var out = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k {
                let av = options.transposeA ? a[p * m + i] : a[i * k + p]
                let bv = options.transposeB ? b[j * k + p] : b[p * n + j]
                sum += Double(av) * Double(bv)
            }
            var v = Double(options.alpha) * sum
            if options.beta != 0 { v += Double(options.beta) * Double(c[i * n + j]) }
            if let bias { v += Double(bias[j]) }
            if options.epilogue == .gelu { v = referenceGelu(v) }
            out[i * n + j] = v
        }
    }
    return out
}

public func referenceGelu(_ x: Double) -> Double { 0.5 * x * erfc(-x / 2.0.squareRoot()) }

public func referenceSoftmax(_ x: [Float], width: Int) -> [Double] {
    stride(from: 0, to: x.count, by: width).flatMap { start -> [Double] in
        let row = x[start..<start + width].map(Double.init)
        let peak = row.max()!
        let e = row.map { exp($0 - peak) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}

public func referenceLayerNorm(_ x: [Float], gamma: [Float], beta: [Float], eps: Float, width: Int)
    -> (y: [Double], mean: [Double], rstd: [Double]) {
    var y: [Double] = [], means: [Double] = [], rstds: [Double] = []
    for start in stride(from: 0, to: x.count, by: width) {
        let row = x[start..<start + width].map(Double.init)
        let mean = row.reduce(0, +) / Double(width)
        let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
        let rstd = 1 / (variance + Double(eps)).squareRoot()
        y += row.enumerated().map { j, v in (v - mean) * rstd * Double(gamma[j]) + Double(beta[j]) }
        means.append(mean)
        rstds.append(rstd)
    }
    return (y, means, rstds)
}

/// GELU'(x) = Φ(x) + x·φ(x).
public func geluDerivative(_ x: Double) -> Double {
    0.5 * erfc(-x / 2.0.squareRoot()) + x * exp(-0.5 * x * x) / (2 * Double.pi).squareRoot()
}

public func float64Softmax(_ x: [Double], width: Int) -> [Double] {
    stride(from: 0, to: x.count, by: width).flatMap { start -> [Double] in
        let row = x[start..<start + width], peak = row.max()!
        let e = row.map { exp($0 - peak) }, s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}

public func softmaxBackwardReference(_ y: [Double], _ dy: [Double], width: Int) -> [Double] {
    stride(from: 0, to: y.count, by: width).flatMap { start -> [Double] in
        let r = start..<start + width
        let dot = zip(y[r], dy[r]).reduce(0.0) { $0 + $1.0 * $1.1 }
        return r.map { y[$0] * (dy[$0] - dot) }
    }
}

public func layerNormBackwardReference(_ x: [Double], gamma: [Double], dy: [Double], width: Int, eps: Double)
    -> (dx: [Double], dGamma: [Double], dBeta: [Double]) {
    var dx = [Double](repeating: 0, count: x.count), dGamma = [Double](repeating: 0, count: width), dBeta = dGamma
    for start in stride(from: 0, to: x.count, by: width) {
        let row = Array(x[start..<start + width])
        let mean = row.reduce(0, +) / Double(width)
        let rstd = 1 / (row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(width) + eps).squareRoot()
        let xhat = row.map { ($0 - mean) * rstd }
        let g = (0..<width).map { dy[start + $0] * gamma[$0] }
        let meanG = g.reduce(0, +) / Double(width)
        let meanGX = zip(g, xhat).reduce(0.0) { $0 + $1.0 * $1.1 } / Double(width)
        for j in 0..<width {
            dx[start + j] = rstd * (g[j] - meanG - xhat[j] * meanGX)
            dGamma[j] += dy[start + j] * xhat[j]
            dBeta[j] += dy[start + j]
        }
    }
    return (dx, dGamma, dBeta)
}

/// The gate's activation in float64, as its formula reads (PyTorch's
/// `gelu(approximate="tanh")` for GELU-tanh).
public func referenceGate(_ g: Double, _ activation: GateActivation) -> Double {
    switch activation {
    case .silu: g / (1 + exp(-g))
    case .geluTanh: 0.5 * g * (1 + tanh((2 / Double.pi).squareRoot() * (g + 0.044715 * g * g * g)))
    }
}
