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
    /// How the conv computes. With `.winograd` (3x3 pad-1 convs only) `nr` is the output tile
    /// m of F(m x m, 3 x 3) (2 or 4), `r` x `nv` the GEMM register tile (output channels x
    /// vectors of tiles), `rb` the output rows per band; `kc` is unused.
    public var algorithm: Algorithm
    /// Direct convs with padding: the tiles run over the band's panel rows flattened into one
    /// run of pixels, `nv` vectors of consecutive pixels each (`nr` 1), computing the 2p pad
    /// columns of every row and dropping them, instead of rounding every row up to whole
    /// vectors. For maps a few vectors wide or less (an 18-wide row computes 20 columns, not 32).
    /// Transposed convs likewise over their band's input rows (no pad columns), storing each
    /// pixel's 2x2 outputs where its row puts them.
    public var flat: Bool
    /// Direct convs with row tiles: a band's tiles take its blocks of `r` output channels
    /// innermost, so that each tile position's window of the panel chunk stays in L1 while the
    /// chunk's weights for every block pass. Without it (the default) the tile positions are
    /// innermost: each block's weights stay while the whole panel passes.
    public var blocksInner: Bool
    /// Transposed convs with row tiles: a tile computes one of the two output rows of its
    /// input pixels (that row's 2 taps of the 4), so `r` x `nv` vectors take 2 r nv
    /// accumulators rather than 4 r nv, and each weight broadcast still feeds `nv` FMAs. With
    /// 16 registers: 3 x 2 (12 accumulators) where 4 taps allow only 3 x 1, a broadcast per FMA.
    public var splitRows: Bool

    public init(r: Int, nv: Int, rb: Int, nr: Int = 1, kc: Int = 0, algorithm: Algorithm = .direct,
                flat: Bool = false, blocksInner: Bool = false, splitRows: Bool = false) {
        self.r = r; self.nv = nv; self.rb = rb; self.nr = nr; self.kc = kc; self.algorithm = algorithm
        self.flat = flat; self.blocksInner = blocksInner; self.splitRows = splitRows
    }

    enum CodingKeys: String, CodingKey { case r, nv, rb, nr, kc, algorithm, flat, blocksInner, splitRows }

    /// Tuning files written before `nr`, `kc` and `algorithm` existed read as nr 1, kc 0, direct.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        r = try c.decode(Int.self, forKey: .r)
        nv = try c.decode(Int.self, forKey: .nv)
        rb = try c.decode(Int.self, forKey: .rb)
        nr = try c.decodeIfPresent(Int.self, forKey: .nr) ?? 1
        kc = try c.decodeIfPresent(Int.self, forKey: .kc) ?? 0
        algorithm = try c.decodeIfPresent(Algorithm.self, forKey: .algorithm) ?? .direct
        flat = try c.decodeIfPresent(Bool.self, forKey: .flat) ?? false
        blocksInner = try c.decodeIfPresent(Bool.self, forKey: .blocksInner) ?? false
        splitRows = try c.decodeIfPresent(Bool.self, forKey: .splitRows) ?? false
    }

    /// Writes `algorithm` only when it is not direct and the flags only when set,
    /// so other tilings encode as before.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(r, forKey: .r)
        try c.encode(nv, forKey: .nv)
        try c.encode(rb, forKey: .rb)
        try c.encode(nr, forKey: .nr)
        try c.encode(kc, forKey: .kc)
        if algorithm != .direct { try c.encode(algorithm, forKey: .algorithm) }
        if flat { try c.encode(flat, forKey: .flat) }
        if blocksInner { try c.encode(blocksInner, forKey: .blocksInner) }
        if splitRows { try c.encode(splitRows, forKey: .splitRows) }
    }

    public var description: String {
        "r=\(r) nr=\(nr) nv=\(nv) rb=\(rb) kc=\(kc)" + (algorithm == .direct ? "" : " \(algorithm.rawValue)")
            + (flat ? " flat" : "") + (blocksInner ? " blocks-inner" : "") + (splitRows ? " split-rows" : "")
    }
}

/// Which algorithm the generator gives the convs it has no tiling for.
public enum AlgorithmChoice: String, Equatable, Sendable, CaseIterable {
    /// Direct convolution everywhere.
    case direct
    /// Winograd for every 3x3 pad-1 conv, direct for the rest.
    case winograd
    /// Per layer: Winograd where `Tiling.useWinograd` says it pays (3x3 with Cin >= 32).
    case auto
}

public enum Tiling {
    /// Bytes of input rows one channel chunk of a band's panel aims to fill: half a 1 MiB L2.
    static let panelBudget = 512 << 10
    /// Bytes of one tile's weights for one channel chunk: about two thirds of a 48 KiB L1.
    static let weightBudget = 32 << 10

