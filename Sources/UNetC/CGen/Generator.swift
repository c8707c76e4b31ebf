// The C generator: lowers an optimised graph to unet.h and unet.c.
//
// Swift holds the decisions (tiling, the memory plan, weight packing, which kernel each node
// becomes); the C comes from Templates/. Every size is a literal in the output, every buffer
// an offset into one arena, and the output is byte-identical for the same inputs.

import Foundation

public struct GeneratorOptions: Sendable {
    /// Floats per vector: 16 for AVX-512, 8 for AVX2, 4 for NEON/SSE.
    public var vectorWidth = 16
    /// Vector registers: 32 for AVX-512 and NEON, 16 for AVX2 and SSE. The register tiles hold
    /// about 24 accumulators with 32, 12 with fewer (`Tiling.tiles3`). `VectorUnit.host` has
    /// this machine's width and registers.
    public var vectorRegisters = 32
    /// Per-layer tiling that overrides the defaults, keyed by node name.
    public var tiling: [String: LayerTiling] = [:]
    /// The passes to run before lowering.
    public var passes: [Pass] = Pipeline.standard
    /// `.min` runs the memory passes after `passes` (layers streamed band by band into the
    /// next, pools in their conv's loop, decoder outputs in place; `--memory-mode min`) when
    /// that makes the arena smaller. Passes that include them run them regardless.
    public var memory = MemoryMode.speed
    /// Named in unet.c's header comment.
    public var sourceName = "weights"
    /// Write the weights to unet_weights.bin, loaded at run time, instead of into unet.c.
    public var externalWeights = false
    /// The algorithm of the convs `tiling` does not cover.
    public var algorithm = AlgorithmChoice.direct
    /// The output tile m of Winograd F(m x m, 3 x 3) for those convs: 2 or 4, or 0 to choose
    /// per layer (`Tiling.winogradTile`).
    public var winogradTile = 0
    /// The most threads unet.c gives bands of their own in the Winograd convs that qualify
    /// (`Tiling.threadBands`), and rows of their own in the direct convs that do
    /// (`Tiling.threadRows`): that many scratches each. With more threads at run time those
    /// convs share every band among the threads, as the rest do. 1: no conv does.
    public var threads = 2
    /// In the speed schedule, a direct 3x3 conv whose input (one image, every channel) is at
    /// least this many bytes computes its producers a band at a time into its panel, its pool
    /// in the same loop, each thread on a run of rows of its own (`Lowering.streamingWideLayers`).
    /// Int.max: none does.
    public var streamBytes = 16 << 20

    public init() {}
}

/// What the generated program is arranged for.
public enum MemoryMode: String, Equatable, Sendable, CaseIterable {
    /// Every layer on its own, its output stored whole: the fastest.
    case speed
    /// The smallest arena: layers streamed into the next a band of rows at a time.
    case min
}

/// unet.h and unet.c, with the decisions that made them.
public struct CProgram: Sendable {
    public var header: String
    /// unet.c up to the weights.
    public var kernels: String
    /// The packed weights, emitted as exact bit patterns.
    public var weights: [Float]
    /// unet.c after the weights: the entry point.
    public var entry: String
    /// Whether the weights go to unet_weights.bin instead of unet.c.
    public var externalWeights: Bool
    public var graph: Graph
    public var plan: MemoryPlan
    public var flops: Int
    public var tilings: [String: LayerTiling]
    /// The layers whose threads work apart, each with a scratch or panel of its own (on up to
    /// `GeneratorOptions.threads` threads), by name: "bands" (Winograd, `Tiling.threadBands`)
    /// or "rows" (direct, `Tiling.threadRows`).
    public var ownThreads: [String: String] = [:]

    /// Bytes per row of the embedded weight table: C99 compilers need only take string
    /// literals of 4095 characters (`-Wpedantic` warns past that), and a multiple of 4.
    static let weightRow = 4092

    /// The whole unet.c.
    public func source() -> [UInt8] {
        if externalWeights { return Array((kernels + entry).utf8) }
        let bytes = weightsBinary()
        let rows = max(1, (bytes.count + Self.weightRow - 1) / Self.weightRow)
        var out = Array(kernels.utf8)
        out.reserveCapacity(out.count + bytes.count * 3 + entry.utf8.count + 256)
        out += Array("\nstatic const unsigned char unet_w[\(rows)][UNET_W_ROW] __attribute__((aligned(64))) = {\n".utf8)
        // Printable characters stand for themselves; the rest are octal escapes. A digit right
        // after an escape, '"', '\\' and '?' (trigraphs) are escaped too.
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\"), question = UInt8(ascii: "?")
        for row in 0..<rows {
            out.append(quote)
            var afterEscape = false
            for b in bytes[(row * Self.weightRow)..<min(bytes.count, (row + 1) * Self.weightRow)] {
                let isDigit = b >= 48 && b <= 57
                if b >= 32 && b < 127 && b != quote && b != backslash && b != question && !(afterEscape && isDigit) {
                    out.append(b)
                    afterEscape = false
                } else {
                    out.append(backslash)
                    if b >= 64 { out.append(48 + (b >> 6)) }
                    if b >= 8 { out.append(48 + ((b >> 3) & 7)) }
                    out.append(48 + (b & 7))
                    afterEscape = true
                }
            }
            out += [quote, UInt8(ascii: ","), UInt8(ascii: "\n")]
        }
        out += Array("};\n".utf8)
        out += Array(entry.utf8)
        return out
    }

    /// unet_weights.bin: the packed weights as little-endian float32.
    public func weightsBinary() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(weights.count * 4)
        for w in weights {
            let b = w.bitPattern
            out += [UInt8(b & 255), UInt8(b >> 8 & 255), UInt8(b >> 16 & 255), UInt8(b >> 24)]
        }
        return out
    }

    /// Writes DIR/unet.h and DIR/unet.c (and DIR/unet_weights.bin with external weights),
    /// each to a temporary file first, then renamed.
    public func write(to directory: String) throws {
        if externalWeights { try writeFileAtomically(weightsBinary(), to: directory + "/unet_weights.bin") }
        try writeFileAtomically(Array(header.utf8), to: directory + "/unet.h")
        try writeFileAtomically(source(), to: directory + "/unet.c")
    }
}

