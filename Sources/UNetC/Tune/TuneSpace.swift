// The search space of `unetc tune`: the tilings it tries for one layer, best guess first.
//
// A direct conv's tiling is a register tile (r output channels x nr rows x nv vectors, or with
// `flat` r x nv vectors of a band's pixels), a band height rb and a channel chunk kc; a Winograd
// conv's (3x3 pad 1) the output tile m (in nr), a GEMM register tile r x nv and rb; a transposed
// conv's r x nv and rb. The tuner first tries each algorithm's default, then tile shapes of each
// algorithm in turn, each with the bands and chunks the default rule would give it, in the order
// a simple cost model ranks them (so that a small budget tries the likeliest first); then, around
// the best so far, halved and doubled bands and chunks, again and again while they win; then, if
// time is left, the tile shapes ranked lower, and refinements around the best again.

/// One layer the tuner searches: a conv or transposed conv of the optimised graph.
public struct TuneLayer: Sendable {
    public var index: Int
    public var name: String
    public var op: Op
    /// Output shape.
    public var shape: Shape
    /// Input channels (all sources together).
    public var cin: Int
    /// The input's height and width (a transposed conv's; a conv's are its output's).
    public var inH: Int, inW: Int
    /// The generator's default tiling: what `generate` does without a tuning file.
    public var defaultTiling: LayerTiling
    /// The direct default (`Tiling.defaults`), whichever algorithm the default uses.
    public var directDefault: LayerTiling
    /// The Winograd defaults by output tile m (2 and 4), for the 3x3 pad-1 convs; with the
    /// output tile `auto` would choose first.
    public var winogradDefaults: [Int: LayerTiling]
    public var preferredWinogradTile: Int
    /// What the timing depends on: the op, the sources' shapes and storage, the output shape.
    public var key: String

    public var isConv: Bool { if case .conv = op { return true } else { return false } }
    public var kernel: Int { if case .conv(let k, _, _) = op { return k } else { return 2 } }
    public var padding: Int { if case .conv(_, let p, _) = op { return p } else { return 0 } }
    public var winogradApplies: Bool { !winogradDefaults.isEmpty }

    /// The layers of `graph` that have a tiling, in order; their defaults from `defaults` (the
    /// tilings of a program generated without a tuning file), else the direct ones.
    public static func all(in graph: Graph, vectorWidth v: Int, registers: Int = 32,
                           defaults: [String: LayerTiling] = [:]) -> [TuneLayer] {
        graph.nodes.enumerated().compactMap { i, node in
            guard let direct = Tiling.defaults(node, in: graph, vectorWidth: v, registers: registers) else { return nil }
            let cin = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
            let src = graph.nodes[node.inputs[0]].shape
            let sources = node.inputs.map { j -> String in
                let s = graph.nodes[j]
                let storage = s.op.isView ? graph.nodes[s.inputs[0]].shape : s.shape
                return storage == s.shape ? "\(s.shape)" : "\(s.shape)@\(storage)"
            }
            let key = "\(node.op.mnemonic)(\(sources.joined(separator: ", "))) -> \(node.shape)"
            var winograd: [Int: LayerTiling] = [:]
            if Tiling.winogradApplies(node) {
                for m in [2, 4] { winograd[m] = Tiling.winogradDefaults(node, in: graph, vectorWidth: v, registers: registers, m: m) }
            }
            return TuneLayer(index: i, name: node.name, op: node.op, shape: node.shape, cin: cin,
                             inH: src.h, inW: src.w, defaultTiling: defaults[node.name] ?? direct, directDefault: direct,
                             winogradDefaults: winograd, preferredWinogradTile: Tiling.winogradTile(node), key: key)
        }
    }
}

public enum TuneSpace {
    /// Register-tile output channels tried.
    static let rs = [4, 6, 8, 12, 16, 24]
    /// Accumulators a tile may hold with `registers` vector registers: 28 of 32 (AVX-512, NEON),
    /// 12 of 16 (AVX2, SSE). With its input vectors and a broadcast a tile must also fit the
    /// registers.
    public static func maxAccumulators(registers: Int) -> Int { registers - 4 }
    /// The fewest accumulators a tile holds, unless the layer is that small: 12 of 32
    /// registers, 6 of 16.
    static func minAccumulators(registers: Int) -> Int { registers * 3 / 8 }
    /// Tile shapes tried before the bands and chunks are refined (the rest come after).
    public static let maxShapes = 12

