import SlimCore

/// The multiple-choice knapsack behind `--method auto`: pick one option per
/// item (a way to store one layer) so that the summed error is least while
/// the summed bytes stay within a budget.
///
/// A dynamic programme over bytes counted in coarse units: each option's
/// bytes are rounded *up* to whole units, so whatever fits in rounded units
/// also fits in bytes (the answer never exceeds the budget), and the optimum
/// is exact for `unit: 1`. The table is items × (budget / unit) cells.
public enum BudgetedChoice {
    public struct Option: Sendable, Equatable {
        public let error: Double
        public let bytes: Int
        public init(error: Double, bytes: Int) { self.error = error; self.bytes = bytes }
    }

    /// The index of the chosen option of each item. `budget` is what the
    /// options may take together (fixed costs already taken off).
    /// Throws when even the smallest option of every item exceeds it.
    public static func choose(_ items: [[Option]], budget: Int, unit: Int = 1) throws -> [Int] {
        precondition(unit >= 1 && items.allSatisfy { !$0.isEmpty })
        let smallest = items.reduce(0) { $0 + $1.map(\.bytes).min()! }
        guard smallest <= budget else {
            throw SlimError.invalidArgument("the smallest option of every layer takes \(smallest) bytes together, over the \(budget) bytes the budget leaves for them")
        }
        let capacity = budget / unit
        func units(_ o: Option) -> Int { (o.bytes + unit - 1) / unit }
        // best[c]: least error of the items so far within c units; picks[i][c]: the option item i took there.
        var best = [Double](repeating: 0, count: capacity + 1)
        var picks: [[Int32]] = []
        for options in items {
            var next = [Double](repeating: .infinity, count: capacity + 1)
            var pick = [Int32](repeating: -1, count: capacity + 1)
            for (o, option) in options.enumerated() {
                let u = units(option)
                guard u <= capacity else { continue }
                for c in u...capacity where best[c - u] + option.error < next[c] {
                    next[c] = best[c - u] + option.error
                    pick[c] = Int32(o)
                }
            }
            best = next
            picks.append(pick)
        }
        guard best[capacity].isFinite else {
            // Feasible in bytes but not in rounded units: the smallest options fit (checked above).
            return items.map { options in options.indices.min { options[$0].bytes < options[$1].bytes }! }
        }
        var chosen = [Int](repeating: 0, count: items.count), c = capacity
        for i in items.indices.reversed() {
            chosen[i] = Int(picks[i][c])
            c -= units(items[i][chosen[i]])
        }
        return chosen
    }

    /// A unit that keeps the table near `cells` columns: rounding costs at most one unit per item.
    public static func unit(forBudget budget: Int, cells: Int = 50_000) -> Int { max(1, budget / cells) }
}
