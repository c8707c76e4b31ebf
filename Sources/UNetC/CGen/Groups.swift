// Groups: the band loops of `generate --memory min`, and of the speed schedule's wide levels
// (`streamingWideLayers`). A group is a driver (a conv that is
// stored, written in place, or read only by its pools) with the tree of streamed layers that
// feed it (stream-rows) and the max pools computed from its rows (fuse-pool). One loop over
// bands of the driver's output rows runs every layer of the tree a band at a time.
//
// A member P writes its output rows into the panel of its reader C (the slice of C's input
// channels it fills), whose rows are a window [y0 - h, y0 + rb + h) of P's output around the
// driver's band [y0, y0 + rb): h, P's halo, is the sum of the paddings of the convs from C to
// the driver. Between bands the last 2 h rows of a window move to its top (unet_roll) and P
// computes only the rb new rows, so no row is computed twice. Stored inputs (the network
// input, a pool, a skip) are packed into their planes of a panel the same way.
//
// In the speed schedule each thread runs the loop over a run of the driver's rows of its own,
// with scratches of its own (`groupSlots`): its first band computes each window whole, so the
// streamed layers' rows next to a boundary are computed by both threads. A thread whose rows
// run out takes the later half of the rows another has not begun (`unet_steal`), where that
// is two bands or more, and runs the loop over them the same way. In `--memory min`
// every thread works on every band, sharing one scratch.


/// One layer of a group.
struct GroupLevel {
    let node: Int
    /// The conv's padding: rows it reads past each output row (0 for a transposed conv).
    let pad: Int
    /// How far its output window reaches past the driver's band on each side.
    let halo: Int
    /// Its panel (a conv's packed input rows; a transposed conv's input rows): planes, floats
    /// per row, rows, offset in the scratch in floats.
    var planes = 0, pw = 0, rows = 0, offset = 0
    var plane: Int { pw * rows }
    /// The window of its input rows that its panel holds reaches this far past the band.
    var inputHalo: Int { halo + pad }
}

struct GroupLayout {
    /// Post-order: every member after the members it reads, the driver last.
    var levels: [GroupLevel]
    /// Rows of the driver's output per band.
    var rb: Int
    /// Floats of the conv panels at the start of the scratch, zeroed once per run.
    var panelFloats: Int
    /// Offset of the Winograd transformed input; of the band of the driver's output when only
    /// its pools read it (-1 otherwise).
    var tv: Int
    var band: Int
    var floats: Int

    func level(_ node: Int) -> GroupLevel { levels.first { $0.node == node }! }
}

extension Lowering {
    /// Scratches of the group `driver` drives: one per thread with rows of its own in the speed
    /// schedule (`threads`); one shared by every thread, on every band, in `--memory-mode min`
    /// and where the driver writes over its input (write-in-place: a thread's rows would
    /// overwrite the rows above them that the other thread still reads).
    func groupSlots(_ driver: Int) -> Int { memory == .min || graph.nodes[driver].fusion != .none ? 1 : threads }

    /// The most FLOPs per byte of its input a conv may do to read its streamed producers in
    /// the speed schedule (18 x its output channels / 4): packing its input costs the most
    /// against its arithmetic. The classic model's full-size convs (64 output channels: 288)
    /// spent 5-6% of their time packing, the next level's (128: 576) 3%. On 2 threads
    /// (`bench/ab.py`, fast minutes) the full-size levels took 0.93-0.98x as long in groups,
    /// the next level's 1.0-1.03x; up_sample.0 and up_conv.0.first at 512x512 (18.9 MB of
    /// weights, which each thread of a group reads for its bands) 1.035x.
    static let wideFlopsPerInputByte = 384