    /// The same tiling in one canonical form, so that equivalent tilings compare equal: rb at
    /// most the rows there are, kc the input channels summed at once (0 means all), nr 1 and
    /// kc 0 for a transposed conv.
    public static func normalize(_ t: LayerTiling, for layer: TuneLayer) -> LayerTiling {
        var t = t
        if t.algorithm == .winograd {
            let m = t.nr, tiles = (layer.shape.h + m - 1) / m
            t.kc = 0
            t.rb = min((t.rb + m - 1) / m, tiles) * m
        } else if layer.isConv {
            t.kc = t.kc == 0 || t.kc >= layer.cin ? layer.cin : t.kc
            t.rb = min(t.rb, layer.shape.h)
        } else {
            t.nr = 1; t.kc = 0
            t.rb = min(t.rb, layer.inH)
        }
        return t
    }

    /// Tile shapes, ranked by the cost model, each with its own bands and chunks: the first
    /// `limit` (all for nil); Winograd ones only if `winograd`. Excludes nothing else; the
    /// caller skips what it has tried.
    public static func shapes(for layer: TuneLayer, vectorWidth v: Int, registers: Int = 32,
                              limit: Int? = maxShapes, winograd: Bool = true) -> [LayerTiling] {
        var lists = [directShapes(for: layer, vectorWidth: v, registers: registers)]
        var firsts = [layer.directDefault]
        if winograd && layer.winogradApplies {
            lists.append(winogradShapes(for: layer, vectorWidth: v, registers: registers))
            firsts += [layer.preferredWinogradTile, 6 - layer.preferredWinogradTile].compactMap { layer.winogradDefaults[$0] }
        }
        // Each algorithm's defaults, then the algorithms' ranked shapes in turn.
        var out: [LayerTiling] = [], seen = Set<LayerTiling>()
        func add(_ t: LayerTiling) { let n = normalize(t, for: layer); if seen.insert(n).inserted { out.append(n) } }
        firsts.forEach(add)
        for k in 0..<(lists.map(\.count).max() ?? 0) { for list in lists where k < list.count { add(list[k]) } }
        return limit.map { Array(out.prefix($0)) } ?? out
    }

