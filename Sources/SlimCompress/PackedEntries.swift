import Foundation
import SlimCore
import SlimModel

/// The safetensors entries of one packed weight, named as ``PackedNames`` says.
enum PackedEntries {
    static func make(_ name: String, _ encoded: QuantCodec.Encoded, rows: Int) -> [SafeTensorsWriter.Entry] {
        var entries: [SafeTensorsWriter.Entry] = [
            .init(name: PackedNames.data(name), kind: .u8, shape: [rows, encoded.data.count / rows], data: Data(encoded.data)),
        ]
        if !encoded.scales.isEmpty {
            entries.append(.init(name: PackedNames.scales(name), kind: .f32, shape: [encoded.scales.count],
                                 data: encoded.scales.withUnsafeBytes { Data($0) }))
        }
        if !encoded.zeros.isEmpty {
            entries.append(.init(name: PackedNames.zeros(name), kind: .u8, shape: [encoded.zeros.count], data: Data(encoded.zeros)))
        }
        return entries
    }
}