    /// Register tiles (r, nr, nv) a 3x3 conv may use: about 24 accumulators, so that with the
    /// inputs and a broadcast they fit 32 vector registers. (12, 2, 1), (16, 1, 1) and (6, 4, 1)
    /// are left out: clang 14 keeps their accumulators in memory in some unet.c files (6, 4, 1:
    /// the 8x8 layers of the classic model at 128x128 ran 2.6x slower than with (8, 2, 1), which
    /// is as fast at 16x16, where (6, 4, 1) was chosen before).
    static let tiles3: [(r: Int, nr: Int, nv: Int)] = [
        (8, 1, 3), (6, 1, 4), (12, 1, 2), (8, 3, 1), (8, 2, 1)]
    /// And (8, 1, 3) for vectors of 16 floats (AVX-512): in the classic model's unet.c at
    /// 1000x1000, clang 14 kept its accumulators in memory, and the full-size layers ran at 28%
    /// of the peak, 3.3x slower than with the tile the cost model picks next (the model 1.13x).
    /// Where it kept them in registers (384x384, 768x768) it was 1.01x faster. Narrower vectors
    /// keep it: the embedded builds' arenas in `--memory-mode min` are 10 KiB smaller with it.
    static func tiles3(vectorWidth v: Int, registers: Int = 32) -> [(r: Int, nr: Int, nv: Int)] {
        guard registers >= 32 else { return tiles3Few }
        return v >= 16 ? tiles3.filter { !($0.r == 8 && $0.nr == 1 && $0.nv == 3) } : tiles3
    }
    /// The register tiles for 16 vector registers (AVX2, SSE): 12 accumulators, with the inputs
    /// and a broadcast 15 registers. The 32-register tiles (24 accumulators) spill there: on a
    /// Zen 3 (AVX2) the classic model at 256x256 took 1.87x as long with them as with 6 x 1 x 2
    /// (1 thread, vectors of 8). Against 6 x 1 x 2, every conv with the same tile: 6 x 2 x 1
    /// took 1.0-1.07x, 4 x 3 x 1 1.18x, 4 x 1 x 3 1.27x, 12 x 1 x 1 (14 registers) 1.39x; with
    /// the blocks inner and chunks of 128 (below), 6 x 2 x 1 1.14x, 4 x 1 x 3 1.13x, 4 x 3 x 1
    /// 1.25x. The cost model prefers 4-channel tiles where 6 pads the output channels (64, 128),
    /// so they are left out; 6 x 2 x 1 stays for maps one vector wide.
    static let tiles3Few: [(r: Int, nr: Int, nv: Int)] = [(6, 1, 2), (6, 2, 1)]
    /// With 16 registers a direct 3x3 conv's row tiles sum the input channels in chunks of this
    /// many, the blocks of output channels outermost: a block's weights for a chunk (6.9 KiB)
    /// stay in L1 across the band's tiles, and the band's chunk of the panel in L2 across the
    /// blocks. A 12-accumulator tile of 6 output channels reads the panel twice as often per
    /// FMA as a 24-accumulator one of 12, so the chunk is small and the band short enough that
    /// a chunk of its panel fits `fewRegistersPanelBudget`. With 32 channels the band would be
    /// under `fewRegistersMinRows` rows on the widest maps (512 columns); there the chunks are
    /// of 16. On a Zen 3 (1 thread, interleaved processes, best of 3; unet.c with its channel
    /// loops rolled, `UNET_ROLLED`) the classic model at 512x512 took 0.85x the time of the blocks
    /// inner with chunks of 128 and bands of 4-5 rows (the rule before), at 256x256 0.96x;
    /// chunks of 32 everywhere 0.88x at 512x512 (the 512-wide layers 1.1x), of 16 everywhere
    /// about the same as this rule (the 64x64 layers 1.02-1.04x slower).
    static let fewRegistersChunk = 32
    static let fewRegistersPanelBudget = 256 << 10
    static let fewRegistersMinRows = 4

    /// The chunk (0: none) and band rows, at most `rb`, of a 3x3 conv's row tiles `nr` rows high
    /// with 16 registers, over `cin` channels of `h` rows whose panel rows are `pw` floats.
    static func fewRegisterChunks(cin: Int, h: Int, pw: Int, p: Int, nr: Int, rb: Int) -> (kc: Int, rb: Int) {
        func fit(_ kc: Int) -> Int { max(nr, (fewRegistersPanelBudget / (kc * pw * 4) - 2 * p) / nr * nr) }
        let kc = fit(fewRegistersChunk) >= fewRegistersMinRows ? fewRegistersChunk : fewRegistersChunk / 2
        let rows = fit(min(kc, cin)), bands = (h + rows - 1) / rows
        return (cin > kc ? kc : 0, min(rb, ((h + bands - 1) / bands + nr - 1) / nr * nr))
    }
    /// Output rows a band of a wide map should hold at least (the channel chunk shrinks for it).
    static let minBandRows = 12
    /// The smallest channel chunk `minBandRows` may ask for.
    static let minChunk = 16
    /// Cost factor of a tile more than one row high (measured: 12x1x2 beats 6x4x1 at W 32).
    static let multiRowCost = 1.05
    /// Floats per row of a direct conv's panel, for output rows `w` wide, padding `p` and tiles
    /// `tileWidth` columns wide: the row rounded up to whole tiles plus the halo, or for flat
    /// tiles (`LayerTiling.flat`) the row and its halo alone. A transposed conv's: its input
    /// rows `w` wide, `p` 0.
    static func panelWidth(w: Int, p: Int, tileWidth: Int, flat: Bool) -> Int {
        (flat ? w : (w + tileWidth - 1) / tileWidth * tileWidth) + 2 * p
    }

