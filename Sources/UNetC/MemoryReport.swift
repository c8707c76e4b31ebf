// The arena of several memory modes side by side, for `unetc inspect --memory`: each mode's
// planned arena, what the greedy-by-size baseline (TensorFlow Lite Micro, TVM) would need for
// the same buffers, and the lower bound of that mode's schedule; then every mode against the
// first mode's lower bound (the unfused schedule's).

import Foundation

extension MemoryPlan {
    public static func compare(_ modes: [(name: String, plan: MemoryPlan)]) -> String {
        guard let base = modes.first?.plan.lowerBound, base > 0 else { return "" }
        var out = "\nmode         arena (planner)   greedy-by-size     lower bound   vs \(modes[0].name) bound\n"
        for (name, plan) in modes {
            let greedy = MemoryPlanner.greedyBySize(plan.buffers).arenaBytes
            out += name.padding(toLength: 8, withPad: " ", startingAt: 0) + pad(plan.arenaBytes, 19) + pad(greedy, 17)
                + pad(plan.lowerBound, 16) + "   " + String(format: "%.3f", Double(plan.arenaBytes) / Double(base)) + "x\n"
        }
        return out
    }

    /// `json()` with the modes' totals added.
    public func json(modes: [(name: String, plan: MemoryPlan)]) -> String {
        let rows = modes.map { name, plan in
            "    \"\(name)\": {\"arena_bytes\": \(plan.arenaBytes), \"greedy_by_size_bytes\": \(MemoryPlanner.greedyBySize(plan.buffers).arenaBytes), \"lower_bound_bytes\": \(plan.lowerBound)}"
        }
        var text = json()
        text.removeLast(2)     // "}\n"
        return text + ",\n  \"modes\": {\n\(rows.joined(separator: ",\n"))\n  }\n}\n"
    }
}
