import Foundation
import SlimCore
import SlimModel

/// The safetensors entries of one packed weight, named as ``PackedNames`` says.
enum PackedEntries {
    static func make(_ name: String, _ encoded: QuantCodec.Encoded, rows: Int) -> [SafeTensorsWriter.Entry] {
        make(name, data: Data(encoded.data), scales: encoded.scales.withUnsafeBytes { Data($0) }, zeros: Data(encoded.zeros), rows: rows)
    }

    /// The same from the parts' bytes (fp32 scales), already gathered.
    static func make(_ name: String, data: Data, scales: Data, zeros: Data, rows: Int) -> [SafeTensorsWriter.Entry] {
        var entries: [SafeTensorsWriter.Entry] = [
            .init(name: PackedNames.data(name), kind: .u8, shape: [rows, data.count / max(rows, 1)], data: data),
        ]
        if !scales.isEmpty { entries.append(.init(name: PackedNames.scales(name), kind: .f32, shape: [scales.count / 4], data: scales)) }
        if !zeros.isEmpty { entries.append(.init(name: PackedNames.zeros(name), kind: .u8, shape: [zeros.count], data: zeros)) }
        return entries
    }
}
