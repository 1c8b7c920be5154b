import Foundation
import SlimCore
import SlimModel
import SlimParallel

/// How the ranks of a compression share one block's quantization: the linears that read
/// the same input (Q, K, V; O; gate, up; down) form a group with one Hessian and one GPTQ
/// factorisation, and each group is quantized by one rank. The packed results are then
/// gathered, so every rank holds the whole quantized block (the next block's calibration
/// runs through it) and rank 0 writes it; each linear is computed exactly as one process
/// computes it, so the output is the same bytes.
enum LinearShares {
    typealias Part = DecoderTensorNames.Part

    /// The groups in the order the block quantizes them, each under the part whose input it shares.
    static let groups: [(shared: Part, members: [Part])] = [
        (.query, [.query, .key, .value]), (.attentionOutput, [.attentionOutput]), (.gate, [.gate, .up]), (.down, [.down]),
    ]

    /// The rank that quantizes each group: largest estimated cost first, each to the least loaded
    /// rank (the lowest on ties), so every rank computes the same assignment. `costs` by group.
    static func owners(costs: [Double], ranks: Int) -> [Int] {
        var load = [Double](repeating: 0, count: ranks), owner = [Int](repeating: 0, count: costs.count)
        for g in costs.indices.sorted(by: { costs[$0] > costs[$1] || (costs[$0] == costs[$1] && $0 < $1) }) {
            let r = load.indices.min { load[$0] < load[$1] || (load[$0] == load[$1] && $0 < $1) }!
            owner[g] = r
            load[r] += costs[g]
        }
        return owner
    }

    /// GPTQ's floating-point operations on a group reading a K-wide input: factoring the K×K
    /// Hessian (Cholesky and triangular inverse, ⅔K³) and each linear's column sweep (2·rows·K²).
    /// Without a Hessian (round to nearest) rows·K.
    static func cost(shapes: [(rows: Int, columns: Int)], hessian: Bool) -> Double {
        guard let k = shapes.first.map({ Double($0.columns) }) else { return 0 }
        let rows = Double(shapes.reduce(0) { $0 + $1.rows })
        return hessian ? 2 * k * k * k / 3 + 2 * rows * k * k : rows * k
    }

    /// One quantized linear as it travels from its rank to the others.
    struct Message: Equatable {
        /// Its index in `Part.linears`.
        var part: Int
        var relativeError: Double
        var encoded: QuantCodec.Encoded

        /// Part, error bits, the three lengths, then data, scales (their bits) and zeros.
        static func pack(_ messages: [Message]) -> [UInt8] {
            var out: [UInt8] = []
            func put(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
            for m in messages {
                put(UInt64(m.part)); put(m.relativeError.bitPattern)
                put(UInt64(m.encoded.data.count)); put(UInt64(m.encoded.scales.count)); put(UInt64(m.encoded.zeros.count))
                out += m.encoded.data
                for s in m.encoded.scales { withUnsafeBytes(of: s.bitPattern.littleEndian) { out += $0 } }
                out += m.encoded.zeros
            }
            return out
        }

        /// The messages of `bytes` (from `rank`, for the error if they do not parse).
        static func unpack(_ bytes: [UInt8], from rank: Int, ranks: Int) throws -> [Message] {
            var at = 0, messages: [Message] = []
            func bad() -> SlimError {
                SlimError.collective(rank: rank, ranks: ranks, step: "gathering quantized linears", detail: "its message breaks off at byte \(at) of \(bytes.count)")
            }
            func take(_ n: Int) throws -> ArraySlice<UInt8> {
                guard n >= 0, n <= bytes.count - at else { throw bad() }
                defer { at += n }
                return bytes[at..<at + n]
            }
            func word() throws -> UInt64 { try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) } }
            while at < bytes.count {
                let part = Int(try word()), error = Double(bitPattern: try word())
                let (d, s, z) = (Int(try word()), Int(try word()), Int(try word()))
                guard Part.linears.indices.contains(part), d >= 0, s >= 0, z >= 0 else { throw bad() }
                let data = Array(try take(d))
                let scaleBytes = try take(s * 4)
                let scales = stride(from: scaleBytes.startIndex, to: scaleBytes.endIndex, by: 4).map { i in
                    Float(bitPattern: scaleBytes[i..<i + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) })
                }
                messages.append(Message(part: part, relativeError: error, encoded: .init(data: data, scales: scales, zeros: Array(try take(z)))))
            }
            return messages
        }
    }

    /// Every rank's quantized linears, by part: each rank sends its own and receives the others'.
    static func gather(_ mine: [Message], over ranks: any Collective, block: Int) throws -> [Part: Message] {
        var all: [Part: Message] = [:]
        let received = ranks.size == 1 ? [mine] : try ranks.allGatherBytes(Message.pack(mine), step: "gathering block \(block)'s quantized linears")
            .enumerated().map { r, bytes in r == ranks.rank ? mine : try Message.unpack(bytes, from: r, ranks: ranks.size) }
        for m in received.joined() { all[Part.linears[m.part]] = m }
        return all
    }
}
