// Tiling choices: how each conv's work is cut into register tiles, row bands and channel chunks.
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
    /// Output rows per register tile (convs; 1 for a transposed conv).
    public var nr: Int
    /// Input channels per chunk: a tile sums one chunk, then the next adds to its partial sums
    /// (convs; 0 means all the input channels at once).
    public var kc: Int

    public init(r: Int, nv: Int, rb: Int, nr: Int = 1, kc: Int = 0) {
        self.r = r; self.nv = nv; self.rb = rb; self.nr = nr; self.kc = kc
    }

    enum CodingKeys: String, CodingKey { case r, nv, rb, nr, kc }

    /// Tuning files written before `nr` and `kc` existed read as nr 1, kc 0.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        r = try c.decode(Int.self, forKey: .r)
        nv = try c.decode(Int.self, forKey: .nv)
        rb = try c.decode(Int.self, forKey: .rb)
        nr = try c.decodeIfPresent(Int.self, forKey: .nr) ?? 1
        kc = try c.decodeIfPresent(Int.self, forKey: .kc) ?? 0
    }

    public var description: String { "r=\(r) nr=\(nr) nv=\(nv) rb=\(rb) kc=\(kc)" }
}

public enum Tiling {
    /// Bytes of input rows one channel chunk of a band's panel aims to fill: half a 1 MiB L2.
    static let panelBudget = 512 << 10
    /// Bytes of one tile's weights for one channel chunk: about two thirds of a 48 KiB L1.
    static let weightBudget = 32 << 10

    /// Register tiles (r, nr, nv) a 3x3 conv may use: about 24 accumulators, so that with the
    /// inputs and a broadcast they fit 32 vector registers. (12, 2, 1) and (16, 1, 1) are left
    /// out: clang 14 keeps their accumulators in memory in the full unet.c.
    static let tiles3: [(r: Int, nr: Int, nv: Int)] = [
        (8, 1, 3), (6, 1, 4), (12, 1, 2), (6, 4, 1), (8, 3, 1), (8, 2, 1)]
    /// Cost factor of a tile more than one row high (measured: 12x1x2 beats 6x4x1 at W 32).
    static let multiRowCost = 1.05

    /// The default tiling for node `node` of `graph`, for vectors of `v` floats; nil for
    /// ops that have no tiling.
    public static func defaults(_ node: Node, in graph: Graph, vectorWidth v: Int) -> LayerTiling? {
        let cin = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
        switch node.op {
        case .conv(let k, let p, _):
            let (h, w, cout) = (node.shape.h, node.shape.w, node.shape.c)
            let vectors = (w + v - 1) / v
            var best = (r: 16, nr: 1, nv: 1), bestCost = Double.infinity
            for t in tiles3 {
                // FMAs issued per useful one (the padding of cout, rows and columns), times the
                // loads each FMA costs (a broadcast per channel, a vector per row and column).
                let padded = Double(((cout + t.r - 1) / t.r) * t.r) / Double(cout)
                    * Double(((h + t.nr - 1) / t.nr) * t.nr) / Double(h)
                    * Double(((vectors + t.nv - 1) / t.nv) * t.nv * v) / Double(w)
                let loads = Double(t.r + t.nr * t.nv) / Double(t.r * t.nr * t.nv)
                let cost = padded * (1 + 0.25 * loads) * (t.nr > 1 ? multiRowCost : 1)
                if cost < bestCost - 1e-9 { best = t; bestCost = cost }
            }
            var (r, nr, nv) = best
            if cout < r { r = cout; nr = 1; nv = min(4, vectors) }
            let kc = max(1, min(cin, weightBudget / (r * k * k * 4)))
            let pw = ((w + nv * v - 1) / (nv * v)) * nv * v + 2 * p
            // As few bands as the budget allows (each band reads every weight once), all the
            // same size, a whole number of tiles high.
            let maxRows = max(nr, (panelBudget / (kc * pw * 4) - 2 * p) / nr * nr)
            let bands = (h + maxRows - 1) / maxRows
            let rb = ((h + bands - 1) / bands + nr - 1) / nr * nr
            return LayerTiling(r: r, nv: nv, rb: rb, nr: nr, kc: kc)
        case .convTranspose:
            let iw = graph.nodes[node.inputs[0]].shape.w
            let nv = 1, r = min(6, node.shape.c)
            let pw = ((iw + nv * v - 1) / (nv * v)) * nv * v
            let rb = max(1, min(graph.nodes[node.inputs[0]].shape.h, (256 << 10) / (cin * pw * 4)))
            return LayerTiling(r: r, nv: nv, rb: rb)
        case .input, .relu, .maxPool, .crop, .view, .concat, .output:
            return nil
        }
    }

    /// Checks a tiling a user or the tuner supplied.
    public static func validate(_ t: LayerTiling, for node: Node) throws {
        guard (1...64).contains(t.r), (1...8).contains(t.nv), (1...8).contains(t.nr), t.rb >= 1, t.kc >= 0 else {
            throw GraphError("tiling for \(node.name): \(t) is out of range (r 1...64, nv 1...8, nr 1...8, rb >= 1, kc >= 0)")
        }
        if case .convTranspose = node.op, t.nr != 1 {
            throw GraphError("tiling for \(node.name): \(t): a transposed conv's tiles are one row high (nr 1)")
        }
    }
}
