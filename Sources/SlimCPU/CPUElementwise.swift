import CPUKernels
import SlimCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif


extension CPUBackend {
    public func add(_ a: Tensor, _ b: Tensor, into out: Tensor) throws {
        try binary(a, b, out, op: "add") { $0 + $1 }
    }

    public func mul(_ a: Tensor, _ b: Tensor, into out: Tensor) throws {
        try binary(a, b, out, op: "mul") { $0 * $1 }
    }

    public func scale(_ x: Tensor, by alpha: Float, into out: Tensor) throws {
        try checkUnary(x, out: out, op: "scale", on: id)
        let xp = x.hostFloats, op = out.hostFloats
        parallelChunks(x.elementCount, grain: 1 << 16) { r in
            simdMap(r, xp, op) { $0 * alpha }
        }
    }

    public func gelu(_ x: Tensor, into out: Tensor) throws {
        try checkUnary(x, out: out, op: "gelu", on: id)
        let xp = x.hostFloats, op = out.hostFloats, isa = isa.rawValue
        parallelChunks(x.elementCount, grain: 1 << 14) { r in
            slim_gelu(xp + r.lowerBound, op + r.lowerBound, r.count, isa)
        }
    }

    public func gatedActivation(_ gate: Tensor, _ up: Tensor, _ activation: GateActivation, into out: Tensor) throws {
        try checkGatedActivation(gate, up, activation, out: out, on: id)
        let gp = gate.hostFloats, upp = up.hostFloats, op = out.hostFloats, isa = isa.rawValue
        let kind = switch activation {
        case .silu: Int32(SLIM_GATE_SILU)
        case .geluTanh: Int32(SLIM_GATE_GELU_TANH)
        }
        parallelChunks(out.elementCount, grain: 1 << 14) { r in
            slim_gated_activation(gp + r.lowerBound, upp + r.lowerBound, op + r.lowerBound, r.count, kind, isa)
        }
    }

    /// `out = a ∘ b` with `b` repeating every `b.elementCount` elements of `a`.
    private func binary(_ a: Tensor, _ b: Tensor, _ out: Tensor, op name: String,
                        _ f: (SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>) throws {
        try checkBroadcast(a, b, out: out, op: name)
        try requireOn(id, [a, b, out], op: name)
        let ap = a.hostFloats, bp = b.hostFloats, op = out.hostFloats
        let width = b.elementCount, rows = a.elementCount / width
        parallelChunks(rows, grain: max(1, (1 << 16) / width)) { rowRange in
            for r in rowRange {
                let base = r * width
                var j = 0
                while j + 8 <= width {
                    let v = f(UnsafeRawPointer(ap + base + j).loadUnaligned(as: SIMD8<Float>.self),
                              UnsafeRawPointer(bp + j).loadUnaligned(as: SIMD8<Float>.self))
                    UnsafeMutableRawPointer(op + base + j).storeBytes(of: v, as: SIMD8<Float>.self)
                    j += 8
                }
                while j < width {
                    op[base + j] = f(SIMD8(repeating: ap[base + j]), SIMD8(repeating: bp[j]))[0]
                    j += 1
                }
            }
        }
    }
}

/// `out[i] = f(x[i])` over `range`, eight lanes at a time.
@inline(__always)
func simdMap(_ range: Range<Int>, _ x: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>,
             _ f: (SIMD8<Float>) -> SIMD8<Float>) {
    var i = range.lowerBound
    while i + 8 <= range.upperBound {
        let v = f(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
        UnsafeMutableRawPointer(out + i).storeBytes(of: v, as: SIMD8<Float>.self)
        i += 8
    }
    while i < range.upperBound { out[i] = f(SIMD8(repeating: x[i]))[0]; i += 1 }
}
