// eliminate-crop: a centre crop becomes a view, an offset and strides into its source.
//
//   %39 up_conv.0.crop = crop(%20) at (4, 4) : 1x64x56x56
//   =>
//   %39 up_conv.0.crop = view(%20) at (4, 4) : 1x64x56x56
//
// Why: a crop copies a map only to throw part of it away. A view costs nothing: its reader
// starts at row `top`, column `left` of each source plane and steps by the source's row
// length. The source then lives until the view's last reader (the memory planner sees to
// that). Needs: every reader of the crop can read a strided view (a conv or a concat), and
// the source is a real tensor, not another view.

extension Pipeline {
    public static let eliminateCrop = Pass(
        name: "eliminate-crop",
        summary: "crop becomes a view into its source: no copy"
    ) { graph in
        var g = graph
        let users = graph.users()
        for (i, node) in graph.nodes.enumerated() {
            guard case .crop(let t, let l, let h, let w) = node.op, !graph.nodes[node.inputs[0]].op.isView else { continue }
            let readersTakeViews = users[i].allSatisfy { r in
                switch graph.nodes[r].op {
                case .conv, .concat: return true
                case .input, .relu, .maxPool, .convTranspose, .crop, .view, .output: return false
                }
            }
            if readersTakeViews { g.nodes[i].op = .view(top: t, left: l, height: h, width: w) }
        }
        return g
    }
}
