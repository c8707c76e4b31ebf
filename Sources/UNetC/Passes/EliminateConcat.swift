// eliminate-concat: a conv reads the concatenation's sources directly; no concat is copied.
//
//   %40 up_conv.0.concat = concat(%38, %39)       (gone)
//   %41 up_conv.0.first = conv3x3+relu(%40)  =>   %40 up_conv.0.first = conv3x3+relu(%38, %39)
//
// Why: the generated conv packs its input rows into a small per-conv panel anyway (zero halo,
// padded width), so reading channels 0..<C1 from one source and C1..<C1+C2 from another costs
// nothing, while a concat copy would move both maps through memory and keep a third buffer
// live. Needs: every user of the concat is a conv. Establishes: no concat node remains that
// only convs read.

extension Pipeline {
    public static let eliminateConcat = Pass(
        name: "eliminate-concat",
        summary: "conv(concat(a, b)) becomes conv(a, b): the conv reads both sources"
    ) { graph in
        var g = graph
        let users = graph.users()
        var removed = Set<Int>()
        for (i, node) in graph.nodes.enumerated() where node.op == .concat {
            let readers = users[i]
            guard !readers.isEmpty, readers.allSatisfy({ if case .conv = graph.nodes[$0].op { return true } else { return false } })
            else { continue }
            for r in readers {
                g.nodes[r].inputs = g.nodes[r].inputs.flatMap { $0 == i ? node.inputs : [$0] }
            }
            removed.insert(i)
        }
        return g.removing(removed, forward: [:])
    }
}
