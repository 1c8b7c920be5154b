import Foundation
import SlimCore

/// The token embedding table read in place from the file, or kept packed
/// as a compressed folder stores it: only the rows of the tokens asked for
/// are decoded (a Q8_0 table stays Q8_0 in memory).
struct TokenEmbedding: Sendable {
    let file: any TensorFile
    let table: StoredTensor?
    let packed: PackedWeight?
    let vocabSize: Int, width: Int

    init(store: some WeightStore, file: any TensorFile, name: String, vocabSize: Int, width: Int) throws {
        self.file = file
        self.vocabSize = vocabSize
        self.width = width
        guard file.tensors.contains(where: { $0.name == name }) else {
            guard let p = try store.packed(name) else { throw SlimError.malformedFile(path: file.path, detail: "no tensor '\(name)'") }
            guard p.rows == vocabSize, p.columns == width else {
                throw SlimError.malformedFile(path: file.path, detail: "packed '\(name)' is \(p.rows)x\(p.columns) but the config implies \(vocabSize)x\(width)")
            }
            packed = p
            table = nil
            return
        }
        packed = nil
        let t = try file.tensor(named: name)
        guard t.shape == [vocabSize, width] else {
            throw SlimError.malformedFile(path: file.path, detail: "tensor '\(name)' is \(t.shape) but the config implies \([vocabSize, width])")
        }
        guard t.kind.quantFormat != nil || [.f32, .f16, .bf16].contains(t.kind) else {
            throw SlimError.unsupported(op: "load \(file.path)", backend: "model", reason: "token embedding stored as \(t.kind)")
        }
        table = t
    }

    /// `[ids.count, width]` fp32 rows on `backend`.
    func rows(_ ids: [Int32], on backend: any Backend) throws -> Tensor {
        var values = [Float]()
        values.reserveCapacity(ids.count * width)
        for id in ids {
            guard (0..<Int32(vocabSize)).contains(id) else {
                throw SlimError.invalidArgument("token id \(id) is outside the vocabulary of \(vocabSize)")
            }
            guard let table else {
                values += try packed!.row(Int(id))
                continue
            }
            let rowBytes = table.kind.byteCount(shape: [width]) ?? 0
            let row = UnsafeRawBufferPointer(rebasing: try file.bytes(of: table)[Int(id) * rowBytes..<(Int(id) + 1) * rowBytes])
            values += try decode(row, kind: table.kind)
        }
        return try backend.tensor(values, shape: [ids.count, width], name: "token embeddings")
    }

    private func decode(_ row: UnsafeRawBufferPointer, kind: StoredKind) throws -> [Float] {
        switch kind {
        case .f32: return Array(row.bindMemory(to: Float.self))
        case .f16: return (0..<width).map { HalfFloats.float(f16: row.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian) }
        case .bf16: return (0..<width).map { HalfFloats.float(bf16: row.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian) }
        default:
            return try QuantCodec.decode(QuantCodec.Encoded(data: Array(row)), rows: 1, columns: width, format: kind.quantFormat!)
        }
    }
}