    /// Direct tile shapes, best first by the cost model.
    static func directShapes(for layer: TuneLayer, vectorWidth v: Int, registers: Int) -> [LayerTiling] {
        let maxAccumulators = maxAccumulators(registers: registers), fewest = minAccumulators(registers: registers)
        let vectors = (layer.inW + v - 1) / v
        var rs = rs.filter { $0 <= layer.shape.c }
        if layer.shape.c < 24 && !rs.contains(layer.shape.c) { rs.append(layer.shape.c) }
        var scored: [(cost: Double, t: LayerTiling)] = []
        if layer.isConv {
            let (h, w, cout) = (layer.shape.h, layer.shape.w, layer.shape.c)
            for r in rs {
                let coutPadding = Tiling.blockPadding(cout, block: r)
                for nr in 1...4 where nr <= h {
                    for nv in 1...4 where nv <= vectors {
                        let acc = r * nr * nv
                        guard acc <= maxAccumulators, acc + nr * nv + 1 <= registers else { continue }
                        // Too small a tile wastes the registers, unless the layer is that small.
                        guard acc >= min(fewest, cout * min(h, 4) * vectors) else { continue }
                        let padded = coutPadding
                            * Double(((h + nr - 1) / nr) * nr) / Double(h)
                            * Double(((vectors + nv - 1) / nv) * nv * v) / Double(w)
                        let loads = Double(r + nr * nv) / Double(acc)
                        scored.append((padded * (1 + 0.25 * loads), convTiling(r: r, nr: nr, nv: nv, layer: layer, v: v, registers: registers)))
                    }
                }
                // One row high over the band's rows flattened (`LayerTiling.flat`): as many
                // vectors as the map's pixels fill.
                let p = layer.padding, pixels = h * (w + 2 * p)
                for nv in 1...4 where p > 0 && nv <= (pixels + v - 1) / v && r * nv <= maxAccumulators
                    && r * nv + nv + 1 <= registers {
                    guard r * nv >= min(fewest, cout * min(h, 4) * vectors) else { continue }
                    let padded = coutPadding
                        * Tiling.flatPadding(h: h, w: w, p: p, tileWidth: nv * v)
                        * Tiling.flatOverhead(cin: layer.cin, k: layer.kernel, v: v)
                    let loads = Double(r + nv) / Double(r * nv)
                    scored.append((padded * (1 + 0.25 * loads), convTiling(r: r, nr: 1, nv: nv, layer: layer, v: v, registers: registers, flat: true)))
                }
            }
        } else {
            let cout = layer.shape.c
            for r in rs + [2, 3, 5, 7] where r <= cout {
                let coutPadding = Tiling.blockPadding(cout, block: r)
                for nv in 1...3 where nv <= vectors {
                    let acc = 4 * r * nv
                    guard acc <= maxAccumulators, acc + nv + 1 <= registers else { continue }
                    let padded = coutPadding
                        * Double(((vectors + nv - 1) / nv) * nv * v) / Double(layer.inW)
                    let loads = Double(4 * r + nv) / Double(acc)
                    scored.append((padded * (1 + 0.25 * loads), transposedTiling(r: r, nv: nv, layer: layer, v: v, registers: registers)))
                    // Flat (`LayerTiling.flat`): over the band's input rows as one run of pixels.
                    let flat = transposedTiling(r: r, nv: nv, layer: layer, v: v, flat: true)
                    let flatPadded = coutPadding
                        * Tiling.flatPadding(h: flat.rb, w: layer.inW, p: 0, tileWidth: nv * v)
                        * Tiling.flatOverhead(cin: layer.cin, k: 2, v: v)
                    scored.append((flatPadded * (1 + 0.25 * loads), flat))
                }
                // Split rows (`LayerTiling.splitRows`): one output row a tile, 2 taps; each
                // input vector is loaded twice as often.
                for nv in 1...3 where nv <= vectors {
                    let acc = 2 * r * nv
                    guard acc <= maxAccumulators, acc + nv + 1 <= registers, acc >= min(fewest, 2 * cout) else { continue }
                    let padded = coutPadding
                        * Double(((vectors + nv - 1) / nv) * nv * v) / Double(layer.inW)
                    let loads = Double(2 * r + 2 * nv) / Double(acc)
                    scored.append((padded * (1 + 0.25 * loads), transposedTiling(r: r, nv: nv, layer: layer, v: v, registers: registers, splitRows: true)))
                }
            }
        }
        var seen = Set<LayerTiling>(), out: [LayerTiling] = []
        for (_, t) in scored.sorted(by: { $0.cost < $1.cost }) where seen.insert(t).inserted { out.append(t) }
        return out
    }

    /// Winograd GEMM tiles (r output channels x nv vectors of transformed tiles), best first by
    /// the cost model, each for the output tile `auto` prefers and then the other, with the
    /// bands of that tile's default.
    static func winogradShapes(for layer: TuneLayer, vectorWidth v: Int, registers: Int) -> [LayerTiling] {
        let maxAccumulators = maxAccumulators(registers: registers), fewest = minAccumulators(registers: registers)
        let cout = layer.shape.c
        var rs = rs.filter { $0 <= cout }
        if cout < 24 && !rs.contains(cout) { rs.append(cout) }
        let ms = [layer.preferredWinogradTile, 6 - layer.preferredWinogradTile]
        var scored: [(cost: Double, r: Int, nv: Int)] = []
        for r in rs {
            for nv in 1...4 {
                let acc = r * nv
                guard acc <= maxAccumulators, acc + nv + 1 <= registers, acc >= min(fewest, cout * 4) else { continue }
                // Tiles per band with the preferred output tile.
                guard let d = layer.winogradDefaults[ms[0]] else { continue }
                let m = d.nr, tiles = (d.rb / m) * ((layer.shape.w + m - 1) / m)
                guard nv <= max(1, (tiles + v - 1) / v) else { continue }
                let padded = Tiling.blockPadding(cout, block: r)
                    * Double(((tiles + nv * v - 1) / (nv * v)) * nv * v) / Double(tiles)
                let loads = Double(r + nv) / Double(acc)
                scored.append((padded * (1 + 0.25 * loads), r, nv))
            }
        }
        var out: [LayerTiling] = []
        for (_, r, nv) in scored.sorted(by: { $0.cost < $1.cost }) {
            for m in ms {
                guard var t = layer.winogradDefaults[m] else { continue }
                t.r = r; t.nv = nv
                out.append(normalize(t, for: layer))
            }
        }
        return out
    }