    /// The graph with the speed schedule's groups (`generate --stream-bytes`): a conv or
    /// transposed conv, itself direct, whose only reader is a direct 3x3 conv with a wide input
    /// (`minBytes` or more for one image: 16 MiB by default, past the L3 here) and few FLOPs
    /// per byte of it (`wideFlopsPerInputByte`) is streamed into it, and a max pool of such a
    /// reader runs in its band loop. The producer's rows go straight into the reader's panel,
    /// a band at a time, and never to memory, and the reader's input is not packed again; each
    /// thread takes a run of the rows with panels of its own (group.c), as the direct convs
    /// with rows of their own do. In the classic model: the full-size levels at 256x256, the
    /// encoder's from 512x512 up, where the decoder's group passes `speedGroupThreadScratch`
    /// (`withoutLargeGroups`); with Winograd, `--algorithm auto`, none.
    func streamingWideLayers(minBytes: Int) -> Graph {
        func direct(_ i: Int) -> Bool { tilings[graph.nodes[i].name]?.algorithm == .direct }
        func wide(_ i: Int) -> Bool {
            let node = graph.nodes[i]
            guard case .conv(3, _, _) = node.op, direct(i), graph.nodes[i].fusion == .none else { return false }
            let cin = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
            return cin * node.shape.h * node.shape.w * 4 >= minBytes
                && 2 * 9 * node.shape.c <= Self.wideFlopsPerInputByte * 4
        }
        let g = Pipeline.streamingRows(graph) { i, reader in graph.nodes[i].fusion == .none && direct(i) && wide(reader) }
        return Pipeline.fusingPools(g) { conv in g.nodes[conv].inputs.contains { g.nodes[$0].fusion == .streamed } }
    }

    /// The fewest rows per band of a group in the speed schedule (its driver's tiling's bands
    /// where more). Between bands a streamed conv's panel moves its last 4 rows to the top:
    /// at 1000x1000, in bands of 6 (the tiling's), up_sample.3 and up_conv.3 took 1.04x as
    /// long in a group as on their own on 1 thread; in bands of 12 1.00x, of 24 1.17x (the
    /// panels no longer in cache).
    static let speedGroupRowsMinimum = 12

    /// The most bytes the scratches of a group in the speed schedule may take, every thread's
    /// together: its panels are read from the L3 once per block of output channels. At
    /// 1000x1000 the decoder's full-size group took 1.09x as long as its layers on
    /// their own on 2 threads (2 x 14.8 MB) on Zen 5.
    static let speedGroupScratchBudget = 16 << 20

    /// The most bytes one thread's scratch of a group in the speed schedule may take. The
    /// classic model's full-size decoder group (`bench/ab.py`, against its layers on their own):
    /// at 512x512 (7.6 MB a thread) 0.97-0.98x on Zen 5 but 1.07x on 1 thread and 1.12-1.46x
    /// on 2 on Zen 4 (AVX-512 at half width, the same 1 MB of L2 and 32 MB of L3); at 256x256
    /// (3.8 MB) 0.965-0.98x on Zen 5, 0.99-1.03x on Zen 4.
    static let speedGroupThreadScratch = 4 << 20

    /// `graph` without the groups of the speed schedule whose scratches take more than
    /// `speedGroupThreadScratch` a thread or `speedGroupScratchBudget` in all: their layers
    /// run on their own.
    func withoutLargeGroups() -> Graph {
        var g = graph
        for d in graph.nodes.indices where isGroupDriver(d) && memory == .speed {
            let slot = groupSlotFloats(d) * 4
            guard slot > Self.speedGroupThreadScratch || groupSlots(d) * slot > Self.speedGroupScratchBudget else { continue }
            for i in members(d) + pools(d) where i != d { g.nodes[i].fusion = .none }
        }
        return g
    }

    /// Whether node `i` drives a group: a conv or transposed conv, not streamed, with a
    /// streamed input, an epilogue reader, or an in-place output.
    func isGroupDriver(_ i: Int) -> Bool {
        let node = graph.nodes[i]
        guard node.op.hasWeights else { return false }
        switch node.fusion {
        case .streamed, .epilogue: return false
        case .inPlace: return true
        case .none:
            return node.inputs.contains { graph.nodes[$0].fusion == .streamed }
                || users[i].contains { graph.nodes[$0].fusion == .epilogue }
        }
    }

    /// The group's layers, post-order, the driver last.
    func members(_ i: Int) -> [Int] {
        graph.nodes[i].inputs.filter { graph.nodes[$0].fusion == .streamed }.flatMap(members) + [i]
    }