    /// `n` rounded up to whole blocks of `block`, over `n`: what a register tile of `block`
    /// output channels computes per useful output channel.
    static func blockPadding(_ n: Int, block: Int) -> Double {
        Double((n + block - 1) / block * block) / Double(n)
    }

    /// Pixels a flat tile computes per output, over an h x w map with padding p in one band:
    /// every row's 2p pad columns, and the last tile's pixels past the map.
    static func flatPadding(h: Int, w: Int, p: Int, tileWidth: Int) -> Double {
        let n = h * (w + 2 * p)
        return Double((n + tileWidth - 1) / tileWidth * tileWidth) / Double(h * w)
    }

    /// What a flat tile costs beyond its FMAs, as a factor: its stores pixel by pixel, and what
    /// else made it slower than the padding alone says. Fitted with `bench/ab.py` on the classic
    /// model, 2 threads: at 300x300 the 37-, 36- and 18-wide layers took 0.80x, 0.83x and 0.67x
    /// the time of row tiles (48, 48 and 32 columns computed for 39, 38 and 20), the 72-wide ones
    /// 0.97x (80 for 74); at 572x572 the 71-, 70- and 35-wide 0.93x, 0.87x and 0.77x. A 144-wide
    /// layer, which row tiles do not pad, took 1.16x. The stores weigh more where a tile sums
    /// few input channels.
    static func flatOverhead(cin: Int, k: Int, v: Int) -> Double {
        1.04 + Double(v) / Double(cin * k * k)
    }

    /// Bytes of a transposed conv's band of input rows; the whole input map below the second.
    /// With 16 registers, row tiles: the third, and no whole map (`transposedBandRows`).
    static let transposedBudget = 256 << 10
    static let fewRegistersTransposedBudget = 128 << 10
    static let wholeMapBudget = 1 << 20

