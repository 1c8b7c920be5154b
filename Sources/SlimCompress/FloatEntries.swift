import Foundation
import SlimCore
import SlimModel

/// A float tensor written in the element type its source stored it in
/// (bf16 and fp16 checkpoints stay 16-bit), rounded to nearest even; NaN stays NaN.
enum FloatEntries {
    static func make(_ name: String, _ values: [Float], shape: [Int], kind: StoredKind) -> SafeTensorsWriter.Entry {
        switch kind {
        case .bf16:
            let bits = values.map { v -> UInt16 in
                let b = v.bitPattern
                if v.isNaN { return UInt16(b >> 16) | 0x40 }  // keep it a (quiet) NaN after truncation
                return UInt16((b + 0x7FFF + ((b >> 16) & 1)) >> 16)
            }
            return .init(name: name, kind: .bf16, shape: shape, data: bits.withUnsafeBytes { Data($0) })
        case .f16:
            let bits = values.map { Float16($0).bitPattern }
            return .init(name: name, kind: .f16, shape: shape, data: bits.withUnsafeBytes { Data($0) })
        default:
            return .init(name: name, kind: .f32, shape: shape, data: values.withUnsafeBytes { Data($0) })
        }
    }
}