public enum Generator {
    public static func generate(_ weights: ModelWeights, batch: Int, height: Int, width: Int,
                                options: GeneratorOptions = GeneratorOptions()) throws -> CProgram {
        let built = try weights.config.build(batch: batch, height: height, width: width)
        let graph = try Pipeline.run(built, passes: options.passes)
        guard options.memory == .min else {
            let wide = try lowering(graph, weights: weights, options: options).streamingWideLayers(minBytes: options.streamBytes)
            return try lower(lowering(wide, weights: weights, options: options).withoutLargeGroups(), weights: weights, options: options)
        }
        // Passes that include the memory passes ran them already: the memory mode's lowering,
        // without the choice.
        if Set(Pipeline.memory.map(\.name)).isSubset(of: options.passes.map(\.name)) {
            return try lower(graph, weights: weights, options: options)
        }
        // Streaming pays on maps many bands high; on maps of a few rows a group's panels can
        // outweigh the maps they replace. `min` keeps whichever arena is smaller.
        let streamed = try Pipeline.run(graph, passes: Pipeline.memory)
        let smaller = try lowering(streamed, weights: weights, options: options).arenaBytes()
            < lowering(graph, weights: weights, options: options).arenaBytes()
        return try lower(smaller ? streamed : graph, weights: weights, options: options)
    }

    /// Lowers an optimised graph.
    public static func lower(_ graph: Graph, weights: ModelWeights, options: GeneratorOptions) throws -> CProgram {
        var lowering = try lowering(graph, weights: weights, options: options)
        return try lowering.run(options: options)
    }

    static func lowering(_ graph: Graph, weights: ModelWeights, options: GeneratorOptions) throws -> Lowering {
        let v = options.vectorWidth, registers = options.vectorRegisters
        try VectorUnit(width: v, registers: registers).check()
        guard options.threads >= 1 else { throw GraphError("thread count \(options.threads) is not 1 or more") }
        guard [0, 2, 4].contains(options.winogradTile) else {
            throw GraphError("Winograd tile \(options.winogradTile) is not 2 or 4 (or 0: per layer)")
        }
        var tilings: [String: LayerTiling] = [:]
        for node in graph.nodes {
            guard var d = Tiling.defaults(node, in: graph, vectorWidth: v, registers: registers) else { continue }
            let winograd: Bool
            switch options.algorithm {
            case .direct: winograd = false
            case .winograd: winograd = Tiling.winogradApplies(node)
            case .auto: winograd = Tiling.useWinograd(node, in: graph)
            }
            if winograd {
                let m = options.winogradTile == 0 ? Tiling.winogradTile(node, memory: options.memory) : options.winogradTile
                d = Tiling.winogradDefaults(node, in: graph, vectorWidth: v, registers: registers, m: m, memory: options.memory,
                                            threads: options.threads)
            }
            let t = options.tiling[node.name] ?? d
            try Tiling.validate(t, for: node)
            tilings[node.name] = t
        }
        return Lowering(graph: graph, weights: weights, v: v, registers: registers, threads: options.threads,
                        memory: options.memory, tilings: tilings)
    }
}

/// The state of one lowering: the kernels emitted so far, the packed weights, the calls.
struct Lowering {
    let graph: Graph
    let weights: ModelWeights
    let v: Int
    /// Vector registers (`GeneratorOptions.vectorRegisters`).
    let registers: Int
    /// Scratches for threads with bands of their own (`GeneratorOptions.threads`).
    let threads: Int
    /// `.min`: groups share every band among the threads, with one scratch (`groupSlots`).
    let memory: MemoryMode
    /// Per conv; the Winograd levels of a group get sub-bands no higher than the group's bands.
    var tilings: [String: LayerTiling]
    /// Rows per band of each group, by driver.
    var groupRows: [Int: Int] = [:]

    let users: [[Int]]
    let schedule: Schedule
    /// Set by `run` before anything is emitted.
    var plan = MemoryPlanner.plan([])

    var names = NameSupply()
    var fnNames: [Int: String] = [:]
    var packed: [Float] = []
    var packedOnce: [String: (String, String)] = [:]
    var tiles = Set<String>()           // tile functions already emitted
    var tileCode = ""
    var layerCode = ""
    var calls = CWriter()
    var flops = 0

    init(graph: Graph, weights: ModelWeights, v: Int, registers: Int, threads: Int, memory: MemoryMode,
         tilings: [String: LayerTiling]) {
        self.graph = graph; self.weights = weights; self.v = v; self.registers = registers; self.threads = threads
        self.memory = memory
        self.tilings = tilings
        self.users = graph.users()
        self.schedule = Schedule(graph)
        // Flat tiles run in a conv's own band loop; a group's loops take tiles by rows: the
        // defaults' row tiles where the flat ones were the defaults (their bands are for flat
        // panels), else the same tiles by rows.
        for (i, node) in graph.nodes.enumerated() where tilings[node.name]?.flat == true && !standalone(i) {
            if tilings[node.name] == Tiling.defaults(node, in: graph, vectorWidth: v, registers: registers) {
                self.tilings[node.name] = Tiling.defaults(node, in: graph, vectorWidth: v, registers: registers, flat: false)
            } else {
                self.tilings[node.name]!.flat = false
            }
        }
        chooseGroupRows()
    }

    /// The shape whose strides the tensor holding a value has: a view's source for a view, the
    /// view's source for a node written in place.
    func storage(_ i: Int) -> Shape {
        let node = graph.nodes[i]
        if case .inPlace(let view) = node.fusion { return storage(view) }
        return node.op.isView ? graph.nodes[node.inputs[0]].shape : node.shape
    }

    /// Where a value lives, as a C expression.
    func pointer(_ i: Int) -> String {
        let node = graph.nodes[i]
        if node.op == .input { return "input" }
        if i == graph.nodes[graph.outputIndex].inputs[0] { return "output" }
        if case .view(let top, let left, _, _) = node.op {
            let src = graph.nodes[node.inputs[0]]
            return "\(pointer(node.inputs[0])) + \(top * src.shape.w + left)"
        }
        if case .inPlace(let view) = node.fusion { return pointer(view) }
        return "arena + \(plan.offset(of: node.name)! / 4)"
    }

    func scratchPointer(_ node: Node) -> String { "arena + \(plan.offset(of: "\(node.name).scratch")! / 4)" }

    /// Whether a node runs by itself (no fusion around it) rather than in a group's band loop.
    func standalone(_ i: Int) -> Bool {
        graph.nodes[i].fusion == .none && !isGroupDriver(i)
    }

    /// Bytes of scratch a step needs, live during it alone: the panel a conv packs its bands
    /// into, or a group's panels.
    func scratchBytes(_ i: Int) -> Int {
        let node = graph.nodes[i]
        if isGroupDriver(i) { return groupSlotFloats(i) * 4 * groupSlots(i) }
        guard let t = tilings[node.name], !readsInPlace(i) else { return 0 }
        if t.algorithm == .winograd { return winogradSlotFloats(i) * 4 * (threadBands(i) ? threads : 1) }
        return threadRows(i) ? panelSlotFloats(i) * 4 * threads : panel(node, t).floats * 4
    }

