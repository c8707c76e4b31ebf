// fuse-pool: a max pool of a stored conv is computed in the conv's band loop, from the rows
// the conv has just written, while they are still in cache.
//
//   %2 down_conv.0.second = conv3x3+relu(%1) : 1x8x96x96
//   %3 down_conv.0.pool = maxpool2x2(%2) : 1x8x48x48
//   =>
//   %3 down_conv.0.pool = maxpool2x2(%2) : 1x8x48x48 epilogue
//
// Why: the skip and the pooled map come out of one pass over the rows; the pool's buffer is
// live from the conv's step (the planner). Needs: the conv is stored, not streamed.

extension Pipeline {
    public static let fusePool = Pass(
        name: "fuse-pool",
        summary: "maxpool of a stored conv is computed in the conv's band loop"
    ) { graph in fusingPools(graph) { _ in true } }

    /// `graph` with the max pools of stored convs computed in their conv's band loop where
    /// `keep(conv)` (a node index) says so: fuse-pool, and the speed schedule's wide levels.
    static func fusingPools(_ graph: Graph, where keep: (Int) -> Bool) -> Graph {
        var g = graph
        for (i, node) in graph.nodes.enumerated() where node.op == .maxPool {
            let src = graph.nodes[node.inputs[0]]
            guard case .conv = src.op, src.fusion == .none, keep(node.inputs[0]) else { continue }
            g.nodes[i].fusion = .epilogue
        }
        return g
    }
}
