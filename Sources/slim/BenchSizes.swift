import Foundation
import SlimCore

/// The sizes a benchmark is asked for, checked before any operand is made:
/// `--shape 99999999999x99999999999x9` trapped multiplying its sizes, and a
/// shape that fits an Int but not the machine stopped the process allocating.
enum BenchSizes {
    /// `MxNxK[,MxNxK…]` as shapes of rank 3, or an error naming the one that is not.
    static func shapes(_ option: String, _ text: String) throws -> [Shape] {
        try text.split(separator: ",").map { part in
            let dims = part.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
            guard dims.count == 3, dims.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw SlimError.invalidArgument("\(option) \(part): expected MxNxK with positive sizes")
            }
            let sizes = dims.map { $0! }
            _ = try CheckedSize.product(sizes, of: "\(option) \(part)")
            return Shape(sizes)
        }
    }

    /// Refuses operands (fp32 element counts, each the product of its sizes)
    /// whose elements or bytes overflow, or that together exceed the machine's memory.
    static func checkOperands(_ what: String, _ operands: [(name: String, dims: [Int])]) throws {
        var total = 0
        for (name, dims) in operands {
            let bytes = try CheckedSize.product(dims + [MemoryLayout<Float>.size], of: "\(what): \(name)")
            total = try CheckedSize.sum(total, bytes, of: what)
        }
        let memory = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        guard total <= memory else {
            throw SlimError.invalidArgument("\(what): the operands need \(total) bytes, more than this machine's \(memory) bytes of memory")
        }
    }
}
