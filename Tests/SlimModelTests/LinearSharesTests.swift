import Foundation
@testable import SlimCompress
import SlimCore
import SlimParallel
import Testing
import TestSupport

/// Issue 20: a block's linears split over ranks (``LinearShares``): who quantizes what, and the
/// message that carries a packed linear to the other ranks. `DataParallelTests` and the MPI CLI
/// tests check the end result (the same bytes as one rank).
@Suite struct LinearSharesTests {
    /// SmolLM2-135M's block (hidden 576, 3 KV heads of 64, MLP 1536) under GPTQ: down's 1536-wide
    /// Hessian outweighs the rest, so over 2 ranks it goes alone to rank 0 and the other three groups to rank 1;
    /// over 4 ranks each group has its own; over 6 two ranks are idle.
    @Test func groupsGoToTheLeastLoadedRank() {
        let h = 576, kv = 192, ffn = 1536
        let costs = [LinearShares.cost(shapes: [(h, h), (kv, h), (kv, h)], hessian: true), LinearShares.cost(shapes: [(h, h)], hessian: true),
                     LinearShares.cost(shapes: [(ffn, h), (ffn, h)], hessian: true), LinearShares.cost(shapes: [(h, ffn)], hessian: true)]
        #expect(LinearShares.owners(costs: costs, ranks: 1) == [0, 0, 0, 0])
        #expect(LinearShares.owners(costs: costs, ranks: 2) == [1, 1, 1, 0])
        #expect(Set(LinearShares.owners(costs: costs, ranks: 4)) == [0, 1, 2, 3])
        #expect(LinearShares.owners(costs: costs, ranks: 6).allSatisfy { (0..<4).contains($0) })
        // Equal costs go to ranks in group order.
        #expect(LinearShares.owners(costs: [1, 1, 1, 1], ranks: 2) == [0, 1, 0, 1])
    }

    /// Messages of random packed linears (empty arrays, NaN and subnormal scale bits among them)
    /// unpack to the same values bit for bit; a message cut short is an error naming the sending rank.
    @Test(.seeded) func messagesRoundTripBitForBit() throws {
        var rng = SplitMix64(seed: TestSeed.current)
        let odd: [UInt32] = [0x7FC0_0001, 0xFF80_0000, 0x0000_0001, 0x8000_0000]
        let messages = (0..<5).map { i in
            LinearShares.Message(
                part: i, relativeError: Double.random(in: 0..<1, using: &rng),
                encoded: .init(data: (0..<(i * 37)).map { _ in UInt8.random(in: 0...255, using: &rng) },
                               scales: (0..<(i * 5 + 1)).map { j in Float(bitPattern: j < odd.count ? odd[j] : UInt32.random(in: 0...UInt32.max, using: &rng)) },
                               zeros: i == 2 ? [] : (0..<(i + 3)).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        }
        let bytes = LinearShares.Message.pack(messages)
        let back = try LinearShares.Message.unpack(bytes, from: 1, ranks: 2)
        #expect(back.count == messages.count)
        for (a, b) in zip(messages, back) {
            #expect(a.part == b.part && a.relativeError.bitPattern == b.relativeError.bitPattern)
            #expect(a.encoded.data == b.encoded.data && a.encoded.zeros == b.encoded.zeros)
            #expect(a.encoded.scales.map(\.bitPattern) == b.encoded.scales.map(\.bitPattern))
        }
        for cut in [Array(bytes.dropLast(3)), Array(bytes.prefix(20))] {
            let error = #expect(throws: SlimError.self) { try LinearShares.Message.unpack(cut, from: 1, ranks: 2) }
            #expect(error.map { "\($0)".contains("rank 1 of 2") } == true, "\(String(describing: error))")
        }
    }

    /// Bytes of any length gathered over thread ranks arrive as they left, in rank order.
    @Test(.seeded) func bytesGatherOverRanksAsTheyLeft() throws {
        let seed = TestSeed.current
        let results = onRanks(3) { ranks -> [[UInt8]] in
            var rng = SplitMix64(seed: seed &+ UInt64(ranks.rank))
            let mine = (0..<(ranks.rank * 13)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            return try ranks.allGatherBytes(mine, step: "test")
        }
        let expected = (0..<3).map { r in
            var rng = SplitMix64(seed: seed &+ UInt64(r))
            return (0..<(r * 13)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        }
        for result in results { #expect(try result.get() == expected) }
    }
}
