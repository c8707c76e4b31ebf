// A pass is a named value: a pure function from graph to graph.
//
// The default pipeline is the literal array below, read top to bottom. `run` verifies the
// graph after every pass when asked (tests always ask), and can hand back the IR after any
// pass for `unetc inspect --dump-after`.

public struct Pass: Sendable {
    public let name: String
    public let summary: String
    public let run: @Sendable (Graph) throws -> Graph
}

public enum Pipeline {
    /// The passes `generate` runs, in order.
    public static let standard: [Pass] = [
        fuseActivation,     // conv -> relu  becomes  conv+relu
        eliminateConcat,    // conv(concat(a, b))  becomes  conv(a, b)
        eliminateCrop,      // crop  becomes  view (an offset and strides, no copy)
    ]

    /// The passes `generate --memory min` runs after the standard ones.
    public static let memory: [Pass] = [
        recomputeSkip,      // the first level's skip is computed again where the decoder reads it
        streamRows,         // conv -> conv  becomes  the first computed band by band inside the second
        fusePool,           // conv -> maxpool  becomes  the pool computed in the conv's band loop
        writeInPlace,       // a decoder conv writes its result over the skip rows it has read
    ]

    public static let minimumMemory: [Pass] = standard + memory

    public static func pass(named name: String) -> Pass? { minimumMemory.first { $0.name == name } }

    /// Runs `passes` in order. With `verify`, checks the IR after each one and names the pass
    /// that broke it. `after(pass, graph)` sees every intermediate graph.
    public static func run(_ graph: Graph, passes: [Pass] = standard, verify: Bool = true,
                           after: (Pass, Graph) -> Void = { _, _ in }) throws -> Graph {
        var g = graph
        for pass in passes {
            g = try pass.run(g)
            if verify {
                do { try g.verify() } catch let e as GraphError {
                    throw GraphError("after pass \(pass.name): \(e.message)")
                }
            }
            after(pass, g)
        }
        return g
    }
}

extension Graph {
    /// A new graph without the nodes in `removed`; every read of a removed node `i` reads
    /// `forward[i]` instead (which must not be removed itself).
    func removing(_ removed: Set<Int>, forward: [Int: Int]) -> Graph {
        var newIndex = [Int](repeating: -1, count: nodes.count)
        var out: [Node] = []
        for (i, node) in nodes.enumerated() where !removed.contains(i) {
            var node = node
            node.inputs = node.inputs.map { newIndex[forward[$0] ?? $0] }
            if case .inPlace(let v) = node.fusion { node.fusion = .inPlace(newIndex[forward[v] ?? v]) }
            newIndex[i] = out.count
            out.append(node)
        }
        return Graph(nodes: out)
    }
}