    /// Floats of one direct conv's (or transposed conv's) panel, rounded up to 64 bytes so that
    /// every thread's starts aligned.
    func panelSlotFloats(_ i: Int) -> Int {
        let node = graph.nodes[i]
        return (panel(node, tilings[node.name]!).floats + 15) / 16 * 16
    }

    /// Whether a direct conv or transposed conv on its own gives each thread whole rows of
    /// tiles of its own.
    func threadRows(_ i: Int) -> Bool {
        let node = graph.nodes[i]
        guard threads > 1, standalone(i), !readsInPlace(i), let t = tilings[node.name] else { return false }
        return Tiling.threadRows(node, in: graph, t, threads: threads)
    }

    /// Whether a layer runs in a group whose threads each take a run of rows of their own (the
    /// speed schedule's groups, on more than one thread).
    func groupRows(_ i: Int) -> Bool {
        graph.nodes[i].op.hasWeights && (graph.nodes[i].fusion == .streamed || isGroupDriver(i)) && groupSlots(driver(of: i)) > 1
    }

    /// Whether a conv on its own reads its input where it lies instead of packing it: a 1x1
    /// conv (no halo) with one input, stored whole (not a view), whose rows are a whole number
    /// of tiles wide (so no tile reads past a row). The classic model's final conv packed its
    /// whole 64-channel input for that: 84% of its time.
    func readsInPlace(_ i: Int) -> Bool {
        let node = graph.nodes[i]
        guard case .conv(1, 0, _) = node.op, standalone(i), node.inputs.count == 1,
              let t = tilings[node.name], t.algorithm == .direct, !t.flat else { return false }
        let src = node.inputs[0], st = storage(src)
        return st.h == node.shape.h && st.w == node.shape.w && node.shape.w % (t.nv * v) == 0
            && graph.nodes[src].shape.c == st.c
    }

    /// Floats of one Winograd scratch, rounded up to 64 bytes so that every thread's starts
    /// aligned.
    func winogradSlotFloats(_ i: Int) -> Int {
        let node = graph.nodes[i]
        return (winogradScratch(node, tilings[node.name]!).floats + 15) / 16 * 16
    }

    /// Whether a Winograd conv on its own gives each thread whole bands of its own.
    func threadBands(_ i: Int) -> Bool {
        let node = graph.nodes[i]
        guard threads > 1, standalone(i), let t = tilings[node.name] else { return false }
        return Tiling.threadBands(node, in: graph, t)
    }

    /// A Winograd conv's scratch: the band's panel (Cin x prows x pw, zero halo of 1), then at
    /// the next 64-byte boundary the transformed input, (m+2)^2 planes of Cin x tpad floats.
    func winogradScratch(_ node: Node, _ t: LayerTiling) -> (xt: Int, tr: Int, pw: Int, rows: Int, plane: Int,
                                                              panelFloats: Int, tpad: Int, floats: Int) {
        let cin = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
        let m = t.nr, a = m + 2
        let xt = (node.shape.w + m - 1) / m
        let tr = Tiling.winogradTileRows(node, t)
        let pw = xt * m + 2, rows = tr * m + 2
        let panelFloats = (cin * pw * rows + 15) / 16 * 16
        let block = t.nv * v
        let tpad = (Tiling.winogradBandTiles(node, t) + block - 1) / block * block
        return (xt, tr, pw, rows, pw * rows, panelFloats, tpad, panelFloats + a * a * cin * tpad)
    }

    func panel(_ node: Node, _ t: LayerTiling) -> (pw: Int, rows: Int, plane: Int, floats: Int) {
        let cin = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
        let tw = t.nv * v
        switch node.op {
        case .conv(_, let p, _):
            let pw = Tiling.panelWidth(w: node.shape.w, p: p, tileWidth: tw, flat: t.flat)
            let rows = (t.rb + t.nr - 1) / t.nr * t.nr + 2 * p
            // A flat tile's last vector reads up to a tile past the last plane's rows.
            return (pw, rows, pw * rows, cin * pw * rows + (t.flat ? tw : 0))
        default:
            let iw = graph.nodes[node.inputs[0]].shape.w
            let pw = Tiling.panelWidth(w: iw, p: 0, tileWidth: tw, flat: t.flat)
            return (pw, t.rb, pw * t.rb, cin * pw * t.rb + (t.flat ? tw : 0))
        }
    }

    /// The packed weights and bias of a module with a tiling, made by `make` the first time:
    /// a layer computed again (recompute-skip) reads the same copy.
    mutating func packOnce(_ key: String, _ make: () -> ([Float], [Float])) -> (String, String) {
        if let done = packedOnce[key] { return done }
        let (w, b) = make()
        let done = (pack(w), pack(b))
        packedOnce[key] = done
        return done
    }

    /// Appends `values` to the packed weights at a 64-byte boundary; returns the C expression.
    mutating func pack(_ values: [Float]) -> String {
        while packed.count % 16 != 0 { packed.append(0) }
        let at = packed.count
        packed += values
        return "UNET_W + \(at)"
    }

    /// The arena the program would need, without generating it.
    func arenaBytes() -> Int { MemoryPlanner.plan(schedule.requests(scratch: scratchBytes)).arenaBytes }

