// The memory planner: lifetimes in, offsets into one arena out.
//
// Analyse (`requests`): every tensor the generated C must hold gets a buffer live from the
// step that writes it to the last step that reads it, a read through a view counting as a
// read of the view's source. Plan (`plan`): greedy by size, best fit, the strategy of
// TensorFlow Lite Micro and TVM. The plan is data; the C generator only reads it.

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

    public func offset(of name: String) -> Int? { buffers.firstIndex { $0.name == name }.map { offsets[$0] } }
}

public enum MemoryPlanner {
    public static let alignment = 64

    static func aligned(_ bytes: Int) -> Int { (bytes + alignment - 1) / alignment * alignment }

    /// The most (aligned) bytes live at once over all steps.
    public static func lowerBound(_ buffers: [BufferRequest]) -> Int {
        guard let end = buffers.map(\.last).max() else { return 0 }
        var live = [Int](repeating: 0, count: end + 2)
        for b in buffers { live[b.first] += aligned(b.bytes); live[b.last + 1] -= aligned(b.bytes) }
        var best = 0, running = 0
        for d in live { running += d; best = max(best, running) }
        return best
    }

    /// Greedy by size: largest first, each at the smallest gap between already placed buffers
    /// that live at the same time, or above them all.
    public static func plan(_ buffers: [BufferRequest]) -> MemoryPlan {
        let order = buffers.indices.sorted {
            (buffers[$0].bytes, buffers[$1].first, $1) > (buffers[$1].bytes, buffers[$0].first, $0)
        }
        var offsets = [Int](repeating: 0, count: buffers.count)
        var placed: [Int] = []
        for i in order {
            let size = aligned(buffers[i].bytes)
            let conflicts = placed.filter { buffers[$0].overlapsInTime(buffers[i]) }
                .map { (offsets[$0], offsets[$0] + aligned(buffers[$0].bytes)) }
                .sorted { $0 < $1 }
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
        return MemoryPlan(buffers: buffers, offsets: offsets, arenaBytes: arena,
                          lowerBound: lowerBound(buffers), naiveBytes: buffers.reduce(0) { $0 + aligned($1.bytes) })
    }

    /// The buffers `graph` needs when run in node order: one per node that the C materialises
    /// (not the input, the output, views, or the node the output reads, which writes straight
    /// into the caller's output), plus `scratch(i)` bytes live during step i alone.
    public static func requests(for graph: Graph, scratch: (Int) -> Int = { _ in 0 }) -> [BufferRequest] {
        let users = graph.users()
        let outputSource = graph.nodes[graph.outputIndex].inputs[0]
        // Last step that reads node i, looking through views.
        func lastRead(_ i: Int) -> Int {
            users[i].map { graph.nodes[$0].op.isView ? lastRead($0) : $0 }.max() ?? i
        }
        var out: [BufferRequest] = []
        for (i, node) in graph.nodes.enumerated() {
            let s = scratch(i)
            if s > 0 { out.append(BufferRequest(name: "\(node.name).scratch", bytes: s, first: i, last: i)) }
            if node.op == .input || node.op == .output || node.op.isView || i == outputSource { continue }
            out.append(BufferRequest(name: node.name, bytes: node.shape.bytes, first: i, last: lastRead(i)))
        }
        return out
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
        return out
    }

    /// The same as JSON, for tools.
    public func json() -> String {
        let rows = buffers.indices.map { i in
            "    {\"name\": \"\(buffers[i].name)\", \"bytes\": \(buffers[i].bytes), \"first\": \(buffers[i].first), \"last\": \(buffers[i].last), \"offset\": \(offsets[i])}"
        }
        return "{\n  \"buffers\": [\n\(rows.joined(separator: ",\n"))\n  ],\n  \"naive_bytes\": \(naiveBytes),\n  \"arena_bytes\": \(arenaBytes),\n  \"lower_bound_bytes\": \(lowerBound)\n}\n"
    }
}

func pad(_ v: Int, _ width: Int) -> String {
    let s = String(v)
    return String(repeating: " ", count: max(0, width - s.count)) + s
}