    /// The default tiling for node `node` of `graph`, for vectors of `v` floats; nil for
    /// ops that have no tiling. `flat` false: row tiles only (for a layer inside a group).
    public static func defaults(_ node: Node, in graph: Graph, vectorWidth v: Int, registers: Int = 32,
                                flat allowFlat: Bool = true) -> LayerTiling? {
        let cin = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
        switch node.op {
        case .conv(let k, let p, _):
            let (h, w, cout) = (node.shape.h, node.shape.w, node.shape.c)
            let vectors = (w + v - 1) / v
            var best = (r: 16, nr: 1, nv: 1), bestCost = Double.infinity, flat = false
            for t in tiles3(vectorWidth: v, registers: registers) {
                // FMAs issued per useful one (the padding of cout, rows and columns), times the
                // loads each FMA costs (a broadcast per channel, a vector per row and column).
                let coutPadding = blockPadding(cout, block: t.r)
                let padded = coutPadding
                    * Double(((h + t.nr - 1) / t.nr) * t.nr) / Double(h)
                    * Double(((vectors + t.nv - 1) / t.nv) * t.nv * v) / Double(w)
                let loads = Double(t.r + t.nr * t.nv) / Double(t.r * t.nr * t.nv)
                // Panel rows a tile reads from L2 per output row and channel it computes: each
                // tile reads nr + 2 rows, and every block of r output channels reads them again.
                let panelReads = Double(t.nr + 2) / Double(t.nr * t.r)
                let work = 1 + 0.25 * loads + 0.2 * panelReads
                let cost = padded * work * (t.nr > 1 ? multiRowCost : 1)
                if cost < bestCost - 1e-9 { best = t; bestCost = cost; flat = false }
                // The same tile over the band's rows flattened, if the rows it saves rounding up
                // to whole vectors pay for its stores.
                if allowFlat && p > 0 && t.nr == 1 {
                    let flatCost = coutPadding * flatPadding(h: h, w: w, p: p, tileWidth: t.nv * v) * work
                        * flatOverhead(cin: cin, k: k, v: v)
                    if flatCost < bestCost - 1e-9 { best = t; bestCost = flatCost; flat = true }
                }
            }
            var (r, nr, nv) = best
            if cout < r {
                // With 16 registers, no more vectors than keep 12 accumulators.
                r = cout; nr = 1; flat = false
                nv = min(4, registers >= 32 ? 4 : max(1, 12 / r), vectors)
            }
            // A 1x1 conv whose tiles divide its rows reads its input in place, unpacked
            // (`Lowering.readsInPlace`): 2 vectors where 4 would leave a part tile (the classic
            // model's output at 992 columns).
            if k == 1 && nv == 4 && vectors % 4 != 0 && vectors % 2 == 0 && w % v == 0 { nv = 2 }
            let pw = panelWidth(w: w, p: p, tileWidth: nv * v, flat: flat)
            // Rows per band: as many as fit the panel budget with the input channels taken
            // `chunk` at a time, where `chunk` is small enough that a tile's weights for it would
            // stay in L1 and a band would hold at least `minBandRows` output rows (wide maps:
            // short bands repack each input row up to three times). All bands the same size, a
            // whole number of tiles high; as few as the budget allows (each reads every weight).
            let kcWeights = weightBudget / (r * k * k * 4)
            let kcPanel = max(minChunk, panelBudget / ((minBandRows + 2 * p) * pw * 4))
            let chunks = (cin + min(kcWeights, kcPanel) - 1) / max(1, min(kcWeights, kcPanel))
            let chunk = max(1, (cin + chunks - 1) / chunks)
            let maxRows = max(nr, (panelBudget / (chunk * pw * 4) - 2 * p) / nr * nr)
            let bands = (h + maxRows - 1) / maxRows
            let rb = ((h + bands - 1) / bands + nr - 1) / nr * nr
            // But no chunks (kc 0): each tile sums all the input channels in its registers. The
            // weights and the panel then stream from L2 rather than sit in L1, which the
            // prefetchers hide; chunks cost a round trip of the partial sums through memory per
            // chunk, and measured 4-5% slower on the classic model at 256x256 and 512x512
            // (1 thread; 2% on 2 threads).
            if registers < 32 && k == 3 && !flat {
                // With 16 registers, chunks after all, and bands to fit them (`fewRegistersChunk`).
                let few = fewRegisterChunks(cin: cin, h: h, pw: pw, p: p, nr: nr, rb: rb)
                return LayerTiling(r: r, nv: nv, rb: few.rb, nr: nr, kc: few.kc)
            }
            return LayerTiling(r: r, nv: nv, rb: rb, nr: nr, kc: 0, flat: flat)
        case .convTranspose:
            let src = graph.nodes[node.inputs[0]].shape
            // 24 accumulators: r output channels x 4 taps x nv vectors. Each weight broadcast
            // feeds nv FMAs, so two vectors of columns halve the broadcasts (the 6 x 1 tile
            // issues one per FMA): 0.86-0.97x the time where both pad the rows alike. Not where
            // two vectors pad a row more than 8% further: at 572x572, up_sample.0 (35 columns:
            // 64 computed against 48) took 0.79x with one vector, up_sample.1 (71: 96 against
            // 80) 0.87x.
            let one = panelWidth(w: src.w, p: 0, tileWidth: v, flat: false)
            let two = panelWidth(w: src.w, p: 0, tileWidth: 2 * v, flat: false)
            // With 16 registers, 3 x 2 with split rows (12 accumulators: a tile computes one
            // output row, 2 taps), where two vectors pay, else 3 x 1 (4 taps, 12 accumulators,
            // a broadcast per FMA). On a Zen 3 (classic model, 256x256, 1 thread, best of 6
            // interleaved) the split 3 x 2 took 0.84x the time of 3 x 1 on up_sample.1 and .2,
            // 0.97x in the up_conv.3 group, 1.0x on up_sample.0 (bound by its 8 MB of weights).
            let few = registers < 32
            let nv = Double(two) <= transposedOneVectorCost * Double(one) ? 2 : 1
            let r = min(few || nv == 2 ? 3 : 6, node.shape.c)
            let rb = transposedBandRows(cin: cin, inH: src.h, inW: src.w, nv: nv, v: v, registers: registers)
            // Flat tiles (3 x 2 vectors of a band's pixels, 3 x 1 with 16 registers), where
            // rounding each row up to whole vectors costs more than their stores: the small maps.
            let flatNV = few ? 1 : 2
            let flatRows = transposedBandRows(cin: cin, inH: src.h, inW: src.w, nv: flatNV, v: v, flat: true)
            let flatCost = flatPadding(h: flatRows, w: src.w, p: 0, tileWidth: flatNV * v) * flatOverhead(cin: cin, k: 2, v: v)
            let rowCost = Double(nv == 2 ? two : one) / Double(src.w) * (nv == 2 || few ? 1 : transposedOneVectorCost)
            if allowFlat && node.shape.c >= 3 && src.h * src.w >= 2 * v && flatCost < rowCost {
                return LayerTiling(r: 3, nv: flatNV, rb: flatRows, flat: true)
            }
            return LayerTiling(r: r, nv: nv, rb: rb, splitRows: few && nv == 2)
        case .input, .relu, .maxPool, .crop, .view, .concat, .output:
            return nil
        }
    }

