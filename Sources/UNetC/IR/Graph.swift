// The graph IR: an immutable list of nodes in topological order with static NCHW shapes.
//
// A pass takes a `Graph` and returns a new one; nothing edits a graph in place, so the IR
// before and after every pass can always be printed and compared.

/// One operation in the graph. `inputs` index earlier nodes of the same graph.
public struct Node: Equatable, Sendable {
    /// Unique; for ops with weights it is the PyTorch module path (`down_conv.0.first`).
    public var name: String
    public var op: Op
    public var inputs: [Int]
    public var shape: Shape
    /// How the node's value is computed and stored: `.none` until a memory pass says otherwise.
    public var fusion: Fusion
    /// The module whose weights it uses, when not its own (a layer computed again).
    public var weightsOf: String?

    public init(name: String, op: Op, inputs: [Int], shape: Shape, fusion: Fusion = .none, weightsOf: String? = nil) {
        self.name = name; self.op = op; self.inputs = inputs; self.shape = shape; self.fusion = fusion
        self.weightsOf = weightsOf
    }

    /// `<parameterName>.weight` and `.bias` are the node's weights.
    public var parameterName: String { weightsOf ?? name }
}

public struct GraphError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public struct Graph: Equatable, Sendable {
    public var nodes: [Node]

    public init(nodes: [Node]) { self.nodes = nodes }

    public var input: Node { nodes.first { $0.op == .input }! }
    public var outputIndex: Int { nodes.firstIndex { $0.op == .output }! }

    /// For each node, the indices of the nodes that read it.
    public func users() -> [[Int]] {
        var users = Array(repeating: [Int](), count: nodes.count)
        for (i, node) in nodes.enumerated() {
            for j in node.inputs { users[j].append(i) }
        }
        return users
    }

    public func index(of name: String) -> Int? { nodes.firstIndex { $0.name == name } }
}

// MARK: - Shape rules

extension Op {
    /// The output shape for the given input shapes, or an error saying what is wrong.
    /// `channelsOut` is the conv's output channel count (from its weights).
    public func inferShape(_ inputs: [Shape], channelsOut: Int?) throws -> Shape {
        func one() throws -> Shape {
            guard inputs.count == 1 else { throw GraphError("\(mnemonic) takes 1 input, got \(inputs.count)") }
            return inputs[0]
        }
        switch self {
        case .input:
            throw GraphError("input has no shape rule; its shape is given")
        case .conv(let k, let p, _):
            guard let first = inputs.first, let co = channelsOut else { throw GraphError("conv needs inputs and weights") }
            for s in inputs where (s.n, s.h, s.w) != (first.n, first.h, first.w) {
                throw GraphError("conv inputs disagree: \(first) and \(s)")
            }
            let h = first.h + 2 * p - k + 1, w = first.w + 2 * p - k + 1
            guard h > 0, w > 0 else { throw GraphError("conv\(k)x\(k) on \(first) gives an empty output") }
            return Shape(n: first.n, c: co, h: h, w: w)
        case .relu:
            return try one()
        case .maxPool:
            let s = try one()
            guard s.h >= 2, s.w >= 2 else { throw GraphError("maxpool2x2 on \(s): needs at least 2 rows and 2 columns") }
            return Shape(n: s.n, c: s.c, h: s.h / 2, w: s.w / 2)
        case .convTranspose:
            let s = try one()
            guard let co = channelsOut else { throw GraphError("convT needs weights") }
            return Shape(n: s.n, c: co, h: 2 * s.h, w: 2 * s.w)
        case .crop(let top, let left, let h, let w), .view(let top, let left, let h, let w):
            let s = try one()
            guard top >= 0, left >= 0, h > 0, w > 0, top + h <= s.h, left + w <= s.w else {
                throw GraphError("crop \(h)x\(w) at (\(top), \(left)) does not fit in \(s)")
            }
            return Shape(n: s.n, c: s.c, h: h, w: w)
        case .concat:
            guard let first = inputs.first else { throw GraphError("concat needs inputs") }
            for s in inputs where (s.n, s.h, s.w) != (first.n, first.h, first.w) {
                throw GraphError("concat inputs disagree: \(first) and \(s)")
            }
            return Shape(n: first.n, c: inputs.reduce(0) { $0 + $1.c }, h: first.h, w: first.w)
        case .output:
            return try one()
        }
    }
}

