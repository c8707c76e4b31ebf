// The schedule of an optimised graph: the step at which each node is computed and the node
// whose buffer holds its value. The memory planner turns it into lifetimes; the C generator
// into pointers. Without fusion both are trivial: node i runs at step i in its own buffer.
//
// With the memory passes: a streamed node runs inside its reader's band loop (its reader's
// step) and has no buffer; an epilogue runs at its producer's step; an in-place node lives in
// the buffer of the view it fills, and a view in its source's; a conv read only by its pools
// has no buffer (its group keeps one band of it).

public struct Schedule: Sendable {
    public let graph: Graph
    /// The step at which each node is computed.
    public let step: [Int]
    /// The node whose arena buffer holds each node's value; nil for values outside the arena
    /// (the network input, the output and the node that writes it, streamed nodes).
    public let owner: [Int?]

    public init(_ graph: Graph) {
        self.graph = graph
        let users = graph.users()
        let outputSource = graph.nodes[graph.outputIndex].inputs[0]
        var step = Array(graph.nodes.indices)
        for i in graph.nodes.indices.reversed() where graph.nodes[i].fusion == .streamed {
            step[i] = step[users[i][0]]
        }
        for (i, node) in graph.nodes.enumerated() where node.fusion == .epilogue {
            step[i] = step[node.inputs[0]]
        }
        var owner = [Int?](repeating: nil, count: graph.nodes.count)
        for (i, node) in graph.nodes.enumerated() {
            if node.op.isView { owner[i] = owner[node.inputs[0]]; continue }
            switch node.fusion {
            case .inPlace(let v): owner[i] = owner[v]
            case .streamed: owner[i] = nil
            case .none, .epilogue:
                // A conv read only by its pools needs one band's rows at a time, not a buffer.
                let onlyPools = !users[i].isEmpty && users[i].allSatisfy { graph.nodes[$0].fusion == .epilogue }
                owner[i] = node.op == .input || node.op == .output || i == outputSource || onlyPools ? nil : i
            }
        }
        self.step = step
        self.owner = owner
    }

    /// The nodes that drive a step: computed at their own index (not streamed, not epilogues,
    /// not views, not the input or output).
    public func isDriver(_ i: Int) -> Bool {
        let node = graph.nodes[i]
        return step[i] == i && !node.op.isView && node.op != .input && node.op != .output
    }

    /// One buffer per node that owns one, live from its step to the last step that reads it
    /// (through views, in-place nodes and streamed readers), plus `scratch(i)` bytes for each
    /// driver i, live during its step alone.
    public func requests(scratch: (Int) -> Int = { _ in 0 }) -> [BufferRequest] {
        var last = step
        for (j, node) in graph.nodes.enumerated() where !node.op.isView {
            for i in node.inputs {
                if let o = owner[i] { last[o] = max(last[o], step[j]) }
            }
        }
        var out: [BufferRequest] = []
        for (i, node) in graph.nodes.enumerated() {
            if isDriver(i) {
                let s = scratch(i)
                if s > 0 { out.append(BufferRequest(name: "\(node.name).scratch", bytes: s, first: i, last: i)) }
            }
            if owner[i] == i { out.append(BufferRequest(name: node.name, bytes: node.shape.bytes, first: step[i], last: last[i])) }
        }
        return out
    }
}