    /// The driver of the group a streamed node belongs to.
    func driver(of i: Int) -> Int {
        graph.nodes[i].fusion == .streamed ? driver(of: users[i][0]) : i
    }

    func padding(_ i: Int) -> Int {
        if case .conv(_, let p, _) = graph.nodes[i].op { return p }
        return 0
    }

    /// Whether only its pools read the driver's output: it then goes to one band's buffer.
    func banded(_ driver: Int) -> Bool { schedule.owner[driver] == nil && driver != graph.nodes[graph.outputIndex].inputs[0] }

    func groupLevels(_ driver: Int) -> [GroupLevel] {
        var halo = [driver: 0]
        for i in members(driver).reversed() where i != driver {
            let reader = users[i][0]
            halo[i] = halo[reader]! + padding(reader)
        }
        return members(driver).map { GroupLevel(node: $0, pad: padding($0), halo: halo[$0]!) }
    }

    func groupLayout(_ driver: Int) -> GroupLayout {
        groupLayout(groupLevels(driver), rb: groupRows[driver]!)
    }

    /// Rows per band for every group; in the speed schedule its driver's bands, at least
    /// `speedGroupRowsMinimum`. In `--memory min`: the smallest arena first, then speed. With every group
    /// at its smallest bands (8 rows) the arena's lower bound is B; then each group gets the
    /// highest bands (up to the most its layers' tilings ask for, the map at most) that keep the
    /// bytes live at its step within B. Winograd levels get sub-bands no higher than that.
    /// The algorithms stay as chosen (`--algorithm direct` gives a smaller arena still).
    mutating func chooseGroupRows() {
        let drivers = graph.nodes.indices.filter(isGroupDriver)
        guard !drivers.isEmpty else { return }
        let even = { (x: Int) in (x + 1) / 2 * 2 }
        var candidates: [Int: [Int]] = [:]
        for d in drivers {
            let most = min(even(graph.nodes[d].shape.h), even(members(d).map { tilings[graph.nodes[$0].name]!.rb }.max()!))
            var rows = [most]
            while rows.last! > 8 { rows.append(max(8, even(rows.last! / 2))) }
            candidates[d] = rows
            groupRows[d] = rows.last!
        }
        var live = [Int](repeating: 0, count: graph.nodes.count)
        for b in schedule.requests() {
            for step in b.first...b.last { live[step] += MemoryPlanner.aligned(b.bytes) }
        }
        let bound = graph.nodes.indices.map { live[$0] + (schedule.isDriver($0) ? MemoryPlanner.aligned(scratchBytes($0)) : 0) }.max()!
        for d in drivers {
            if memory == .speed {
                groupRows[d] = max(Self.speedGroupRowsMinimum, even(tilings[graph.nodes[d].name]!.rb))
            } else {
                groupRows[d] = candidates[d]!.first { rb in
                    live[d] + MemoryPlanner.aligned(groupLayout(groupLevels(d), rb: rb).floats * 4) <= bound
                }!
            }
            for i in members(d) where tilings[graph.nodes[i].name]!.algorithm == .winograd {
                let m = tilings[graph.nodes[i].name]!.nr
                tilings[graph.nodes[i].name]!.rb = min(tilings[graph.nodes[i].name]!.rb, (groupRows[d]! + m - 1) / m * m)
            }
        }
    }