    mutating func run(options: GeneratorOptions) throws -> CProgram {
        plan = MemoryPlanner.plan(schedule.requests(scratch: scratchBytes))

        for (i, node) in graph.nodes.enumerated() { fnNames[i] = names.name(for: node.name) }
        if graph.nodes.indices.contains(where: isGroupDriver) { tileCode += Template.render("group_support.c", [:]) }
        if graph.nodes.indices.contains(where: { threadRows($0) && standalone($0) || claimsBlocks($0) }) {
            tileCode += Template.render("claim.c", [:])
        }
        // The kernels, in node order: a band function per conv, and the function that runs a
        // node on its own where it is not part of a group; the calls, in step order.
        var groupCode = ""
        for (i, node) in graph.nodes.enumerated() {
            let fn = fnNames[i]!
            let inputs = node.inputs.map { "%\($0) \(graph.nodes[$0].name)" }.joined(separator: ", ")
            switch node.op {
            case .input, .output, .view:
                continue
            case .conv(let k, let p, let act):
                let t = tilings[node.name]!
                if t.algorithm == .winograd {
                    emitWinograd(i, fn: fn, relu: act == .relu, t: t, inputs: inputs)
                } else {
                    emitConv(i, fn: fn, k: k, p: p, relu: act == .relu, t: t, inputs: inputs)
                }
            case .convTranspose:
                emitConvTranspose(i, fn: fn, t: tilings[node.name]!, inputs: inputs)
            case .maxPool:
                // A pool of a banded conv reads the group's buffer of one band.
                let src = node.inputs[0], s = storage(src)
                let inPlane = isGroupDriver(src) && banded(src) ? groupRows[src]! * s.w : s.h * s.w
                let fields: [String: CustomStringConvertible] = [
                    "NODE": node.name, "FN": fn, "INPUTS": inputs, "OUT_SHAPE": node.shape, "C": node.shape.c,
                    "IN_PLANE": inPlane, "OUT_PLANE": node.shape.h * node.shape.w, "OH": node.shape.h,
                    "OW": node.shape.w, "IW": s.w, "N": node.shape.n, "IN_BATCH": s.c * s.h * s.w,
                    "OUT_BATCH": node.shape.c * node.shape.h * node.shape.w]
                layerCode += Template.render(node.fusion == .none ? ["maxpool.c", "maxpool_layer.c"] : ["maxpool.c"], fields, sharedWith: ["maxpool_layer.c"])
            case .relu:
                layerCode += Template.render("relu.c", [
                    "NODE": node.name, "FN": fn, "INPUTS": inputs, "OUT_SHAPE": node.shape, "COUNT": node.shape.count])
            case .crop, .concat:
                // One copy per source into its channel slice of the output.
                var offset = 0
                for (s, src) in node.inputs.enumerated() {
                    var (top, left) = (0, 0)
                    if case .crop(let t, let l, _, _) = node.op { (top, left) = (t, l) }
                    let st = storage(src), c = graph.nodes[src].shape.c
                    let name = node.inputs.count > 1 ? "\(fn)_\(s)" : fn
                    layerCode += Template.render("copy.c", [
                        "NODE": node.name, "OP": node.op.mnemonic, "INPUTS": inputs, "OUT_SHAPE": node.shape, "FN": name,
                        "PLANES": node.shape.n * c, "C": c, "H": node.shape.h, "W": node.shape.w,
                        "SRC_ROW": st.w, "SRC_PLANE": st.h * st.w, "SRC_BATCH": st.c * st.h * st.w,
                        "OUT_C": node.shape.c, "C_OFFSET": offset, "OUT_PLANE": node.shape.h * node.shape.w])
                    calls.line("\(name)(\(pointer(src)) + \(top * st.w + left), \(pointer(i)));")
                    offset += c
                }
                calls.line("UNET_TRACE(\"\(node.name)\", \(pointer(i)), \(node.shape.count));")
                continue
            }
            if isGroupDriver(i) {
                groupCode += groupFunction(i)
                calls.line(groupCall(i))
                // Traced: what the arena or the output holds whole (not a banded or in-place value).
                for t in [i] + users[i] where t == i || graph.nodes[t].fusion == .epilogue {
                    if case .inPlace = graph.nodes[t].fusion { continue }
                    if schedule.owner[t] == nil && t != graph.nodes[graph.outputIndex].inputs[0] { continue }
                    calls.line("UNET_TRACE(\"\(graph.nodes[t].name)\", \(pointer(t)), \(graph.nodes[t].shape.count));")
                }
                continue
            }
            guard node.fusion == .none else { continue }
            var args = node.inputs.map(pointer) + [pointer(i)]
            if node.op.hasWeights && scratchBytes(i) > 0 { args.append(scratchPointer(node)) }
            calls.line("\(fn)(\(args.joined(separator: ", ")));")
            calls.line("UNET_TRACE(\"\(node.name)\", \(pointer(i)), \(node.shape.count));")
        }

        let cfg = weights.config
        // A static array past 1 GiB breaks the default code models of x86-64 and AArch64.
        let staticArena = plan.arenaBytes <= 1 << 30
        let input = graph.input.shape, output = graph.nodes[graph.outputIndex].shape
        let common: [String: CustomStringConvertible] = [
            "CONFIG": "\(cfg)", "IN_SHAPE": "\(input)", "OUT_SHAPE": "\(output)"]
        let header = Template.render("unet.h", common.merging([
            "N": input.n, "IN_C": input.c, "IN_H": input.h, "IN_W": input.w,
            "OUT_C": output.c, "OUT_H": output.h, "OUT_W": output.w,
            "ARENA_BYTES": plan.arenaBytes,
            "WEIGHTS_API": options.externalWeights ? Template.render("weights_api.h", ["WEIGHT_BYTES": packed.count * 4]) : "",
            "RUN_ERRORS": (options.externalWeights ? ", 3 before unet_set_weights" : "")
                + (staticArena ? "" : ", 4 for a NULL workspace (the arena is too large to be static)")]) { a, _ in a })
        let prelude = Template.render("prelude.c", common.merging([
            "SOURCE": options.sourceName, "FLOPS": flops, "ARENA_BYTES": plan.arenaBytes,
            "LOWER_BOUND": plan.lowerBound, "WEIGHT_BYTES": packed.count * 4,
            "V": v, "VBYTES": v * 4, "ZIP": v == 1 ? "0" : "1",
            "ZIP_LO": (0..<v / 2).map { "\($0), \($0 + v)" }.joined(separator: ", "),
            "ZIP_HI": (v / 2..<v).map { "\($0), \($0 + v)" }.joined(separator: ", "),
            "WEIGHTS_DECL": options.externalWeights
                ? Template.render("weights_external.c", ["WEIGHT_BYTES": packed.count * 4])
                : Template.render("weights_embedded.c", ["WEIGHT_BYTES": packed.count * 4,
                                                        "WEIGHT_ROWS": max(1, (packed.count * 4 + CProgram.weightRow - 1) / CProgram.weightRow)])])
            { a, _ in a })
        var body = CWriter()
        body.indented { w in for line in calls.text.split(separator: "\n") { w.line(String(line)) } }
        let entry = Template.render("entry.c", [
            "ARENA_DECL": staticArena
                ? "static float unet_arena[\(max(1, plan.arenaBytes / 4))] __attribute__((aligned(64)));\n#define UNET_STATIC_ARENA unet_arena"
                : "/* The arena, \(plan.arenaBytes) bytes, is too large for a static array: pass a workspace. */\n#define UNET_STATIC_ARENA NULL",
            "WEIGHTS_CHECK": options.externalWeights ? "\n    if (unet_weights == NULL) return 3;" : "",
            "CALLS": body.text.hasSuffix("\n") ? String(body.text.dropLast()) : body.text])
        return CProgram(header: header, kernels: prelude + tileCode + layerCode + groupCode, weights: packed, entry: entry,
                        externalWeights: options.externalWeights, graph: graph, plan: plan, flops: flops, tilings: tilings,
                        ownThreads: Dictionary(uniqueKeysWithValues: graph.nodes.indices.compactMap { i in
                            threadRows(i) || groupRows(i) ? (graph.nodes[i].name, "rows")
                                : threadBands(i) ? (graph.nodes[i].name, "bands") : nil
                        }))
    }

