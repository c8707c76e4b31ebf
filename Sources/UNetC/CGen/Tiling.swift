// Tiling choices: how each conv's work is cut into register tiles and row bands.
//
// These are the generator's per-layer parameters: `unetc tune` searches them, and a
// tuning file overrides the defaults chosen here layer by layer.

/// The tiling of one conv or transposed conv.
public struct LayerTiling: Equatable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// Output channels per register tile.
    public var r: Int
    /// Vectors of `vectorWidth` columns per register tile.
    public var nv: Int
    /// Output rows (input rows for a transposed conv) per packed band.
    public var rb: Int

    public init(r: Int, nv: Int, rb: Int) { self.r = r; self.nv = nv; self.rb = rb }
    public var description: String { "r=\(r) nv=\(nv) rb=\(rb)" }
}

public enum Tiling {
    /// Bytes of input rows a band's panel aims to fill: about a quarter of a 1 MiB L2.
    static let panelBudget = 256 << 10

    /// The default tiling for node `node` of `graph`, for vectors of `v` floats; nil for
    /// ops that have no tiling.
    public static func defaults(_ node: Node, in graph: Graph, vectorWidth v: Int) -> LayerTiling? {
        let cin = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
        switch node.op {
        case .conv(_, let p, _):
            let w = node.shape.w, cout = node.shape.c
            let vectors = (w + v - 1) / v
            var (r, nv) = w > 2 * v ? (8, 3) : w > v ? (12, 2) : (16, 1)
            nv = min(nv, vectors)
            if cout < r { r = cout; nv = min(4, vectors) }
            let pw = ((w + nv * v - 1) / (nv * v)) * nv * v + 2 * p
            let rb = max(1, min(node.shape.h, panelBudget / (cin * pw * 4) - 2 * p))
            return LayerTiling(r: r, nv: nv, rb: rb)
        case .convTranspose:
            let iw = graph.nodes[node.inputs[0]].shape.w
            let nv = 1, r = min(6, node.shape.c)
            let pw = ((iw + nv * v - 1) / (nv * v)) * nv * v
            let rb = max(1, min(graph.nodes[node.inputs[0]].shape.h, panelBudget / (cin * pw * 4)))
            return LayerTiling(r: r, nv: nv, rb: rb)
        case .input, .relu, .maxPool, .crop, .view, .concat, .output:
            return nil
        }
    }

    /// Checks a tiling a user or the tuner supplied.
    public static func validate(_ t: LayerTiling, for node: Node) throws {
        guard (1...64).contains(t.r), (1...8).contains(t.nv), t.rb >= 1 else {
            throw GraphError("tiling for \(node.name): \(t) is out of range (r 1...64, nv 1...8, rb >= 1)")
        }
    }
}