    /// Input rows per band of a transposed conv (cin channels of inH x inW, tiles nv vectors
    /// wide): a 256 KiB panel, or the whole map where it fits in 1 MiB. Every band reads all the
    /// weights; the deep, small maps are bound by that (the classic model's up_sample.0, 8 MB
    /// of weights over 8x8 or 16x16: 0.76x at 128x128 and 0.81x at 256x256 in one band; at
    /// 512x512 its 4 MB map gains nothing). The defaults, and the tuner's first candidates.
    /// With flat tiles, of the rows up to twice that many, those whose band's last tile runs
    /// least past the band (at 572x572, up_sample.0's 35-wide rows: 2 rows, 70 pixels in 80,
    /// not 1, 35 in 48). With 16 registers (a Zen 3's L2 is 512 KiB), row tiles take bands of
    /// a 128 KiB panel and no whole map: the classic model at 256x256 (Zen 3, 1 thread, best of
    /// 5 interleaved), bands of 2 rows where they were 16, 4 and 4: up_sample.0 0.86x the
    /// time, .1 0.92x, .2 0.93x; on 2 threads 0.83x, 1.1x, 0.95x.
    static func transposedBandRows(cin: Int, inH: Int, inW: Int, nv: Int, v: Int, flat: Bool = false,
                                   registers: Int = 32) -> Int {
        let pw = panelWidth(w: inW, p: 0, tileWidth: nv * v, flat: flat)
        let few = registers < 32 && !flat
        if !few && cin * pw * inH * 4 <= wholeMapBudget { return inH }
        let rows = max(1, min(inH, (few ? fewRegistersTransposedBudget : transposedBudget) / (cin * pw * 4)))
        guard flat else { return rows }
        return (rows...min(inH, 2 * rows)).min { flatPadding(h: $0, w: inW, p: 0, tileWidth: nv * v) < flatPadding(h: $1, w: inW, p: 0, tileWidth: nv * v) }!
    }

    /// What a transposed conv's tile one vector wide (6 x 1) costs against one two vectors wide
    /// (3 x 2), per FMA: a broadcast per FMA instead of per two. Two vectors took 0.86-0.97x the
    /// time where both pad the rows alike; they are chosen where they pad a row at most 8% more.
    static let transposedOneVectorCost = 1.08

    /// Whether Winograd can compute `node`: a 3x3 conv with padding 1.
    public static func winogradApplies(_ node: Node) -> Bool {
        if case .conv(3, 1, _) = node.op { return true }
        return false
    }

    /// The `auto` rule: Winograd for 3x3 pad-1 convs with at least 32 input channels (the
    /// first conv, Cin 3, has too little work per transformed tile to pay for the transforms).
    public static func useWinograd(_ node: Node, in graph: Graph) -> Bool {
        let cin = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
        return winogradApplies(node) && cin >= 32
    }

    /// The `auto` output tile: F(4x4, 3x3) from 32x32 outputs up, where there are enough tiles
    /// to reuse its 36 / 16 = 2.25x larger transformed weights than F(2x2, 3x3)'s; F2 below.
    /// On the classic model the 32x32 layers took 0.65-0.81x the time with F4 (256x256: the
    /// level-3 and up_conv.0 layers, 1 and 2 threads; 512x512: the middle, 0.57-0.66x; 128x128:
    /// level 2, 0.69-0.85x), once the heaviest of them take their whole map in one band
    /// (`winogradDefaults`); before that rule F4 was slower there. For `--memory-mode min`,
    /// from 64x64 up: F4's larger transformed input in the band loops costs arena.
    public static func winogradTile(_ node: Node, memory: MemoryMode = .speed) -> Int {
        node.shape.h * node.shape.w >= (memory == .min ? 64 * 64 : 32 * 32) ? 4 : 2
    }

    /// Bytes of the transformed input of one band: (m+2)^2 x Cin x tiles, aimed at the L2.
    static let winogradBudget = 1 << 20

    /// Bytes of transformed input one GEMM block of tiles may take: well inside a 1 MiB L2.
    static let winogradBlockBudget = 640 << 10

    /// GEMM register tiles (r output channels, nv vectors of tiles) for Winograd.
    static let winogradTiles: [(r: Int, nv: Int)] = [(8, 3), (12, 2), (6, 4), (16, 1), (8, 2)]
    /// And for 16 vector registers (AVX2, SSE): 12 accumulators or 8, ranked by the same cost
    /// model (not measured one against another; with them the classic model's default took
    /// 0.47x the time of 16-float vectors with the 32-register tiles on a Zen 3, 1 thread).
    static let winogradTilesFew: [(r: Int, nv: Int)] = [(6, 2), (4, 3), (12, 1), (8, 1)]

    /// The default Winograd tiling of a 3x3 pad-1 conv with output tile `m` (2 or 4), for the
    /// memory mode `memory` and a unet.c generated for `threads` threads. In speed mode with 2
    /// threads or more, a conv whose threads take whole bands (`threadBands`) gets bands half
    /// as high, twice as many: at 256x256 the three such layers with 128x128 maps took
    /// 0.87-0.92x the time with 8 rows per band instead of 16 (2 threads, `bench/ab.py`), as
    /// the tuner had found.
    public static func winogradDefaults(_ node: Node, in graph: Graph, vectorWidth v: Int, registers: Int = 32, m: Int,
                                        memory: MemoryMode = .speed, threads: Int = 1) -> LayerTiling {
        let shared = winogradDefaults(node, in: graph, vectorWidth: v, registers: registers, m: m, memory: memory, ownBands: false)
        guard threads > 1, memory == .speed, threadBands(node, in: graph, shared) else { return shared }
        return winogradDefaults(node, in: graph, vectorWidth: v, registers: registers, m: m, memory: memory, ownBands: true)
    }