    mutating func emitConv(_ i: Int, fn: String, k: Int, p: Int, relu: Bool, t: LayerTiling, inputs: String) {
        let node = graph.nodes[i]
        let cin = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
        let cout = node.shape.c, (h, w) = (node.shape.h, node.shape.w)
        precondition(2 * p == k - 1, "only 'same' convolutions are lowered")
        let tw = t.nv * v, xt = (w + tw - 1) / tw, cob = (cout + t.r - 1) / t.r
        let conv = convPanel(i)
        flops += 2 * node.shape.count * cin * k * k

        let kc = t.kc == 0 ? cin : min(t.kc, cin)
        let tile = t.flat ? "conv\(k)_flat_\(t.r)x\(t.nv)" : "conv\(k)_\(t.r)x\(t.nr)x\(t.nv)"
        if tiles.insert(tile).inserted {
            tileCode += t.flat ? Template.render("conv_flat_tile.c", ["K": k, "R": t.r, "NV": t.nv])
                : Template.render("conv_tile.c", ["K": k, "R": t.r, "NR": t.nr, "NV": t.nv,
                                                  "ROLLED": k > 1 ? "UNET_ROLLED " : ""])
        }
        let weights = self.weights
        let (wexpr, bexpr) = packOnce("\(node.parameterName) \(t)") {
            // Weights [cout][cin][k][k] -> [cout / r][cin][k][k][r], zero-padded to whole tiles.
            let wt = weights.weight(node.parameterName).data, b = weights.bias(node.parameterName).data
            var blocked = [Float](repeating: 0, count: cob * cin * k * k * t.r)
            for co in 0..<cout {
                for ci in 0..<cin {
                    for tap in 0..<(k * k) {
                        blocked[(((co / t.r) * cin + ci) * k * k + tap) * t.r + co % t.r] = wt[(co * cin + ci) * k * k + tap]
                    }
                }
            }
            return (blocked, b + [Float](repeating: 0, count: cob * t.r - cout))
        }

        let inPlace = readsInPlace(i)
        let pw = inPlace ? w : conv.pw, plane = inPlace ? h * w : conv.pw * conv.rows
        let prefetch = Tiling.prefetch(t, k: k, bandRows: min(h, conv.rows - 2 * p), pw: pw, width: w, vectorWidth: v)
        var fields: [String: CustomStringConvertible] = [
            "NODE": node.name, "OP": node.op.mnemonic, "INPUTS": inputs, "OUT_SHAPE": node.shape,
            "FLOPS": 2 * node.shape.count * cin * k * k, "FN": fn, "PARAMS": params(node),
            "R": t.r, "NR": t.nr, "NV": t.nv, "KC": kc, "KK": k * k * t.r, "TW": tw, "RB": t.rb, "CIN": cin,
            "PROWS": conv.rows, "PW": pw, "P": p, "WEIGHTS": wexpr, "BIAS": bexpr, "N": node.shape.n, "H": h, "W": w,
            "COB": cob, "XT": xt, "K": k, "PLANE": plane, "WBLOCK": cin * k * k * t.r, "RELU": relu ? 1 : 0,
            "COUT": cout, "OUT_PLANE": h * w, "IN_BATCH": cin * h * w, "PAD_COLS": 2 * p,
            "PSTEP": prefetch.step, "PSLICES": prefetch.slices,
            // Which index of a tile varies fastest: its column, or with `blocksInner` its block.
            "CB_OF_T": t.blocksInner ? "(size_t)t % nb" : "(size_t)t / (groups * \(xt))",
            "Y_OF_T": t.blocksInner ? "(size_t)t / nb / \(xt)" : "(size_t)t / \(xt)",
            "XT_OF_T": t.blocksInner ? "(size_t)t / nb % \(xt)" : "(size_t)t % \(xt)",
            "BLOCK_ORDER": t.blocksInner ? "innermost (the panel window of a tile in L1 across them)"
                : "outermost (a block's weights in L1 across the tiles)",
            "PACK": standalone(i) && !inPlace
                ? indent(layerPacks(node, plane: plane, pw: pw, pad: p, rowGroup: t.nr, nowait: true), by: 4) : "",
            "THREAD_ROWS": "", "CLAIM": claimsBlocks(i) || threadRows(i) ? claimDeclaration : "",
            "FN_PAD": String(repeating: " ", count: fn.count + 4),
            "BAND_DECL": claimsBlocks(i) ? ", band = 0" : "", "SHARED_HOW": "",
            "SHARED_COMPUTE": "                    \(fn)_band(panel, rows, out + (n * \(cout) * \(h) + y0) * \(w), \(h * w), \(w));"]
        fields["BAND_WRAPPER"] = claimsBlocks(i) && !threadRows(i) ? "" : Template.render("conv_band.c", ["FN": fn, "COB": cob])
        if claimsBlocks(i) {
            fields["SHARED_HOW"] = """

                         * The tiles go in runs of blocks of output channels that the threads
                         * claim as they go (unet_claim): a thread keeps a block's partial sums
                         * through every chunk, and one on a busy core takes fewer.
            """
            fields["SHARED_COMPUTE"] = Template.render("conv_claim_blocks.c", ["FN": fn, "COB": cob, "COUT": cout, "H": h, "W": w,
                                                                               "OUT_PLANE": h * w, "FN_PAD": fields["FN_PAD"]!])
        }
        if threadRows(i) {
            // Bands each thread claims (unet_claim), ahead of the shared loop, each in its own panel.
            let rows: [String: CustomStringConvertible] = [
                "SLOTS": threads, "SLOT_FLOATS": panelSlotFloats(i), "GROUPS": (h + t.nr - 1) / t.nr,
                "CLAIM_GROUPS": max(1, t.rb / t.nr),
                "MY_PACK": indent(layerPacks(node, plane: plane, pw: pw, pad: p, rowGroup: t.nr, panel: "mine"), by: 8)]
            fields["THREAD_ROWS"] = Template.render(["conv_rows.c"], fields.merging(rows) { $1 },
                                                    sharedWith: ["conv.c", "conv_flat.c", "conv_layer.c", "conv_inplace_layer.c"])
        }
        let band = t.flat ? "conv_flat.c" : "conv.c"
        let layer = inPlace ? "conv_inplace_layer.c" : "conv_layer.c"
        layerCode += Template.render(standalone(i) ? [band, layer] : [band], fields,
                                     sharedWith: ["conv.c", "conv_flat.c", "conv_layer.c", "conv_inplace_layer.c"])
    }

