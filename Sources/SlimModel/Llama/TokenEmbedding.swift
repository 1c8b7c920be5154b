import Foundation
import SlimCore

/// The token embedding table read in place from the file: only the rows of
/// the tokens asked for are decoded (a Q8_0 table stays Q8_0 in memory).
struct TokenEmbedding {
    let file: any TensorFile
    let table: StoredTensor
    let vocabSize: Int, width: Int

    init(file: any TensorFile, name: String, vocabSize: Int, width: Int) throws {
        let t = try file.tensor(named: name)
        guard t.shape == [vocabSize, width] else {
            throw SlimError.malformedFile(path: file.path, detail: "tensor '\(name)' is \(t.shape) but the config implies \([vocabSize, width])")
        }
        guard t.kind.quantFormat != nil || [.f32, .f16, .bf16].contains(t.kind) else {
            throw SlimError.unsupported(op: "load \(file.path)", backend: "model", reason: "token embedding stored as \(t.kind)")
        }
        self.file = file
        table = t
        self.vocabSize = vocabSize
        self.width = width
    }

    /// `[ids.count, width]` fp32 rows on `backend`.
    func rows(_ ids: [Int32], on backend: any Backend) throws -> Tensor {
        let rowBytes = table.kind.byteCount(shape: [width]) ?? 0
        let raw = file.bytes(of: table)
        var values = [Float]()
        values.reserveCapacity(ids.count * width)
        for id in ids {
            guard (0..<Int32(vocabSize)).contains(id) else {
                throw SlimError.invalidArgument("token id \(id) is outside the vocabulary of \(vocabSize)")
            }
            let row = UnsafeRawBufferPointer(rebasing: raw[Int(id) * rowBytes..<(Int(id) + 1) * rowBytes])
            values += try decode(row)
        }
        return try backend.tensor(values, shape: [ids.count, width], name: "token embeddings")
    }

    private func decode(_ row: UnsafeRawBufferPointer) throws -> [Float] {
        switch table.kind {
        case .f32: return Array(row.bindMemory(to: Float.self))
        case .f16: return (0..<width).map { Float(Float16(bitPattern: row.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
        case .bf16: return (0..<width).map { Float(bitPattern: UInt32(row.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) << 16) }
        default:
            return try QuantCodec.decode(QuantCodec.Encoded(data: Array(row)), rows: 1, columns: width, format: table.kind.quantFormat!)
        }
    }
}