    private static func winogradDefaults(_ node: Node, in graph: Graph, vectorWidth v: Int, registers: Int, m: Int,
                                         memory: MemoryMode, ownBands: Bool) -> LayerTiling {
        let cin = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
        let (h, w, cout) = (node.shape.h, node.shape.w, node.shape.c)
        let a = m + 2, xt = (w + m - 1) / m, yt = (h + m - 1) / m
        // As many tile rows per band as the budget allows, all bands the same size. Every band
        // reads all the transformed weights: where they outweigh the budget (deep layers) the
        // band grows, up to 4x, so that they are read fewer times and fill whole vectors. Where
        // they pass 32 MiB (read from DRAM every band) and the whole map's transformed input
        // fits 16 MiB (the L3), the map is one band and they are read once: up_conv.0.first
        // at 256x256 (75 MB of F4 weights) took 0.65x the time of three bands. Bigger bands
        // short of the whole map measured 0.85-1.2x on the 64x64 layers at 512x512: not taken.
        // Not for `--memory-mode min`, whose arena holds the band loops' transformed input.
        let weightBytes = a * a * cin * node.shape.c * 4, wholeMap = a * a * cin * xt * yt * 4
        let budget = memory == .speed && weightBytes > 32 * winogradBudget && wholeMap <= 16 * winogradBudget ? wholeMap
            : min(4 * winogradBudget, max(winogradBudget, weightBytes))
        let shared = max(1, budget / (a * a * cin * xt * 4)), maxRows = ownBands ? max(1, shared / 2) : shared
        let bands = (yt + maxRows - 1) / maxRows
        let tr = (yt + bands - 1) / bands
        let tiles = tr * xt
        let shapes = registers >= 32 ? winogradTiles : winogradTilesFew
        var best = shapes[0], bestCost = Double.infinity
        for t in shapes {
            let padded = blockPadding(cout, block: t.r)
                * Double(((tiles + t.nv * v - 1) / (t.nv * v)) * t.nv * v) / Double(tiles)
            let loads = Double(t.r + t.nv) / Double(t.r * t.nv)
            let cost = padded * (1 + 0.25 * loads)
            if cost < bestCost - 1e-9 { best = t; bestCost = cost }
        }
        var (r, nv) = best
        // The GEMM reads its block of tiles' transformed input (a^2 x Cin x nv vectors of
        // tiles) again for every block of r output channels. Where one vector of tiles fits
        // `winogradBlockBudget` and two do not, a 24 x 1 tile keeps the block in L2 (the
        // classic model's Cin-256 F4 layers: 0.68-0.87x the time of 8x3 or 6x4 at 256x256 and
        // 512x512, 1 and 2 threads; on Cin 512 and up, or F2, it measured 0.98-1.31x: no gain).
        // Or 16 x 1 where 24 would pad the output channels by 5% more (Cout 128: 144 computed
        // for 128; up_conv.2.first took 0.89-1.0x the time at 256x256 with 16 x 1, 1 and 2
        // threads, 0.975x at 512x512; on Cout 256 and 512, which 24 pads by 3%, 16 x 1 was
        // 1.02-1.2x slower).
        let blockBytes = a * a * cin * v * 4
        if registers >= 32 && m == 4 && blockBytes <= winogradBlockBudget && 2 * blockBytes > winogradBlockBudget {
            let padded = { (r: Int) in Double((cout + r - 1) / r * r) }
            (r, nv) = padded(24) > 1.05 * padded(16) ? (16, 1) : (24, 1)
        }
        if cout < r { r = cout }
        nv = min(nv, max(1, (tiles + v - 1) / v))
        return LayerTiling(r: r, nv: nv, rb: tr * m, nr: m, kc: 0, algorithm: .winograd)
    }

    /// Whether a Winograd conv's GEMM takes its blocks of output channels outermost, each
    /// block's transformed weights (a^2 x Cin x r) staying in L2 while every block of tiles
    /// passes, rather than its blocks of tiles, each block's transformed input staying while
    /// every block of weights passes. The weights go outermost where the band has two blocks
    /// of tiles or more and they weigh at least twice the band's transformed input: (padded)
    /// Cout >= 2 x (padded) tiles. Read from DRAM, the weights cost more than the transformed
    /// input, just written and in L3, read again. At 256x256 that is down_conv.2.*,
    /// down_conv.3.first and up_conv.1.second: 0.74-0.95x the time on 1 and 2 threads
    /// (down_conv.3.first, 19.5 MB of weights, the most), but up_conv.1.second 1.01-1.03x on
    /// 2; not up_conv.2.first (Cout 128, 96 tiles a band), which took 1.0-1.23x the time with
    /// it. At 512x512 (2 threads) down_conv.2.second, down_conv.3.first and up_conv.1.second
    /// took 0.75-0.95x, up_conv.2.first (Cout 128, 32 tiles a band there) 0.91-1.02x. Since
    /// the weights of a block of output channels lie in one run, the four at 256x256 took
    /// 0.76-0.91x on 1 thread (the model 0.974x) and 0.90-1.07x on 2 (the model 0.997x:
    /// down_conv.2.second and up_conv.1.second, 24 x 1 tiles, 1.06-1.07x).
    public static func winogradWeightsOuter(_ node: Node, _ t: LayerTiling, vectorWidth v: Int) -> Bool {
        guard t.algorithm == .winograd else { return false }
        let tiles = winogradBandTiles(node, t)
        let block = t.nv * v, blocks = (tiles + block - 1) / block
        let cob = (node.shape.c + t.r - 1) / t.r
        return blocks >= 2 && cob * t.r >= 2 * blocks * block
    }