    /// Whether a direct conv on its own shares the tiles of its shared bands out in runs of
    /// blocks of output channels that the threads claim as they go (`unet_claim`), rather than
    /// the same tiles to each thread in every chunk: every one but a 1x1 conv that reads its
    /// input in place (its threads take whole bands). A thread keeps the blocks it claimed
    /// through every chunk of the band, so their partial sums stay its own.
    func claimsBlocks(_ i: Int) -> Bool {
        let node = graph.nodes[i]
        guard case .conv = node.op, let t = tilings[node.name], t.algorithm == .direct else { return false }
        return standalone(i) && !readsInPlace(i)
    }

    /// The shared counter of a layer whose threads claim bands of rows or runs of blocks
    /// (`unet_claim`), declared ahead of its parallel region.
    let claimDeclaration = "    size_t next = 0; /* the first row or block no thread has claimed yet (unet_claim) */\n"

    /// `text` with every non-empty line moved right by `by` spaces.
    func indent(_ text: String, by n: Int) -> String {
        let pad = String(repeating: " ", count: n)
        return text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.isEmpty ? "" : pad + $0 }.joined(separator: "\n")
    }

    func params(_ node: Node) -> String { node.inputs.indices.map { "const float *in\($0), " }.joined() }

    /// The packing of a standalone conv's band into `panel`: rows [y0 - pad, y0 + groups *
    /// rowGroup + pad); with `nowait`, the caller has the barrier after it.
    func layerPacks(_ node: Node, plane: Int, pw: Int, pad: Int, rowGroup: Int, panel: String = "panel",
                    nowait: Bool = false) -> String {
        let packs = packSources(node, plane: plane, pw: pw, pad: pad, panel: panel,
                                rows: "groups * \(rowGroup) + \(2 * pad)", y: "(ptrdiff_t)y0 - \(pad)",
                                nowait: nowait) { "in\($0)" }
        return packs.hasSuffix("\n") ? String(packs.dropLast()) : packs
    }

    /// The loops that pack rows of a conv's inputs into its panel, one per source `source(k)`
    /// names (a tensor or a view; two when a concat was eliminated; nil: a streamed input, whose
    /// producer writes its planes), channels one after another. `panel`, `rows` and `y` are C
    /// expressions: the panel row to start at, the row count, the first source row.
    func packSources(_ node: Node, plane: Int, pw: Int, pad: Int, panel: String, rows: String, y: String,
                     nowait: Bool = false, source: (Int) -> String?) -> String {
        var packs = "", offset = 0
        let packed = node.inputs.indices.filter { source($0) != nil }
        for (i, src) in node.inputs.enumerated() {
            let st = storage(src), c = graph.nodes[src].shape.c
            defer { offset += c }
            guard let name = source(i) else { continue }
            packs += Template.render("conv_pack.c", [
                "NOWAIT": nowait || i != packed.last ? " nowait" : "", "C": c, "C_OFFSET": offset,
                "PLANE": plane, "PW": pw, "SRC": name, "PANEL": panel, "ROWS": rows, "Y": y,
                "SRC_BATCH": st.c * st.h * st.w, "SRC_PLANE": st.h * st.w, "SRC_ROW": st.w,
                "P": pad, "H": node.shape.h, "W": node.shape.w])
        }
        return packs
    }

    mutating func emitWinograd(_ i: Int, fn: String, relu: Bool, t: LayerTiling, inputs: String) {
        let node = graph.nodes[i]
        let cin = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
        let cout = node.shape.c, (h, w) = (node.shape.h, node.shape.w)
        let m = t.nr, a = m + 2, cob = (cout + t.r - 1) / t.r
        let s = winogradScratch(node, t)
        flops += 2 * node.shape.count * cin * 9
        let wm = Winograd.matrices(m: m)

        let transform = "wino\(m)"
        if tiles.insert(transform).inserted {
            tileCode += Template.render("winograd_transform.c", [
                "M": m, "A": a,
                "INPUT_ROWS": (0..<a).map { i in "        t[\(i)][j] = " + Winograd.combination(wm.bt[i]) { "x[\($0)][j]" } + ";" }.joined(separator: "\n"),
                "INPUT_COLS": (0..<a).map { j in "        UNET_STORE(o + \(j) * vstride, " + Winograd.combination(wm.bt[j]) { "t[i][\($0)]" } + ");" }.joined(separator: "\n"),
                "OUTPUT_ROWS": (0..<m).map { i in "        s[\(i)][j] = " + Winograd.combination(wm.at[i]) { "x[\($0)][j]" } + ";" }.joined(separator: "\n"),
                "OUTPUT_COLS": (0..<m).map { j in "        o[\(j)] = " + Winograd.combination(wm.at[j]) { "s[i][\($0)]" } + ";" }.joined(separator: "\n"),
                "INPUT_SHUFFLES": Winograd.inputShuffles(m: m, v: v), "OUTPUT_ZIPS": Winograd.outputZips(m: m)])
        }
        let gemm = "wino_gemm_\(t.r)x\(t.nv)"
        if tiles.insert(gemm).inserted {
            tileCode += Template.render("winograd_gemm.c", ["R": t.r, "NV": t.nv])
        }
        let weights = self.weights
        let (wexpr, bexpr) = packOnce("\(node.parameterName) \(t)") {
            // Weights [cout][cin][3][3] -> G g G^T in double, rounded once, packed [cout / r][xi][cin][r]:
            // the weights one block of output channels multiplies, at every point, in one run.
            let wt = weights.weight(node.parameterName).data, b = weights.bias(node.parameterName).data
            var packedU = [Float](repeating: 0, count: a * a * cob * cin * t.r)
            for co in 0..<cout {
                for ci in 0..<cin {
                    let g = (0..<9).map { Double(wt[(co * cin + ci) * 9 + $0]) }
                    let u = Winograd.transformWeights(g, wm.g)
                    for xi in 0..<(a * a) {
                        packedU[(((co / t.r) * a * a + xi) * cin + ci) * t.r + co % t.r] = Float(u[xi])
                    }
                }
            }
            return (packedU, b + [Float](repeating: 0, count: cob * t.r - cout))
        }

        let conv = convPanel(i), plane = conv.pw * conv.rows
        var fields: [String: CustomStringConvertible] = [
            "NODE": node.name, "OP": node.op.mnemonic, "INPUTS": inputs, "OUT_SHAPE": node.shape,
            "FLOPS": 2 * node.shape.count * cin * 9, "FN": fn, "PARAMS": params(node),
            "M": m, "AA": a * a, "R": t.r, "NV": t.nv, "RB": s.tr * m, "TR": s.tr, "XT": s.xt,
            "CIN": cin, "PROWS": conv.rows, "PW": s.pw, "PLANE": plane, "TPAD": s.tpad,
            "BW": t.nv * v, "BLOCK_FLOATS": a * a * cin * t.nv * v,
            "PANEL_FLOATS": s.panelFloats, "WEIGHTS": wexpr, "BIAS": bexpr, "N": node.shape.n,
            "H": h, "W": w, "COB": cob, "COUT": cout, "RELU": relu ? 1 : 0, "OUT_PLANE": h * w,
            "PACK": standalone(i) ? indent(layerPacks(node, plane: plane, pw: s.pw, pad: 1, rowGroup: m), by: 4) : "",
            "STEP": "", "THREAD_BANDS": "        "]
        if Tiling.winogradWeightsOuter(node, t, vectorWidth: v) {
            fields["ORDER"] = "Each block of output channels takes every block of tiles in turn, so that its transformed weights stay in L2."
            fields["TILE_BLOCK"] = "(size_t)t % blocks"
            fields["CO_BLOCK"] = "(size_t)t / blocks"
        } else {
            fields["ORDER"] = "Each block of tiles takes every block of output channels in turn, so that its transformed input stays in L2."
            fields["TILE_BLOCK"] = "(size_t)t / \(cob)"
            fields["CO_BLOCK"] = "(size_t)t % \(cob)"
        }
        // One band packed and computed, as both band loops run it.
        fields["STEP"] = Template.render(["winograd_band_step.c"], fields, sharedWith: ["winograd.c", "winograd_layer.c"])
        if threadBands(i) {
            // Each thread's own bands, ahead of the shared loop: the same values and the scratches.
            let slots: [String: CustomStringConvertible] = [
                "SLOTS": threads, "SLOT_FLOATS": winogradSlotFloats(i), "BANDS": Tiling.winogradBands(node, t) / node.shape.n]
            fields["THREAD_BANDS"] = Template.render(["winograd_bands.c"], fields.merging(slots) { $1 },
                                                     sharedWith: ["winograd.c", "winograd_layer.c", "winograd_band_step.c"])
        }
        layerCode += Template.render(standalone(i) ? ["winograd.c", "winograd_layer.c"] : ["winograd.c"], fields,
                                     sharedWith: ["winograd_layer.c", "winograd_band_step.c"])
    }

    mutating func emitConvTranspose(_ i: Int, fn: String, t: LayerTiling, inputs: String) {
        let node = graph.nodes[i]
        let s = graph.nodes[node.inputs[0]].shape, st = storage(node.inputs[0])
        let cin = s.c, cout = node.shape.c
        let tw = t.nv * v, xt = (s.w + tw - 1) / tw, cob = (cout + t.r - 1) / t.r
        let pn = panel(node, t)
        flops += 2 * node.shape.count * cin

        let split = t.splitRows && !t.flat
        let tile = t.flat ? "convT_flat_\(t.r)x\(t.nv)" : "convT\(split ? "_row" : "")_\(t.r)x\(t.nv)"
        if tiles.insert(tile).inserted {
            // A tile of one output row takes its row's 2 taps, then steps over the other's.
            let sums = Template.render("conv_transpose_sums.c", ["R": t.r, "NV": t.nv, "TAPS": split ? 2 : 4,
                                                                 "NEXT_W": split ? ", w += \(2 * t.r)" : ""])
            tileCode += t.flat ? Template.render("conv_transpose_flat_tile.c", ["R": t.r, "NV": t.nv, "SUMS": sums])
                : Template.render("conv_transpose_tile.c", ["R": t.r, "NV": t.nv, "SUMS": sums, "TAPS": split ? 2 : 4,
                                                            "ROW": split ? "_row" : ""])
        }
        // Weights [cin][cout][2][2] -> [cout / r][cin][dy][dx][r].
        let wt = weights.weight(node.parameterName).data, b = weights.bias(node.parameterName).data
        var blocked = [Float](repeating: 0, count: cob * cin * 4 * t.r)
        for ci in 0..<cin {
            for co in 0..<cout {
                for q in 0..<4 {
                    blocked[(((co / t.r) * cin + ci) * 4 + q) * t.r + co % t.r] = wt[(ci * cout + co) * 4 + q]
                }
            }
        }
        let wexpr = pack(blocked)
        let bexpr = pack(b + [Float](repeating: 0, count: cob * t.r - cout))
        let rows = node.fusion == .streamed ? convPanel(i).rows : t.rb
        var fields: [String: CustomStringConvertible] = [
            "NODE": node.name, "INPUTS": inputs, "OUT_SHAPE": node.shape, "FLOPS": 2 * node.shape.count * cin,
            "FN": fn, "R": t.r, "NV": t.nv, "TW": tw, "RB": t.rb, "CIN": cin, "PW": pn.pw,
            "WEIGHTS": wexpr, "BIAS": bexpr, "N": s.n, "IH": s.h, "IW": s.w, "PLANE": pn.pw * rows,
            "IN_BATCH": st.c * st.h * st.w, "IN_PLANE": st.h * st.w, "IN_ROW": st.w, "COB": cob, "XT": xt,
            "WBLOCK": cin * 4 * t.r, "COUT": cout, "OH": node.shape.h, "OW": node.shape.w,
            "OUT_PLANE": node.shape.h * node.shape.w, "THREAD_ROWS": "        ", "CLAIM": ""]
        // A tile takes 4 x r weights a channel (a split row's 2 of them, then steps over the others).
        let prefetch = Tiling.prefetch(t, k: 2, bandRows: (split ? 2 : 1) * min(rows, s.h), pw: pn.pw, width: s.w,
                                       vectorWidth: v)
        fields["PSTEP"] = prefetch.step
        fields["PSLICES"] = prefetch.slices
        let band = t.flat ? "conv_transpose_flat.c" : "conv_transpose.c"
        let all = ["conv_transpose.c", "conv_transpose_flat.c", "conv_transpose_layer.c"]
        // Row tiles: tile t's row y is an input row, or with split rows an output row.
        fields["Y_ROWS"] = split ? "(2 * rows)" : "rows"
        fields["TILE_CALL"] = ""
        if !t.flat {
            let calls = ["conv_transpose_call.c", "conv_transpose_split_call.c"]
            fields["TILE_CALL"] = Template.render([calls[split ? 1 : 0]], fields.merging(["ROW_TAPS": 2 * t.r]) { $1 },
                                                  sharedWith: all + calls)
        }
        if threadRows(i) {
            fields["CLAIM"] = claimDeclaration
            let rows: [String: CustomStringConvertible] = ["SLOTS": threads, "SLOT_FLOATS": panelSlotFloats(i)]
            fields["THREAD_ROWS"] = Template.render(["conv_transpose_rows.c"], fields.merging(rows) { $1 }, sharedWith: all)
        }
        layerCode += Template.render(standalone(i) ? [band, "conv_transpose_layer.c"] : [band], fields, sharedWith: all)
    }
}