    func groupLayout(_ levels: [GroupLevel], rb: Int) -> GroupLayout {
        var levels = levels, floats = 0
        func take(_ n: Int) -> Int {
            let at = (floats + 15) / 16 * 16
            floats = at + n
            return at
        }
        for (i, level) in levels.enumerated() {
            let node = graph.nodes[level.node]
            guard case .conv = node.op else { continue }
            let t = tilings[node.name]!
            let up = { (x: Int) in (x + t.nr - 1) / t.nr * t.nr }
            // The window, and the rows the band function reads: whole tiles of nr rows plus
            // the padding, from row h (the map's first band), 0 (the first band of a thread's
            // rows, which computes the window whole) or 2h (the others).
            levels[i].rows = max(rb + 2 * level.inputHalo, level.halo + up(rb + level.halo) + 2 * level.pad,
                                 2 * level.halo + up(rb) + 2 * level.pad,
                                 groupSlots(levels.last!.node) > 1 ? up(rb + 2 * level.halo) + 2 * level.pad : 0)
            levels[i].planes = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
            levels[i].pw = t.algorithm == .winograd ? winogradScratch(node, t).pw : panel(node, t).pw
            levels[i].offset = take(levels[i].planes * levels[i].plane)
        }
        let panelFloats = floats
        for (i, level) in levels.enumerated() {
            let node = graph.nodes[level.node]
            guard case .convTranspose = node.op else { continue }
            levels[i].planes = graph.nodes[node.inputs[0]].shape.c
            levels[i].pw = panel(node, tilings[node.name]!).pw
            levels[i].rows = (rb + level.halo + 1) / 2 + 1
            levels[i].offset = take(levels[i].planes * levels[i].plane)
        }
        let tvFloats = levels.map { l -> Int in
            let node = graph.nodes[l.node], t = tilings[node.name]!
            guard t.algorithm == .winograd else { return 0 }
            var sub = t
            sub.rb = min(t.rb, (rb + t.nr - 1) / t.nr * t.nr)
            let s = winogradScratch(node, sub)
            return s.floats - s.panelFloats
        }.max()!
        let tv = take(tvFloats)
        let driver = graph.nodes[levels.last!.node]
        let band = banded(levels.last!.node) ? take(driver.shape.c * rb * driver.shape.w) : -1
        return GroupLayout(levels: levels, rb: rb, panelFloats: panelFloats, tv: tv, band: band, floats: floats)
    }

    /// Floats of one thread's scratch in a group, rounded up to 64 bytes so that every
    /// thread's starts aligned; `groupSlots(driver)` of them.
    func groupSlotFloats(_ driver: Int) -> Int { (groupLayout(driver).floats + 15) / 16 * 16 }

    /// The panel a conv's band function reads: its group's, or the one it packs on its own;
    /// for a transposed conv, the rows of its own input panel.
    func convPanel(_ i: Int) -> (pw: Int, rows: Int) {
        let node = graph.nodes[i], t = tilings[node.name]!
        if graph.nodes[i].fusion == .streamed || isGroupDriver(i) {
            let level = groupLayout(driver(of: i)).level(i)
            return (level.pw, level.rows)
        }
        if t.algorithm == .winograd {
            let s = winogradScratch(node, t)
            return (s.pw, s.rows)
        }
        let p = panel(node, t)
        return (p.pw, p.rows)
    }

    /// The group's stored inputs, in the order its function takes them: (member, input index).
    func groupSources(_ layout: GroupLayout) -> [(node: Int, input: Int)] {
        layout.levels.flatMap { level in
            graph.nodes[level.node].inputs.indices
                .filter { graph.nodes[graph.nodes[level.node].inputs[$0]].fusion != .streamed }
                .map { (level.node, $0) }
        }
    }

    func pools(_ driver: Int) -> [Int] { users[driver].filter { graph.nodes[$0].fusion == .epilogue } }

    func groupCall(_ driver: Int) -> String {
        let layout = groupLayout(driver)
        var args = groupSources(layout).map { pointer(graph.nodes[$0.node].inputs[$0.input]) }
        if !banded(driver) { args.append(pointer(driver)) }
        args += pools(driver).map(pointer)
        args.append(scratchPointer(graph.nodes[driver]))
        return "\(fnNames[driver]!)(\(args.joined(separator: ", ")));"
    }