    /// Bands a Winograd conv needs before each thread takes whole bands of its own, and the
    /// most transformed weights (a^2 x Cin x Cout x 4 bytes) it may have: every band then reads
    /// all of them on one thread rather than its share on each.
    static let threadBandsMinimum = 8
    static let threadBandsWeightBudget = 3 << 20

    /// Whether a Winograd conv on its own gives each thread whole bands with a scratch of its
    /// own, instead of sharing every band out. Sharing moves each band's panel and transformed
    /// input between the cores, and in some minutes on this machine that traffic is 3-4x slower
    /// (a cache line's round trip between the two cores 430-470 ns instead of 80-170): the
    /// full-size layers of the classic model then took 2x as long on 2 threads. With whole
    /// bands they kept their speed, and in normal minutes ran 0.86x the time; where the bands
    /// are few or the weights many it does not pay (up_conv.2.first at 256x256, 4.7 MB of
    /// weights in 11 bands: 1.19x slower).
    public static func threadBands(_ node: Node, in graph: Graph, _ t: LayerTiling) -> Bool {
        let cin = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
        let a = t.nr + 2
        return t.algorithm == .winograd && winogradBands(node, t) >= threadBandsMinimum
            && a * a * cin * node.shape.c * 4 <= threadBandsWeightBudget
    }

    /// Rows of tiles a direct conv within `threadRowsWeightBudget` needs before its threads
    /// take rows of tiles of their own. (The threads now claim bands of them as they go,
    /// `unet_claim`; the figures here are from equal shares, the few rows left over shared out
    /// by output channels, which the claims replaced.) The 128x128 layers at 256x256 (43 rows of
    /// tiles 3 high: 21 each and one shared) took 0.93-0.95x as long as on shared bands in slow
    /// minutes and 0.99-1.0x in the usual ones (`bench/ab.py`, 2 threads, 76 and 33 processes);
    /// split 22 and 21 instead, they had been 1.01-1.03x slower. The 16x16 middle convs at
    /// 256x256 (8 rows of tiles 2 high) took 1.04x.
    static let threadRowsMinimum = 40
    /// The same for a direct conv over `threadRowsWeightBudget`, whose rows of tiles must also
    /// split evenly between the threads. At 1000x1000 the middle convs (62 rows, 4.7 and 9.4 MB
    /// of weights) took 1.00-1.02x with rows of their own; at 572x572 down_conv.3 (71 rows of
    /// flat tiles, one shared) 1.04-1.05x, and at 1000x1000 (125) 1.01x.
    static let heavyThreadRowsMinimum = 64
    /// Input rows a transposed conv needs before its threads take input rows of their own.
    static let transposedThreadRowsMinimum = 64
    /// The most weights a conv may have to take rows of its own however its rows of tiles split
    /// between the threads (Cout x Cin x 9 x 4 bytes; x 4 x 4 for a transposed conv). Each
    /// thread then reads all the weights for its bands instead of its share of them for every
    /// band: the same bytes, but where the panel costs little next to the weights, so does
    /// sharing it, and an uneven split costs more than it gains even with the leftover row of
    /// tiles shared.
    /// - A direct conv with more weights takes rows of its own where its rows of tiles split
    ///   evenly. At 512x512 the convs with 2.4-37.7 MB of weights and 64 or 128 rows of tiles
    ///   (down_conv.2.second, down_conv.3, up_conv.0, up_conv.1) took 0.971-0.987x in slow
    ///   minutes and 0.996-1.013x in the usual ones, the model 0.991x and 0.998x (`bench/ab.py`,
    ///   2 threads, 59 and 46 processes). At 572x572, down_conv.3's 71 rows of flat tiles (36
    ///   and 35) made it 1.02x slower in slow minutes.
    /// - A transposed conv with more never does: up_sample.0.up at 512x512 (8 MB, 32 input rows,
    ///   bands of 2) was 1.01x slower with rows of its own in the usual minutes, 1.06x in slow.
    static let threadRowsWeightBudget = 2 << 20