// MARK: - Verifier

extension Graph {
    /// Checks the invariants every pass must keep: topological order, unique names, one input
    /// and one output node, and every shape equal to what its op's rule gives.
    public func verify() throws {
        var names = Set<String>()
        var inputs = 0, outputs = 0
        for (i, node) in nodes.enumerated() {
            guard names.insert(node.name).inserted else { throw GraphError("duplicate node name \(node.name)") }
            for j in node.inputs where !(0..<i).contains(j) {
                throw GraphError("node \(node.name) reads node \(j), which is not before it")
            }
            if node.op == .input { inputs += 1; continue }
            if node.op == .output { outputs += 1 }
            let channelsOut = node.op.hasWeights ? node.shape.c : nil
            let expected = try node.op.inferShape(node.inputs.map { nodes[$0].shape }, channelsOut: channelsOut)
            guard expected == node.shape else {
                throw GraphError("node \(node.name): shape \(node.shape), but its op gives \(expected)")
            }
            if case .view = node.op, nodes[node.inputs[0]].op.isView {
                throw GraphError("node \(node.name): a view of a view")
            }
        }
        guard inputs == 1, outputs == 1 else { throw GraphError("graph has \(inputs) inputs and \(outputs) outputs") }
        try verifyFusion()
    }

    /// The rules of `Fusion`: a streamed node is a conv or transposed conv read by one conv;
    /// an epilogue is a max pool of a stored conv; an in-place node fills a view of its shape.
    func verifyFusion() throws {
        let users = users()
        for (i, node) in nodes.enumerated() {
            switch node.fusion {
            case .none:
                break
            case .streamed:
                let byConv = users[i].count == 1 && { if case .conv = nodes[users[i][0]].op { return true }; return false }()
                guard node.op.hasWeights, byConv else {
                    throw GraphError("node \(node.name) is streamed but is not a conv read by exactly one conv")
                }
            case .epilogue:
                let src = nodes[node.inputs[0]]
                guard node.op == .maxPool, src.op.hasWeights, src.fusion == .none else {
                    throw GraphError("node \(node.name) is an epilogue but is not a max pool of a stored conv")
                }
            case .inPlace(let v):
                guard v < i, nodes[v].op.isView, nodes[v].shape == node.shape else {
                    throw GraphError("node \(node.name) is in place in %\(v), which is not an earlier view of shape \(node.shape)")
                }
            }
        }
    }
}

extension Op {
    public var isView: Bool {
        if case .view = self { return true }
        return false
    }
}

// MARK: - Printer

extension Graph {
    /// One node per line: `%index name = op(inputs) : shape`.
    public func text() -> String {
        var out = ""
        for (i, node) in nodes.enumerated() {
            let args = node.inputs.map { "%\($0)" }.joined(separator: ", ")
            var attrs = ""
            switch node.op {
            case .crop(let t, let l, _, _), .view(let t, let l, _, _): attrs = " at (\(t), \(l))"
            case .input, .conv, .relu, .maxPool, .convTranspose, .concat, .output: break
            }
            var fusion = ""
            switch node.fusion {
            case .none: break
            case .streamed: fusion = " streamed"
            case .epilogue: fusion = " epilogue"
            case .inPlace(let v): fusion = " in %\(v)"
            }
            if let w = node.weightsOf { attrs += " weights of \(w)" }
            out += "%\(i) \(node.name) = \(node.op.mnemonic)(\(args))\(attrs) : \(node.shape)\(fusion)\n"
        }
        return out
    }
}