    /// The group's function: Templates/group.c with the steps of one band.
    func groupFunction(_ driver: Int) -> String {
        let layout = groupLayout(driver), rb = layout.rb
        let sources = groupSources(layout)
        func sourceName(_ node: Int, _ input: Int) -> String? {
            sources.firstIndex { $0.node == node && $0.input == input }.map { "in\($0)" }
        }
        var w = CWriter()
        // Makes member `i`'s panel hold its input window for this band: its own rows rolled
        // and packed, then each streamed input's new rows computed into it.
        func prepare(_ i: Int, _ w: inout CWriter) {
            let level = layout.level(i)
            guard case .conv = graph.nodes[i].op else { return }
            w.line("/* \(graph.nodes[i].name): its input rows [y0 - \(level.inputHalo), y0 + \(rb + level.inputHalo)) in its panel */")
            w.line("{")
            w.indented { w in
                fillPanel(&w, level, rb: rb, sourceName: sourceName)
                w.line("UNET_OMP(omp barrier)")
            }
            w.line("}")
            for p in graph.nodes[i].inputs where graph.nodes[p].fusion == .streamed {
                prepare(p, &w)
                produce(p, into: level, &w)
            }
        }
        func produce(_ i: Int, into next: GroupLevel, _ w: inout CWriter) {
            let level = layout.level(i), node = graph.nodes[i], h = node.shape.h
            let dest = "scratch + \(next.offset + channelOffset(of: i, in: next.node) * next.plane)"
            let row = { (y: String) in "(size_t)(\(y) - (ptrdiff_t)y0 + \(level.halo))" }
            w.line("/* \(node.name): rows [y0 - \(level.halo), y0 + \(rb + level.halo)) into the panel of \(graph.nodes[next.node].name) */")
            w.line("{")
            w.indented { w in
                w.line(newWindowRows(halo: level.halo, rb: rb))
                w.line("ptrdiff_t lo = a > 0 ? a : 0, hi = b < \(h) ? b : \(h);")
                w.line("if (hi < lo) hi = lo;")
                w.line("if (hi > lo) {")
                w.indented { w in
                    if case .convTranspose = node.op {
                        let st = storage(node.inputs[0])
                        w.line("\(fnNames[i]!)_band(\(sourceName(i, 0)!) + n * \(st.c * st.h * st.w), (size_t)lo / 2, (size_t)(hi + 1) / 2 - (size_t)lo / 2,")
                        w.line("    (int)(lo & 1), (int)(hi & 1), \(dest) + \(row("lo / 2 * 2")) * \(next.pw) + \(next.pad),")
                        w.line("    \(next.plane), \(next.pw), scratch + \(level.offset));")
                    } else {
                        w.line("\(fnNames[i]!)_band(scratch + \(level.offset) + \(row("lo")) * \(level.pw), (size_t)(hi - lo),")
                        w.line("    \(dest) + \(row("lo")) * \(next.pw) + \(next.pad), \(next.plane), \(next.pw)\(tvArgument(i, layout)));")
                    }
                }
                w.line("}")
                // Window rows outside the map are zeros: above it in the first band, below it in the last.
                w.line("if (lo > a) unet_zero_rows(\(dest), \(node.shape.c), \(next.plane), \(next.pw), \(row("a")), (size_t)(lo - a));")
                w.line("if (b > hi) unet_zero_rows(\(dest), \(node.shape.c), \(next.plane), \(next.pw), \(row("hi")), (size_t)(b - hi));")
                w.line("UNET_OMP(omp barrier)")
            }
            w.line("}")
        }
        let d = graph.nodes[driver], st = storage(driver), h = d.shape.h
        let out = banded(driver) ? "scratch + \(layout.band)" : "out + n * \(st.c * st.h * st.w) + y0 * \(st.w)"
        let (outPlane, outRow) = banded(driver) ? (rb * d.shape.w, d.shape.w) : (st.h * st.w, st.w)
        w.indented { w in w.indented { w in
            prepare(driver, &w)
            w.line("/* \(d.name): rows [y0, y0 + \(rb)) */")
            w.line("{")
            w.indented { w in
                w.line("size_t rows = ye - y0 < \(rb) ? ye - y0 : \(rb);")
                w.line("\(fnNames[driver]!)_band(scratch + \(layout.levels.last!.offset), rows, \(out), \(outPlane), \(outRow)\(tvArgument(driver, layout)));")
                w.line("UNET_OMP(omp barrier)")
                for (k, pool) in pools(driver).enumerated() {
                    let p = graph.nodes[pool].shape
                    w.line("\(fnNames[pool]!)_rows(\(out), pool\(k) + n * \(p.c * p.h * p.w) + y0 / 2 * \(p.w), ((y0 + rows) / 2 < \(p.h) ? (y0 + rows) / 2 : \(p.h)) - y0 / 2);")
                }
            }
            w.line("}")
        } }
        let described = layout.levels.map { l -> String in
            let node = graph.nodes[l.node]
            var s = " * \(node.name): \(node.op.mnemonic) -> \(node.shape)"
            if case .conv = node.op { s += ", panel \(l.planes) x \(l.rows) x \(l.pw) (its input rows from y0 - \(l.inputHalo))" }
            if node.fusion == .streamed { s += ", streamed into \(graph.nodes[users[l.node][0]].name)" }
            return s
        } + pools(driver).map { " * \(graph.nodes[$0].name): maxpool2x2 -> \(graph.nodes[$0].shape), from each band's rows" }
        let params = sources.indices.map { "const float *in\($0), " }.joined() + (banded(driver) ? "" : "float *out, ")
            + pools(driver).indices.map { "float *pool\($0), " }.joined()
        let args = sources.indices.map { "in\($0), " }.joined() + (banded(driver) ? "" : "out, ")
            + pools(driver).indices.map { "pool\($0), " }.joined()
        let body = w.text.hasSuffix("\n") ? String(w.text.dropLast()) : w.text
        return Template.render("group.c", [
            "CHAIN": layout.levels.map { graph.nodes[$0.node].name }.joined(separator: ", "),
            "DRIVER": d.name, "RB": rb, "LEVELS": described.joined(separator: "\n"),
            "SCRATCH_FLOATS": layout.floats, "PANEL_FLOATS": layout.panelFloats, "FN": fnNames[driver]!,
            "PARAMS": params, "ARGS": args, "N": d.shape.n, "H": h, "STEPS": body,
            "SLOTS": groupSlots(driver), "SLOT_FLOATS": groupSlotFloats(driver)])
    }