extension Winograd {
    /// The C that deals one patch row `r` of UNET_V tiles (m x v + 2 floats: point j of lane l
    /// is r[l * m + j]) out to x[i][0 ..< m + 2] with vector loads and shuffles: the first m
    /// points deinterleave m loads (m 2 or 4; for 4, two shuffles of halves and one to join
    /// them), the last two are the first two moved down a lane, with the row's last two floats
    /// (from a load ending there) in the top lane. For v >= 2 (UNET_HAVE_ZIP).
    static func inputShuffles(m: Int, v: Int) -> String {
        precondition(m == 2 || m == 4, "Winograd output tile \(m) is not 2 or 4")
        // One lane: UNET_HAVE_ZIP is off and the block these lines go into is compiled out.
        guard v >= 2 else { return "" }
        let list = { (xs: [Int]) in xs.map(String.init).joined(separator: ", ") }
        let pad = "            "
        var lines = [pad + "unet_vf " + (0..<m).map { "a\($0) = UNET_LOAD(r + \($0 * v))" }.joined(separator: ", ")
                     + ", tail = UNET_LOAD(r + \((m - 1) * v + 2))" + (m == 4 ? ", b0, b1;" : ";")]
        for j in 0..<m {
            if m == 2 {
                lines.append(pad + "x[i][\(j)] = __builtin_shufflevector(a0, a1, \(list((0..<v).map { j + 2 * $0 })));")
            } else {
                let half = list((0..<v).map { $0 < v / 2 ? j + 4 * $0 : 0 })
                lines.append(pad + "b0 = __builtin_shufflevector(a0, a1, \(half));")
                lines.append(pad + "b1 = __builtin_shufflevector(a2, a3, \(half));")
                lines.append(pad + "x[i][\(j)] = __builtin_shufflevector(b0, b1, \(list((0..<v).map { $0 < v / 2 ? $0 : v + $0 - v / 2 })));")
            }
        }
        for k in 0..<2 {
            lines.append(pad + "x[i][\(m + k)] = __builtin_shufflevector(x[i][\(k)], tail, \(list(Array(1..<v) + [2 * v - 2 + k])));")
        }
        return lines.joined(separator: "\n")
    }

