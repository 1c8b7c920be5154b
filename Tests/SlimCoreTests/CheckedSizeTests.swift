import SlimCore
import Testing

/// Issue 21, shape arithmetic: element and byte counts from untrusted numbers
/// (a command line, a file header) report overflow instead of trapping.
@Suite struct CheckedSizeTests {
    @Test func productsReportOverflowAndNegativeFactors() throws {
        #expect(CheckedSize.product([64, 4096, 4096]) == 64 * 4096 * 4096)
        #expect(CheckedSize.product([]) == 1 && CheckedSize.product([7, 0, Int.max]) == 0)
        #expect(CheckedSize.product([99_999_999_999, 99_999_999_999, 9]) == nil)
        #expect(CheckedSize.product([3, -1]) == nil)
        #expect(throws: SlimError.self) { try CheckedSize.product([Int.max, 2], of: "a test") }
        #expect(Shape([Int.max, 2]).checkedElementCount == nil && Shape([6, 7]).checkedElementCount == 42)
        #expect(DType.f32.checkedByteCount(elements: Int.max / 2) == nil && DType.q4.checkedByteCount(elements: 3) == 2)
    }

    /// `slim bench gemm --shape 99999999999x99999999999x9` trapped in the product of its sizes.
    @Test func parsingRefusesShapesWhoseElementCountOverflows() {
        #expect(Shape(parsing: "99999999999x99999999999x9") == nil)
        #expect(Shape(parsing: "9223372036854775807x2") == nil)
        #expect(Shape(parsing: "99999999999x9") == [99_999_999_999, 9])
    }

    @Test func allocationSizesAreChecked() throws {
        #expect(throws: SlimError.self) { try allocationBytes([Int.max / 2, 3], .f32, name: "x") }
        #expect(throws: SlimError.self) { try allocationBytes([Int.max / 4 + 1], .f32, name: "x") }
        #expect(throws: SlimError.self) { try allocationBytes([4, -2], .f32, name: "x") }
        #expect(try allocationBytes([3, 5], .q4, name: "x") == 8)
    }
}
