// write-in-place: a decoder conv writes its result into the skip rows its own band loop has
// finished reading.
//
//   %17 up_conv.1.crop = view(%5) at (0, 0) : 1x16x48x48
//   %18 up_conv.1.first = conv3x3+relu(%16, %17) : 1x16x48x48 streamed
//   %19 up_conv.1.second = conv3x3+relu(%18) : 1x16x48x48
//   =>
//   %19 up_conv.1.second = conv3x3+relu(%18) : 1x16x48x48 in %17
//
// Why: in a U-Net a decoder level's output has the shape of its cropped skip. In the band
// loop of D (see stream-rows), band [y0, y0 + rb) first packs the new skip rows of A's panel,
// [y0 + rb + p + p', y0 + 2 rb + p + p') (p, p' the paddings of D and A; earlier rows stay in
// the rolling panel), then writes D's rows [y0, y0 + rb): every skip row written has been
// packed, and no later band reads it. So the output needs no buffer of its own.
// Needs: conv D reads exactly one node, a streamed conv A that reads a view V of D's shape;
// V has no other reader; every other reader of V's source comes before D; the source is a
// stored conv (not the network input, not in place itself).

extension Pipeline {
    public static let writeInPlace = Pass(
        name: "write-in-place",
        summary: "a decoder conv writes its output over the skip rows it has read"
    ) { graph in
        var g = graph
        let users = graph.users()
        let outputSource = graph.nodes[graph.outputIndex].inputs[0]
        for (d, node) in graph.nodes.enumerated() {
            guard case .conv = node.op, node.fusion == .none, d != outputSource,
                  node.inputs.count == 1 else { continue }
            let a = graph.nodes[node.inputs[0]]
            guard case .conv = a.op, a.fusion == .streamed else { continue }
            let candidates = a.inputs.filter { v in
                guard graph.nodes[v].op.isView, graph.nodes[v].shape == node.shape, users[v] == [node.inputs[0]] else { return false }
                let s = graph.nodes[v].inputs[0]
                return graph.nodes[s].op.hasWeights && graph.nodes[s].fusion == .none
                    && users[s].allSatisfy { $0 == v || $0 < d }
            }
            if let v = candidates.first { g.nodes[d].fusion = .inPlace(v) }
        }
        return g
    }
}