    /// How a conv's tiles fetch the next block's weights ahead (`UNET_PREFETCH`): the tiles of
    /// one block over a band of `bandRows` rows share out the k x k x r weights the next block
    /// has for each input channel of the chunk in `slices` slices of `step` floats a channel
    /// (tile i takes slice i mod `slices`), so that between them they bring in the next block
    /// while this one computes; the slices never pass the block's weights. A block's first tile
    /// otherwise waits on DRAM for its weights: the classic model's 16x16 convs (37.7 MB of
    /// weights, 8 tiles a block) ran at 84% of the FMA peak on 1 thread of a Zen 5, and in 0.85x
    /// the time with the prefetch. A step of 0, none: a 1x1 conv, tiles that take the blocks
    /// innermost (a block's tiles are not consecutive), or more tiles in a band than a block has
    /// weights for a channel (down_conv.0.first, whose 3 channels' weights are 864 bytes a
    /// block).
    public static func prefetch(_ t: LayerTiling, k: Int, bandRows: Int, pw: Int, width: Int,
                                vectorWidth v: Int) -> (step: Int, slices: Int) {
        let rows = max(1, bandRows), tw = t.nv * v, perChannel = k * k * t.r
        let tiles = t.flat ? (rows * pw + tw - 1) / tw : (rows + t.nr - 1) / t.nr * ((width + tw - 1) / tw)
        guard k > 1, !t.blocksInner, tiles <= perChannel else { return (0, 1) }
        let step = (perChannel + tiles - 1) / tiles
        return (step, perChannel / step)
    }

    /// Whether a direct 3x3 conv on its own gives each thread a run of whole rows of tiles,
    /// packed into a panel of its own, instead of sharing every band out by output channels.
    /// Sharing moves each band's panel between the cores. In the minutes when that traffic is
    /// slow on this machine (a cache line's round trip 430-470 ns instead of 80-170), the
    /// classic model's full-size layers at 256x256 took 1.12-1.15x as long on 2 threads as in
    /// the usual ones; with rows of their own they took 0.76-0.90x what they took shared in
    /// those minutes, and 0.98-1.01x in the usual ones (`bench/ab.py`, 2 threads).
    /// A transposed conv (tiles one input row high) likewise, by rows of its input. `threads`:
    /// the threads unet.c will run with (`generate --threads`).
    public static func threadRows(_ node: Node, in graph: Graph, _ t: LayerTiling, threads: Int) -> Bool {
        let cin = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
        switch node.op {
        case .conv(3, _, _):
            let rows = (node.shape.h + t.nr - 1) / t.nr
            guard t.algorithm == .direct else { return false }
            return 9 * cin * node.shape.c * 4 <= threadRowsWeightBudget
                ? rows >= threadRowsMinimum
                : rows >= heavyThreadRowsMinimum && rows % threads == 0
        case .convTranspose:
            return graph.nodes[node.inputs[0]].shape.h >= transposedThreadRowsMinimum
                && 4 * cin * node.shape.c * 4 <= threadRowsWeightBudget
        default:
            return false
        }
    }

    /// Rows of tiles in a band of a Winograd conv: `rb` rows rounded up to whole tiles, at most
    /// the map's.
    public static func winogradTileRows(_ node: Node, _ t: LayerTiling) -> Int {
        min((t.rb + t.nr - 1) / t.nr, (node.shape.h + t.nr - 1) / t.nr)
    }

    /// Tiles in a band of a Winograd conv: its rows of tiles x the map's tiles per row.
    public static func winogradBandTiles(_ node: Node, _ t: LayerTiling) -> Int {
        winogradTileRows(node, t) * ((node.shape.w + t.nr - 1) / t.nr)
    }

    /// Bands of a Winograd conv on its own, over the batch.
    public static func winogradBands(_ node: Node, _ t: LayerTiling) -> Int {
        let rb = winogradTileRows(node, t) * t.nr
        return node.shape.n * ((node.shape.h + rb - 1) / rb)
    }

    /// Checks a tiling a user or the tuner supplied.
    public static func validate(_ t: LayerTiling, for node: Node) throws {
        if t.algorithm == .winograd {
            guard winogradApplies(node) else {
                throw GraphError("tiling for \(node.name): \(t): Winograd needs a 3x3 conv with padding 1")
            }
            guard (1...64).contains(t.r), (1...8).contains(t.nv), [2, 4].contains(t.nr), t.rb >= 1, !t.flat else {
                throw GraphError("tiling for \(node.name): \(t) is out of range for Winograd (r 1...64, nv 1...8, nr (the output tile) 2 or 4, rb >= 1, not flat)")
            }
            return
        }
        guard (1...64).contains(t.r), (1...8).contains(t.nv), (1...8).contains(t.nr), t.rb >= 1, t.kc >= 0 else {
            throw GraphError("tiling for \(node.name): \(t) is out of range (r 1...64, nv 1...8, nr 1...8, rb >= 1, kc >= 0)")
        }
        if t.blocksInner {
            guard case .conv = node.op, !t.flat else {
                throw GraphError("tiling for \(node.name): \(t): blocks inner are for direct convs with row tiles")
            }
        }
        if t.splitRows {
            guard case .convTranspose = node.op, !t.flat else {
                throw GraphError("tiling for \(node.name): \(t): split rows are for transposed convs with row tiles")
            }
        }
        if case .convTranspose = node.op, t.nr != 1 {
            throw GraphError("tiling for \(node.name): \(t): a transposed conv's tiles are one row high (nr 1)")
        }
        if t.flat && t.nr != 1 {
            throw GraphError("tiling for \(node.name): \(t): flat tiles are one row high (nr 1)")
        }
    }
}
