// stream-rows: a conv (or transposed conv) whose only reader is a conv is computed by that
// reader, a band of rows at a time, straight into the reader's packed input panel.
//
//   %1 down_conv.0.first = conv3x3+relu(%0) : 1x8x96x96
//   %2 down_conv.0.second = conv3x3+relu(%1) : 1x8x96x96
//   =>
//   %1 down_conv.0.first = conv3x3+relu(%0) : 1x8x96x96 streamed
//   %2 down_conv.0.second = conv3x3+relu(%1) : 1x8x96x96
//
// Why: the full intermediate map never exists. The reader's panel holds the band's rows plus
// its halo; between bands the halo rows move to the top (a rolling buffer) and only new rows
// are computed, so no row is computed twice. Chains and trees stream too: a decoder level
// becomes convT -> conv -> conv (-> the final 1x1) in one band loop, with a recomputed skip
// (recompute-skip) streamed into the same panel. Needs: one reader, a conv.
// Establishes: a streamed node's inputs stay live until its reader's step (the planner).

extension Pipeline {
    public static let streamRows = Pass(
        name: "stream-rows",
        summary: "a conv or convT read only by a conv is computed band by band inside it (rolling buffer)"
    ) { graph in streamingRows(graph) { _, _ in true } }

    /// `graph` with every conv or transposed conv read only by a conv streamed into it where
    /// `keep(producer, reader)` (node indices) says so: stream-rows, and the speed schedule's
    /// wide levels (`Lowering.streamingWideLayers`).
    static func streamingRows(_ graph: Graph, where keep: (Int, Int) -> Bool) -> Graph {
        var g = graph
        let users = graph.users()
        for (i, node) in graph.nodes.enumerated() where node.op.hasWeights && users[i].count == 1 {
            let reader = users[i][0]
            guard case .conv = graph.nodes[reader].op, keep(i, reader) else { continue }
            g.nodes[i].fusion = .streamed
        }
        return g
    }
}
