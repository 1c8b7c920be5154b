import SlimCore
@testable import SlimOpenCL
import Testing

/// The GPU attention tiles shrink to fit the local memory a work-group may
/// take, pass by pass, and refuse (naming the head dimension) when even the
/// smallest tiles do not fit.
@Suite struct AttentionTilesTests {
    @Test(arguments: [8, 20, 64, 128, 256])
    func everyPassFitsItsLocalMemory(headDim d: Int) throws {
        for budget in [32 * 1024, 48 * 1024] {
            var tiles = AttentionTiles.gpu
            tiles.localBytes = budget
            for backward in [false, true] {
                // The backward stages four row tiles: at d = 256, 16 streamed rows (LANES) alone exceed 32 KiB.
                if d == 256 && backward && budget == 32 * 1024 {
                    #expect(throws: SlimError.self) { try tiles.fitted(headDim: d, backward: backward) }
                    continue
                }
                let (own, stream) = try tiles.fitted(headDim: d, backward: backward)
                let passes: [AttentionTiles.Pass] = backward ? [.backwardQ, .backwardKV] : [.forward]
                for pass in passes {
                    let bytes = 4 * AttentionTiles.localFloats(pass, headDim: d, own: own, stream: stream, lanes: tiles.lanes)
                    #expect(bytes <= budget, "d \(d) \(pass): \(bytes) bytes of local memory > \(budget)")
                }
                #expect(own % tiles.rowsPerItem == 0 && stream % tiles.lanes == 0)
            }
        }
        // The shipped tiles at d <= 128 are the row's own for the forward (no shrinking where it fits).
        if d <= 128 {
            let forward = try AttentionTiles.gpu.fitted(headDim: d, backward: false)
            #expect(forward.own == 32 && forward.stream == 32)
        }
    }

    @Test func aHeadTooLargeForAnyTileIsRefused() {
        #expect(throws: SlimError.self) { try AttentionTiles.gpu.fitted(headDim: 2048, backward: true) }
    }

    /// Decode (few work-groups) splits over the kept blocks, at most one split per block; large problems do not split.
    @Test func splitsOnlyWhenWorkGroupsAreFew() {
        let tiles = AttentionTiles.gpu
        #expect(tiles.splits(groups: 8, longestRow: 3) == 3)
        #expect(tiles.splits(groups: 8, longestRow: 64) == 32)
        #expect(tiles.splits(groups: 4096, longestRow: 32) == 1)
        #expect(tiles.splits(groups: 8, longestRow: 1) == 1)
    }
}
