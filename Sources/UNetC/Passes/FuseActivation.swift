// fuse-activation: a conv whose only user is a ReLU carries the ReLU itself.
//
//   %3 down_conv.0.first = conv3x3(%0)            %3 down_conv.0.first = conv3x3+relu(%0)
//   %4 down_conv.0.first.relu = relu(%3)    =>    (gone; its users read %3)
//
// Why: the ReLU is applied to the accumulators before the store, so the map is written and
// read once instead of three times, and one buffer fewer is live. Only when the conv's result
// has a single user (as Glow's fuseActivation): another user would need the value before ReLU.

extension Pipeline {
    public static let fuseActivation = Pass(
        name: "fuse-activation",
        summary: "conv followed by its only user relu becomes conv+relu"
    ) { graph in
        var g = graph
        let users = graph.users()
        var removed = Set<Int>(), forward: [Int: Int] = [:]
        for (i, node) in graph.nodes.enumerated() where node.op == .relu {
            let src = node.inputs[0]
            guard case .conv(let k, let p, .none) = graph.nodes[src].op, users[src] == [i] else { continue }
            g.nodes[src].op = .conv(kernel: k, padding: p, activation: .relu)
            removed.insert(i)
            forward[i] = src
        }
        return g.removing(removed, forward: forward)
    }
}
