import Foundation
import SlimCore

extension ConformanceCatalogue {
    /// The elementwise ops (with broadcasting where they have it), the gated
    /// activations, and the embedding gather and its scatter-add.
    static func elementwiseChecks(quick: Bool) -> [ConformanceCheck] {
        let (rows, width) = quick ? (3, 37) : (17, 1001)
        let shape: Shape = [rows, width], count = rows * width, label = "\(rows)x\(width)"
        func unary(_ op: String, _ apply: @escaping @Sendable (any Backend, Tensor, Tensor) throws -> Void,
                   _ reference: @escaping @Sendable (Double) -> Double) -> ConformanceCheck {
            ConformanceCheck(op: op, detail: label) { backend, rng in
                let x = draw(count, scale: 4, &rng), out = try poisoned(backend, shape)
                try apply(backend, try backend.tensor(x, shape: shape), out)
                return nmse(try backend.floats(out), x.map { reference(Double($0)) })
            }
        }
        func binary(_ op: String, _ apply: @escaping @Sendable (any Backend, Tensor, Tensor, Tensor) throws -> Void,
                    _ reference: @escaping @Sendable (Double, Double) -> Double) -> [ConformanceCheck] {
            // b as large as a, then one row repeating over a's rows.
            [count, width].map { bCount in
                ConformanceCheck(op: op, detail: label + (bCount == width ? " b [\(width)]" : "")) { backend, rng in
                    let a = draw(count, &rng), b = draw(bCount, &rng), out = try poisoned(backend, shape)
                    try apply(backend, try backend.tensor(a, shape: shape), try backend.tensor(b, shape: bCount == width ? [width] : shape), out)
                    return nmse(try backend.floats(out), (0..<count).map { reference(Double(a[$0]), Double(b[$0 % bCount])) })
                }
            }
        }
        var checks = binary("add", { try $0.add($1, $2, into: $3) }, +) + binary("mul", { try $0.mul($1, $2, into: $3) }, *)
        checks.append(unary("scale", { try $0.scale($1, by: -0.37, into: $2) }) { $0 * Double(Float(-0.37)) })
        checks.append(unary("gelu", { try $0.gelu($1, into: $2) }, referenceGelu))
        checks += binary("geluBackward", { try $0.geluBackward($1, gradOutput: $2, into: $3) }) { x, dy in dy * geluDerivative(x) }
            .filter { $0.detail == label }  // no broadcasting: dy is as large as x
        for activation in GateActivation.allCases {
            checks += binary("gatedActivation", { try $0.gatedActivation($1, $2, activation, into: $3) }) { g, u in
                referenceGate(g, activation) * u
            }.filter { $0.detail == label }.map { ConformanceCheck(op: $0.op, detail: "\(activation) \(label)", measure: $0.measure) }
        }
        let tableRows = 53
        checks.append(ConformanceCheck(op: "embedding", detail: "\(rows * 3) ids, table \(tableRows)x\(width)") { backend, rng in
            let table = draw(tableRows * width, &rng), ids = (0..<rows * 3).map { _ in Int32.random(in: 0..<Int32(tableRows), using: &rng) }
            let out = try poisoned(backend, [ids.count, width])
            try backend.embedding(try backend.tensor(ids, shape: [ids.count], dtype: .i32), table: try backend.tensor(table, shape: [tableRows, width]), into: out)
            return nmse(try backend.floats(out), ids.flatMap { id in table[Int(id) * width ..< (Int(id) + 1) * width].map(Double.init) })
        })
        checks.append(ConformanceCheck(op: "embeddingBackward", detail: "\(rows * 3) ids, table \(tableRows)x\(width)") { backend, rng in
            // Repeated ids, so rows add up; the table's own values are kept.
            let initial = draw(tableRows * width, &rng), ids = (0..<rows * 3).map { _ in Int32.random(in: 0..<8, using: &rng) }
            let dy = draw(ids.count * width, &rng), table = try backend.tensor(initial, shape: [tableRows, width])
            try backend.embeddingBackward(try backend.tensor(ids, shape: [ids.count], dtype: .i32),
                                          gradOutput: try backend.tensor(dy, shape: [ids.count, width]), into: table)
            var want = initial.map(Double.init)
            for (i, id) in ids.enumerated() { for j in 0..<width { want[Int(id) * width + j] += Double(dy[i * width + j]) } }
            return nmse(try backend.floats(table), want)
        })
        return checks
    }
}
