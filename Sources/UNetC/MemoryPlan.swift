// The memory planner: lifetimes in, offsets into one arena out.
//
// Analyse (`Schedule.requests`, reached here as `requests`): every tensor the generated C must
// hold gets a buffer live from the step that writes it to the last step that reads it. Plan:
// no plan can use less than the most bytes live at one step (`lowerBound`). `greedyBySize` is
// the baseline, the planner of TensorFlow Lite Micro and TVM: largest first, each into the
// smallest gap that fits. It fragments on U-Net schedules (24% over the bound for a small
// model at 96x96), so `plan` also tries other orders and, if none reaches the bound, a short
// search that builds a plan bottom-up and leaves a branch as soon as what is still to place at
// some step cannot fit under the bound. It keeps the smallest plan, so it is never worse than
// the baseline. The plan is data; the C generator only reads it.

/// A buffer to place: `bytes` live from step `first` to step `last`, both included.
public struct BufferRequest: Equatable, Sendable {
    public var name: String
    public var bytes: Int
    public var first: Int
    public var last: Int
    public init(name: String, bytes: Int, first: Int, last: Int) {
        self.name = name; self.bytes = bytes; self.first = first; self.last = last
    }
    func overlapsInTime(_ o: BufferRequest) -> Bool { first <= o.last && o.first <= last }
}

public struct MemoryPlan: Equatable, Sendable {
    public var buffers: [BufferRequest]
    /// Byte offset of each buffer in the arena, a multiple of `MemoryPlanner.alignment`.
    public var offsets: [Int]
    public var arenaBytes: Int
    /// The most bytes live at any one step: no plan of these lifetimes can use less.
    public var lowerBound: Int
    /// Every buffer in its own place.
    public var naiveBytes: Int
    /// What placed the buffers: "greedy-by-size", another order's name, or "search".
    public var strategy: String

    public func offset(of name: String) -> Int? { buffers.firstIndex { $0.name == name }.map { offsets[$0] } }
}

public enum MemoryPlanner {
    public static let alignment = 64

    static func aligned(_ bytes: Int) -> Int { (bytes + alignment - 1) / alignment * alignment }

    /// The most (aligned) bytes live at once over all steps.
    public static func lowerBound(_ buffers: [BufferRequest]) -> Int { live(buffers).max() ?? 0 }

    /// Aligned bytes live at each step.
    static func live(_ buffers: [BufferRequest]) -> [Int] {
        var change = [Int](repeating: 0, count: (buffers.map(\.last).max() ?? -1) + 2)
        for b in buffers { change[b.first] += aligned(b.bytes); change[b.last + 1] -= aligned(b.bytes) }
        var running = 0
        return change.dropLast().map { running += $0; return running }
    }

    /// The project's planner: the smallest of greedy by size, best fit in other orders and, when
    /// none of those reaches the lower bound, a bounded search for a plan that does. Ties go to
    /// the earlier strategy, so a plan no better than the baseline is the baseline's.
    public static func plan(_ buffers: [BufferRequest]) -> MemoryPlan {
        let perStep = live(buffers), bound = perStep.max() ?? 0
        let orders: [(String, (BufferRequest) -> (Int, Int))] = [
            ("longest-lived", { ($0.first - $0.last, -$0.bytes) }),
            ("largest-area", { (($0.first - $0.last - 1) * aligned($0.bytes), 0) }),
            ("greedy-by-breadth", { (-perStep[$0.first...$0.last].max()!, -$0.bytes) }),   // busiest step first
        ]
        var best = greedyBySize(buffers)
        for (name, key) in orders where best.arenaBytes > bound {
            let next = bestFit(buffers, order: order(buffers.map(key)), strategy: name)
            if next.arenaBytes < best.arenaBytes { best = next }
        }
        if best.arenaBytes > bound, let offsets = search(buffers, bound: bound, budget: 100_000) {
            best = MemoryPlan(buffers: buffers, offsets: offsets, arenaBytes: bound, lowerBound: bound,
                              naiveBytes: best.naiveBytes, strategy: "search")
        }
        return best
    }

    /// The baseline, greedy by size (TensorFlow Lite Micro, TVM): largest first, each at the
    /// smallest gap between already placed buffers that live at the same time, or above them all.
    public static func greedyBySize(_ buffers: [BufferRequest]) -> MemoryPlan {
        bestFit(buffers, order: order(buffers.map { (-$0.bytes, $0.first) }), strategy: "greedy-by-size")
    }

    /// The indices sorted by `keys`, ties by index.
    static func order(_ keys: [(Int, Int)]) -> [Int] {
        keys.indices.sorted { a, b in
            keys[a].0 != keys[b].0 ? keys[a].0 < keys[b].0 : keys[a].1 != keys[b].1 ? keys[a].1 < keys[b].1 : a < b
        }
    }

    /// Places the buffers in `order`, each into the smallest gap that fits, or above all.
    static func bestFit(_ buffers: [BufferRequest], order: [Int], strategy: String) -> MemoryPlan {
        var offsets = [Int](repeating: 0, count: buffers.count)
        var placed: [Int] = []
        for i in order {
            let size = aligned(buffers[i].bytes)
            let conflicts = placed.filter { buffers[$0].overlapsInTime(buffers[i]) }
                .map { (offsets[$0], offsets[$0] + aligned(buffers[$0].bytes)) }
                .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            var best: (offset: Int, gap: Int)? = nil
            var cursor = 0
            for (start, end) in conflicts {
                if start - cursor >= size, best == nil || start - cursor < best!.gap { best = (cursor, start - cursor) }
                cursor = max(cursor, end)
            }
            offsets[i] = best?.offset ?? cursor
            placed.append(i)
        }
        let arena = buffers.indices.map { offsets[$0] + aligned(buffers[$0].bytes) }.max() ?? 0
        return MemoryPlan(buffers: buffers, offsets: offsets, arenaBytes: arena, lowerBound: lowerBound(buffers),
                          naiveBytes: buffers.reduce(0) { $0 + aligned($1.bytes) }, strategy: strategy)
    }