    /// The C declaring a and b: the rows [a, b) of a window reaching `halo` rows past the band
    /// [y0, y0 + rb) that this band computes: the whole window on a run's first band (y0 == ys),
    /// else the rows past the ones the roll kept; the run ends at ye.
    func newWindowRows(halo: Int, rb: Int) -> String {
        "ptrdiff_t a = (ptrdiff_t)y0 + (y0 == ys ? -\(halo) : \(halo)), b = (ptrdiff_t)(ye - y0 < \(rb) ? ye : y0 + \(rb)) + \(halo);"
    }

    /// Declares a and b, the new rows [a, b) of `level`'s input window in this band; rolls the
    /// window's kept rows to the top (later bands) and packs the level's stored inputs there.
    func fillPanel(_ w: inout CWriter, _ level: GroupLevel, rb: Int, sourceName: (Int, Int) -> String?) {
        let hh = level.inputHalo
        w.line(newWindowRows(halo: hh, rb: rb))
        if hh > 0 {
            w.line("if (y0 > ys) {")
            w.indented { w in w.line("unet_roll(scratch + \(level.offset), \(level.planes), \(level.plane), \(level.pw), \(rb), \(2 * hh));") }
            w.line("}")
        }
        let packs = packSources(graph.nodes[level.node], plane: level.plane, pw: level.pw, pad: level.pad,
                                panel: "scratch + \(level.offset) + (size_t)(a - (ptrdiff_t)y0 + \(hh)) * \(level.pw)",
                                rows: "(size_t)(b - a)", y: "a", nowait: true) { sourceName(level.node, $0) }
        for line in packs.split(separator: "\n") { w.line(line.trimmingCharacters(in: .whitespaces)) }
        if packs.isEmpty { w.line("(void)a; (void)b;") }
    }

    func channelOffset(of producer: Int, in consumer: Int) -> Int {
        let inputs = graph.nodes[consumer].inputs
        return inputs[..<inputs.firstIndex(of: producer)!].reduce(0) { $0 + graph.nodes[$1].shape.c }
    }

    func tvArgument(_ i: Int, _ layout: GroupLayout) -> String {
        tilings[graph.nodes[i].name]!.algorithm == .winograd ? ", scratch + \(layout.tv)" : ""
    }
}
