// TEMPORARY until the ops branch lands (then deleted): host versions of the two ops.
import Foundation
import SlimCore

public enum RopeScaling: Sendable, Equatable {
    case linear(factor: Float)
    case llama3(factor: Float, lowFrequencyFactor: Float, highFrequencyFactor: Float, originalContext: Int)
}

public enum RotaryFrequencies {
    public static func inverse(base: Float, rotaryDim: Int, scaling: RopeScaling?) -> [Float] {
        var f = (0..<rotaryDim / 2).map { i -> Float in 1 / powf(base, Float(2 * i) / Float(rotaryDim)) }
        switch scaling {
        case nil: break
        case let .linear(factor): f = f.map { $0 / factor }
        case let .llama3(factor, low, high, original):
            let lowWave = Float(original) / low, highWave = Float(original) / high
            f = f.map { inv in
                let wave = 2 * Float.pi / inv
                if wave > lowWave { return inv / factor }
                if wave < highWave { return inv }
                let smooth = (Float(original) / wave - low) / (high - low)
                return (1 - smooth) * inv / factor + smooth * inv
            }
        }
        return f
    }
}

public enum GateActivation: Sendable { case silu, geluTanh }

extension Backend {
    public func rope(_ x: Tensor, positions: Tensor, inverseFrequencies: Tensor, style: RopeStyle) throws {
        var v = try floats(x)
        var p = [Int32](repeating: 0, count: positions.elementCount)
        try p.withUnsafeMutableBytes { try download(positions, into: $0) }
        let inv = try floats(inverseFrequencies)
        let d = x.shape.innermost, n = x.elementCount / d, half = inv.count
        let tokens = p.count, perToken = n / tokens
        for r in 0..<n {
            let pos = Float(p[r / perToken])
            for i in 0..<half {
                let angle = pos * inv[i]
                let c = cos(angle), s = sin(angle)
                let (a, b) = style == .halves ? (i, i + half) : (2 * i, 2 * i + 1)
                let x0 = v[r * d + a], x1 = v[r * d + b]
                v[r * d + a] = x0 * c - x1 * s
                v[r * d + b] = x1 * c + x0 * s
            }
        }
        try write(v, to: x)
    }

    public func gatedActivation(_ gate: Tensor, _ up: Tensor, _ activation: GateActivation, into out: Tensor) throws {
        if activation == .silu { return try swiglu(gate, up, into: out) }
        let g = try floats(gate), u = try floats(up)
        let r = zip(g, u).map { x, u -> Float in
            let inner = 0.7978845608028654 * (Double(x) + 0.044715 * Double(x) * Double(x) * Double(x))
            return Float(0.5 * Double(x) * (1 + tanh(inner))) * u
        }
        try write(r, to: out)
    }
}