    /// Search for offsets within `bound`, giving up after `budget` units of work (a step down
    /// costs the buffers still to place). A plan where no buffer could drop lower is built by
    /// placing its buffers in order of (offset, rank), each on top of those placed over its
    /// lifetime; so the search places one buffer at a time, never before the last in that order,
    /// the lowest first, ranked by last step (the latest freed at the bottom) then first step.
    /// The rest go above it, so a buffer may go only where all still to place at the busiest step
    /// fits above it.
    static func search(_ buffers: [BufferRequest], bound: Int, budget: Int) -> [Int]? {
        let size = buffers.map { aligned($0.bytes) }
        var rank = [Int](repeating: 0, count: buffers.count)
        for (r, i) in order(buffers.map { (-$0.last, $0.first) }).enumerated() { rank[i] = r }
        let neighbours = buffers.map { b in buffers.indices.filter { buffers[$0].overlapsInTime(b) } }
        var need = live(buffers)                                // bytes still to place, per step
        var floor = [Int](repeating: 0, count: buffers.count)   // per buffer: top of those placed under it
        var offsets = [Int](repeating: -1, count: buffers.count)
        func lower(_ a: Int, _ b: Int) -> Bool { floor[a] != floor[b] ? floor[a] < floor[b] : rank[a] < rank[b] }
        func place(_ i: Int) {
            offsets[i] = floor[i]
            for t in buffers[i].first...buffers[i].last { need[t] -= size[i] }
            for j in neighbours[i] where offsets[j] < 0 { floor[j] = max(floor[j], floor[i] + size[i]) }
        }
        // Limited discrepancy search: taking the k-th candidate instead of the first costs k, and
        // each pass allows one more, so that early mistakes of the ranking are undone first.
        var work = 0, cut = false
        func descend(_ left: Int, after last: Int?, allowance: Int) -> Bool {
            if left == 0 { return true }
            guard work < budget else { return false }
            work += left
            let most = need.max()!
            var candidates: [Int] = []
            for i in buffers.indices where offsets[i] < 0 {
                if floor[i] + size[i] > bound { return false }
                if floor[i] + most <= bound, last.map({ lower($0, i) }) ?? true { candidates.append(i) }
            }
            for cost in candidates.indices {
                if cost > allowance { cut = true; break }
                let k = candidates.indices.min { lower(candidates[$0], candidates[$1]) }!
                let i = candidates.remove(at: k), saved = (need, floor)
                place(i)
                if descend(left - 1, after: i, allowance: allowance - cost) { return true }
                (need, floor) = saved
                offsets[i] = -1
            }
            return false
        }
        for allowance in 0... {
            cut = false
            if descend(buffers.count, after: nil, allowance: allowance) { return offsets }
            if !cut || work >= budget { return nil }
        }
        return nil
    }

    /// The buffers `graph` needs: see `Schedule.requests`, which owns the lifetimes.
    public static func requests(for graph: Graph, scratch: (Int) -> Int = { _ in 0 }) -> [BufferRequest] {
        Schedule(graph).requests(scratch: scratch)
    }

    /// Whether any two buffers that live at the same time share a byte.
    public static func overlaps(_ plan: MemoryPlan) -> (String, String)? {
        let b = plan.buffers
        for i in b.indices {
            for j in b.indices where j > i && b[i].overlapsInTime(b[j]) {
                let (s1, e1) = (plan.offsets[i], plan.offsets[i] + b[i].bytes)
                let (s2, e2) = (plan.offsets[j], plan.offsets[j] + b[j].bytes)
                if s1 < e2 && s2 < e1 { return (b[i].name, b[j].name) }
            }
        }
        return nil
    }
}

extension MemoryPlan {
    /// The `inspect --memory` table.
    public func report() -> String {
        var out = "buffer                               bytes   first  last      offset\n"
        for i in buffers.indices.sorted(by: { (offsets[$0], buffers[$0].first) < (offsets[$1], buffers[$1].first) }) {
            let b = buffers[i]
            out += b.name.padding(toLength: 32, withPad: " ", startingAt: 0)
                + pad(b.bytes, 10) + pad(b.first, 8) + pad(b.last, 6) + pad(offsets[i], 12) + "\n"
        }
        out += "naive (every buffer apart) \(pad(naiveBytes, 15)) bytes\n"
        out += "planned arena              \(pad(arenaBytes, 15)) bytes\n"
        out += "lower bound (max live)     \(pad(lowerBound, 15)) bytes\n"
        out += "strategy                   \(strategy)\n"
        return out
    }

    /// The same as JSON, for tools.
    public func json() -> String {
        let rows = buffers.indices.map { i in
            "    {\"name\": \"\(buffers[i].name)\", \"bytes\": \(buffers[i].bytes), \"first\": \(buffers[i].first), \"last\": \(buffers[i].last), \"offset\": \(offsets[i])}"
        }
        return "{\n  \"buffers\": [\n\(rows.joined(separator: ",\n"))\n  ],\n  \"naive_bytes\": \(naiveBytes),\n  \"arena_bytes\": \(arenaBytes),\n  \"lower_bound_bytes\": \(lowerBound),\n  \"strategy\": \"\(strategy)\"\n}\n"
    }
}

func pad(_ v: Int, _ width: Int) -> String {
    let s = String(v)
    return String(repeating: " ", count: max(0, width - s.count)) + s
}
