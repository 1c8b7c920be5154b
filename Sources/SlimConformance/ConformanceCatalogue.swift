import SlimCore

/// Every check `slim selftest` runs: each backend op on the conformance
/// suite's cases (``GemmCase``, ``QuantCase``, ``AttentionCase``) at sizes that
/// are multiples of no tile. `quick` keeps a few small cases per op, for
/// simulated devices (Oclgrind runs kernels about 10⁴ times slower than PoCL).
public enum ConformanceCatalogue {
    public static func checks(quick: Bool) -> [ConformanceCheck] {
        linearChecks(quick: quick) + attentionChecks(quick: quick) + rowChecks(quick: quick) + elementwiseChecks(quick: quick)
    }

    /// The ops the catalogue covers, in its order.
    public static var ops: [String] {
        var seen: [String] = []
        for check in checks(quick: true) where !seen.contains(check.op) { seen.append(check.op) }
        return seen
    }
}
