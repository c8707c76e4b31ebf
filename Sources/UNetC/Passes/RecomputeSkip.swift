// recompute-skip: a skip that is a short chain of convs from the network input is computed
// again where the decoder reads it, instead of being kept alive across the whole network.
//
//   %1 down_conv.0.first = conv3x3+relu(%0) : 1x64x256x256
//   %2 down_conv.0.second = conv3x3+relu(%1) : 1x64x256x256
//   ...
//   %58 up_conv.3.crop = view(%2) at (0, 0) : 1x64x256x256
//   %59 up_conv.3.first = conv3x3+relu(%57, %58) : 1x64x256x256
//   =>
//   %57 down_conv.0.first.again = conv3x3+relu(%0) weights of down_conv.0.first : 1x64x256x256
//   %58 down_conv.0.second.again = conv3x3+relu(%57) weights of down_conv.0.second : 1x64x256x256
//   %59 up_conv.3.first = conv3x3+relu(%56, %58) : 1x64x256x256
//
// Why: the first level's skip is the largest map of the network and would stay live through
// every deeper level, where the memory peak is. Computing it again costs the first level's
// FLOPs once more (about 5% of the classic model); streamed (stream-rows), the copy never
// exists whole, and the original is only read by its pool (fuse-pool), so neither is stored.
// Needs: the view covers its whole source (no crop: sizes multiples of 2^depth); the source
// is at most two convs from the network input, each the only reader of the one before.

extension Pipeline {
    public static let recomputeSkip = Pass(
        name: "recompute-skip",
        summary: "the first level's skip is computed again where the decoder reads it, not kept"
    ) { graph in
        let users = graph.users()
        // The conv chain (first to last) that computes node s from the network input, if short.
        func chain(_ s: Int) -> [Int]? {
            var out = [s], current = s
            while true {
                let node = graph.nodes[current]
                guard case .conv = node.op, node.inputs.count == 1 else { return nil }
                let src = node.inputs[0]
                if graph.nodes[src].op == .input { return out.count <= 2 ? out : nil }
                guard users[src] == [current] else { return nil }
                out.insert(src, at: 0)
                current = src
            }
        }
        var nodes: [Node] = [], newIndex = [Int](repeating: -1, count: graph.nodes.count)
        for (i, node) in graph.nodes.enumerated() {
            var node = node
            if case .view(0, 0, let h, let w) = node.op, users[i].count == 1 {
                let src = graph.nodes[node.inputs[0]]
                if src.shape.h == h, src.shape.w == w, chain(node.inputs[0]) != nil {
                    continue    // read directly by its reader's copy of the chain, below
                }
            }
            node.inputs = try node.inputs.map { j in
                let v = graph.nodes[j]
                guard case .view(0, 0, let h, let w) = v.op, users[j].count == 1,
                      graph.nodes[v.inputs[0]].shape.h == h, graph.nodes[v.inputs[0]].shape.w == w,
                      let convs = chain(v.inputs[0]) else { return newIndex[j] }
                var previous = newIndex[graph.nodes.firstIndex { $0.op == .input }!]
                for c in convs {
                    let original = graph.nodes[c]
                    guard !nodes.contains(where: { $0.name == original.name + ".again" }) else {
                        throw GraphError("recompute-skip: \(original.name) is read twice through views")
                    }
                    nodes.append(Node(name: original.name + ".again", op: original.op, inputs: [previous],
                                      shape: original.shape, weightsOf: original.parameterName))
                    previous = nodes.count - 1
                }
                return previous
            }
            if case .inPlace(let v) = node.fusion { node.fusion = .inPlace(newIndex[v]) }
            newIndex[i] = nodes.count
            nodes.append(node)
        }
        return Graph(nodes: nodes)
    }
}