    /// The C that writes one output row `row` of UNET_V whole tiles from y[i][0 ..< m] (column
    /// j of every tile) interleaved: one level of zips for m 2, two for m 4 (q0 with q2 and q1
    /// with q3, then those), so that lane l's m values lie at row[l * m ..< l * m + m].
    static func outputZips(m: Int) -> String {
        let pad = "            "
        switch m {
        case 2:
            return [pad + "unet_vf q0 = UNET_LOAD(y[i][0]), q1 = UNET_LOAD(y[i][1]);",
                    pad + "UNET_STORE(row, UNET_ZIP_LO(q0, q1));",
                    pad + "UNET_STORE(row + UNET_V, UNET_ZIP_HI(q0, q1));"].joined(separator: "\n")
        case 4:
            return [pad + "unet_vf q0 = UNET_LOAD(y[i][0]), q1 = UNET_LOAD(y[i][1]), q2 = UNET_LOAD(y[i][2]), q3 = UNET_LOAD(y[i][3]);",
                    pad + "unet_vf e0 = UNET_ZIP_LO(q0, q2), e1 = UNET_ZIP_HI(q0, q2), f0 = UNET_ZIP_LO(q1, q3), f1 = UNET_ZIP_HI(q1, q3);",
                    pad + "UNET_STORE(row, UNET_ZIP_LO(e0, f0));",
                    pad + "UNET_STORE(row + UNET_V, UNET_ZIP_HI(e0, f0));",
                    pad + "UNET_STORE(row + 2 * UNET_V, UNET_ZIP_LO(e1, f1));",
                    pad + "UNET_STORE(row + 3 * UNET_V, UNET_ZIP_HI(e1, f1));"].joined(separator: "\n")
        default:
            preconditionFailure("Winograd output tile \(m) is not 2 or 4")
        }
    }
}

/// The Winograd F(m x m, 3 x 3) matrices (Lavin and Gray; points 0, 1, -1 for m 2, and
/// 0, 1, -1, 2, -2 for m 4, with the point at infinity) and helpers to emit them as C.
enum Winograd {
    struct Matrices {
        /// B^T: (m+2) x (m+2), the input transform.
        var bt: [[Double]]
        /// G: (m+2) x 3, the weight transform.
        var g: [[Double]]
        /// A^T: m x (m+2), the output transform.
        var at: [[Double]]
    }

    static func matrices(m: Int) -> Matrices {
        switch m {
        case 2:
            return Matrices(
                bt: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
                g: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
                at: [[1, 1, 1, 0], [0, 1, -1, -1]])
        case 4:
            return Matrices(
                bt: [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                     [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
                g: [[1.0 / 4, 0, 0], [-1.0 / 6, -1.0 / 6, -1.0 / 6], [-1.0 / 6, 1.0 / 6, -1.0 / 6],
                    [1.0 / 24, 1.0 / 12, 1.0 / 6], [1.0 / 24, -1.0 / 12, 1.0 / 6], [0, 0, 1]],
                at: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]])
        default:
            preconditionFailure("Winograd tile \(m) is not 2 or 4")
        }
    }

    /// G g G^T for one 3x3 kernel `g` (row-major), in double: (m+2)^2 values, row-major.
    static func transformWeights(_ g: [Double], _ gm: [[Double]]) -> [Double] {
        let a = gm.count
        var tmp = [Double](repeating: 0, count: a * 3)        // G g: a x 3
        for i in 0..<a { for k in 0..<3 { for j in 0..<3 { tmp[i * 3 + k] += gm[i][j] * g[j * 3 + k] } } }
        var u = [Double](repeating: 0, count: a * a)          // (G g) G^T: a x a
        for i in 0..<a { for l in 0..<a { for k in 0..<3 { u[i * a + l] += tmp[i * 3 + k] * gm[l][k] } } }
        return u
    }

    /// The C expression sum of coefficients[k] * term(k) over the non-zero coefficients, with
    /// no multiply for +-1 (every coefficient here is exact in float).
    static func combination(_ coefficients: [Double], _ term: (Int) -> String) -> String {
        var out = ""
        for (k, c) in coefficients.enumerated() where c != 0 {
            let mag = abs(c)
            let t = mag == 1 ? term(k) : "\(Float(mag))f * \(term(k))"
            if out.isEmpty { out = c < 0 ? "-" + t : t } else { out += (c < 0 ? " - " : " + ") + t }
        }
        return out.isEmpty ? "UNET_SPLAT(0.0f)" : out
    }
}