    /// The refinements of `t`: its bands halved, doubled and whole, its chunks halved, doubled
    /// and whole, each on its own.
    public static func refinements(of t: LayerTiling, for layer: TuneLayer) -> [LayerTiling] {
        let t = normalize(t, for: layer)
        var out: [LayerTiling] = []
        func add(_ c: LayerTiling) {
            let c = normalize(c, for: layer)
            if c != t && !out.contains(c) { out.append(c) }
        }
        if t.algorithm == .winograd {
            // Bands halved, doubled and whole (whole numbers of output tiles); the other tile.
            let m = t.nr
            for rb in [max(m, t.rb / 2 / m * m), t.rb * 2, layer.shape.h] { var c = t; c.rb = rb; add(c) }
            if var c = layer.winogradDefaults[6 - m] { c.r = t.r; c.nv = t.nv; add(c) }
            return out
        }
        let rows = layer.isConv ? layer.shape.h : layer.inH
        let nr = t.nr
        let roundRows = { (x: Int) in max(nr, (x + nr - 1) / nr * nr) }
        for rb in [roundRows(t.rb / 2), roundRows(t.rb * 2), rows] { var c = t; c.rb = rb; add(c) }
        if layer.isConv {
            for kc in [max(1, t.kc / 2), t.kc * 2, layer.cin] { var c = t; c.kc = kc; add(c) }
        }
        return out
    }

    /// Bands and chunks for a conv tile shape, from the defaults' budgets: chunks whose weights
    /// for one tile fill about two thirds of L1, bands whose panel chunk fills half of L2, as
    /// few and as even as that allows. (The defaults take no chunks; starting from chunks, the
    /// refinements try halving, doubling and none.) With fewer than 32 registers, row tiles of
    /// 3x3 convs take the chunks and bands the defaults take there.
    static func convTiling(r: Int, nr: Int, nv: Int, layer: TuneLayer, v: Int, registers: Int = 32,
                           flat: Bool = false) -> LayerTiling {
        let (k, p, h, w) = (layer.kernel, layer.padding, layer.shape.h, layer.shape.w)
        let pw = Tiling.panelWidth(w: w, p: p, tileWidth: nv * v, flat: flat)
        if registers < 32 && k == 3 && !flat {
            let few = Tiling.fewRegisterChunks(cin: layer.cin, h: h, pw: pw, p: p, nr: nr, rb: h)
            return normalize(LayerTiling(r: r, nv: nv, rb: few.rb, nr: nr, kc: few.kc), for: layer)
        }
        let kc = max(1, min(layer.cin, Tiling.weightBudget / (r * k * k * 4)))
        let maxRows = max(nr, (Tiling.panelBudget / (kc * pw * 4) - 2 * p) / nr * nr)
        let bands = (h + maxRows - 1) / maxRows
        let rb = ((h + bands - 1) / bands + nr - 1) / nr * nr
        return normalize(LayerTiling(r: r, nv: nv, rb: rb, nr: nr, kc: kc, flat: flat), for: layer)
    }

    /// A transposed conv tile shape's first candidate: bands by the defaults' rule.
    static func transposedTiling(r: Int, nv: Int, layer: TuneLayer, v: Int, registers: Int = 32, flat: Bool = false,
                                 splitRows: Bool = false) -> LayerTiling {
        let rb = Tiling.transposedBandRows(cin: layer.cin, inH: layer.inH, inW: layer.inW, nv: nv, v: v, flat: flat,
                                           registers: registers)
        return normalize(LayerTiling(r: r, nv: nv, rb: rb, flat: flat, splitRows: splitRows), for: layer)
    }
}
