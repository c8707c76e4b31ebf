// `unetc tune`: searches every conv's tiling on this machine.
//
// The reference interpreter runs once on a random input, keeping every layer's value. Then, in
// rounds until the budget is spent: every layer still searching takes its next candidate, and
// one program with all of them (the challenger) runs interleaved with one of every layer's best
// so far (the incumbent), each layer timed on its own through the UNET_TRACE hook, so that one
// compile measures a candidate of every layer. A candidate whose layer output differs from the
// interpreter's is rejected; one that is right replaces the incumbent only when its median beats
// the incumbent's, in the same run, by more than `minGain`. Last, the tuned model runs
// interleaved against the default: a layer that no longer clearly wins goes back to its
// default, and a tuned model slower than the default by more than the noise is dropped.

import Foundation

public struct TuneOptions {
    /// Seconds from the start until no new round starts (the final check is planned into it).
    public var budget: Double = 600
    /// OMP_NUM_THREADS for the timed runs (nil: OpenMP's default).
    public var threads: Int?
    /// Timed runs of each program per round, and in the final check.
    public var repetitions = 5
    public var finalRepetitions = 9
    /// Untimed runs of each program before the timed ones.
    public var warmups = 1
    public var vectorWidth = 16
    /// Vector registers (`GeneratorOptions.vectorRegisters`): the tiles tried fit them.
    public var vectorRegisters = 32
    /// The algorithm and Winograd output tile of the defaults, as `generate` takes them: the
    /// defaults are what `generate` gives with these and no tuning file. With `.direct` only
    /// direct tilings are searched (the tighter error bound stays); else both algorithms'.
    public var algorithm = AlgorithmChoice.auto
    public var winogradTile = 0
    /// C compiler (nil: the first that builds OpenMP) and its flags.
    public var cc: String?
    public var flags = Toolchain.defaultFlags
    /// The tune cache's path; nil for none.
    public var cachePath: String?
    /// How much faster than the incumbent (a fraction of its median) a candidate must be.
    public var minGain = 0.03
    /// Seed of the random input.
    public var seed: UInt64 = 1
    /// Where progress goes: `.status` lines replace each other, `.note` lines stay.
    public var log: (TuneMessage) -> Void = { _ in }
    /// Asked between rounds: true stops the search (the results so far are kept).
    public var shouldStop: () -> Bool = { Interruption.requested }
    /// Tests: makes the check see a wrong output for (layer, tiling).
    var corrupt: ((String, LayerTiling) -> Bool)?

    public init() {}
}

public enum TuneMessage: Sendable, Equatable {
    /// A progress line, replaced by the next.
    case status(String)
    /// A line to keep.
    case note(String)
}

/// One row of the report.
public struct TuneRow: Sendable {
    public var name: String
    public var op: String
    public var shape: Shape
    public var defaultTiling: LayerTiling
    public var tunedTiling: LayerTiling
    public var defaultTime: RobustTime
    public var tunedTime: RobustTime
    public var speedup: Double { tunedTime.median > 0 ? defaultTime.median / tunedTime.median : 1 }
}

/// A candidate measured (and found right) in this run.
public struct MeasuredCandidate: Sendable {
    public var layer: TuneLayer
    public var tiling: LayerTiling
}

public struct TuneResult: Sendable {
    public var file: TuningFile
    /// Every tuned layer, in order.
    public var rows: [TuneRow]
    /// The untuned layers (pooling, copies) together, median seconds.
    public var otherDefault: Double
    public var otherTuned: Double
    public var modelDefault: RobustTime
    public var modelTuned: RobustTime
    public var modelSpeedup: Double { modelTuned.median > 0 ? modelDefault.median / modelTuned.median : 1 }
    public var rounds: Int
    /// Candidates measured in this run (cached ones not counted).
    public var candidatesTried: Int
    /// Those candidates.
    public var measured: [MeasuredCandidate]
    public var rejected: Int
    public var interrupted: Bool
    public var seconds: Double
    public var compiler: String
}

public final class Tuner {
    let weights: ModelWeights
    let options: TuneOptions
    let plain: Graph
    let graph: Graph
    let layers: [TuneLayer]
    let input: Tensor
    let start = Date()

    /// One layer's search.
    struct Search {
        var layer: TuneLayer
        var incumbent: LayerTiling
        var incumbentSeconds: Double?
        var defaultSeconds: Double?
        var queue: [LayerTiling]
        /// The tile shapes ranked lower, tried when the refinements run out.
        var extra: [LayerTiling] = []
        var refining = false
        var tried: Set<LayerTiling>
        var retried: Set<LayerTiling> = []
        var done = false
        var triedHere = 0
        var cacheEntry = TuneCacheEntry()

        /// The next candidate not tried yet; nil when the layer is done.
        mutating func next() -> LayerTiling? {
            while !done {
                while !queue.isEmpty {
                    let c = queue.removeFirst()
                    if !tried.contains(TuneSpace.normalize(c, for: layer)) { return c }
                }
                let more = TuneSpace.refinements(of: incumbent, for: layer).filter { !tried.contains($0) }
                if !more.isEmpty {
                    refining = true; queue = more
                } else if !extra.isEmpty {
                    refining = false; queue = extra; extra = []
                } else {
                    done = true
                }
            }
            return nil
        }
    }

    public init(weights: ModelWeights, batch: Int, height: Int, width: Int, options: TuneOptions) throws {
        self.weights = weights
        self.options = options
        plain = try weights.config.build(batch: batch, height: height, width: width)
        graph = try Pipeline.run(plain)
        // The defaults: the tilings of the program `generate` writes without a tuning file.
        var generator = GeneratorOptions()
        generator.vectorWidth = options.vectorWidth
        generator.vectorRegisters = options.vectorRegisters
        generator.algorithm = options.algorithm
        generator.winogradTile = options.winogradTile
        generator.externalWeights = true
        let defaults = try Generator.lower(graph, weights: weights, options: generator).tilings
        layers = TuneLayer.all(in: graph, vectorWidth: options.vectorWidth, registers: options.vectorRegisters,
                               defaults: defaults)
        input = Verifier.randomInput(plain.input.shape, seed: options.seed)
        guard options.repetitions >= 1, options.finalRepetitions >= 1, options.warmups >= 0 else {
            throw ToolError("repetitions must be at least 1")
        }
    }

    var elapsed: Double { Date().timeIntervalSince(start) }
    var deadline: Double { options.budget }

    // MARK: Checking

    struct Reference {
        var values: [Float]
        var tolerance: Double
    }

    enum Check: Equatable {
        case ok
        /// Its output differs though its inputs were right.
        case wrong(Double)
        /// An input was wrong: its own output cannot be judged.
        case tainted
    }

    /// The interpreter's value of every traced layer, with its tolerance.
    func references() throws -> [String: Reference] {
        var wanted: [Int: String] = [:]
        for node in graph.nodes where Self.traced(node) {
            if let r = Verifier.referenceNode(for: node.name, optimised: graph, plain: plain) { wanted[r] = node.name }
        }
        let values = try Interpreter.run(plain, weights: weights, input: input, keep: { wanted[$0] != nil })
        var out: [String: Reference] = [:]
        for (i, name) in wanted {
            guard let v = values[i] else { continue }
            let peak = v.data.reduce(0.0) { max($0, abs(Double($1))) }
            out[name] = Reference(values: v.data, tolerance: 1e-4 * max(1, peak))
        }
        return out
    }

    static func traced(_ node: Node) -> Bool {
        switch node.op {
        case .input, .output, .view: return false
        default: return true
        }
    }

    /// Judges every traced layer of one run against the interpreter, in graph order: a layer
    /// whose input was wrong is tainted, not wrong.
    func check(_ trace: [(String, [Float])], references: [String: Reference],
               corrupt: (String) -> Bool = { _ in false }) -> [String: Check] {
        let data = Dictionary(trace.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        var byIndex: [Int: Check] = [:]
        var out: [String: Check] = [:]
        func status(_ i: Int) -> Check {
            let node = graph.nodes[i]
            if node.op == .input { return .ok }
            if node.op.isView { return status(node.inputs[0]) }
            return byIndex[i] ?? .tainted
        }
        for (i, node) in graph.nodes.enumerated() where Self.traced(node) {
            let c: Check
            if node.inputs.contains(where: { status($0) != .ok }) {
                c = .tainted
            } else if var values = data[node.name], let ref = references[node.name], values.count == ref.values.count {
                if corrupt(node.name), !values.isEmpty { values[0] += 1 }
                let e = ErrorStats(values, ref.values).maxAbs
                c = e <= ref.tolerance ? .ok : .wrong(e.isNaN ? .infinity : e)
            } else {
                c = .wrong(.infinity)
            }
            byIndex[i] = c
            out[node.name] = c
        }
        return out
    }

    // MARK: The search

    public func run() throws -> TuneResult {
        let log = options.log
        let flags = options.flags
        let cc = try options.cc ?? Toolchain.findCompiler(flags: flags)
        let compiler = Self.describe(compiler: cc)
        let machine = TuningFile.thisMachine()
        let environment = TuneCache.environmentKey(machine: machine, compiler: compiler, flags: flags,
                                                   vectorWidth: options.vectorWidth, registers: options.vectorRegisters,
                                                   threads: options.threads)
        var cache = TuneCache()
        if let path = options.cachePath { cache = try TuneCache.read(path: path) }
        let cached = cache.environments[environment] ?? [:]

        log(.note("tuning \(layers.count) layers of U-Net \(weights.config) at \(plain.input.shape) on \(machine), \(compiler) \(flags.joined(separator: " ")), threads \(options.threads.map(String.init) ?? "default"), against the defaults of --algorithm \(options.algorithm.rawValue), budget \(TuneDuration.format(options.budget))"))
        log(.status("running the reference interpreter"))
        let t0 = Date()
        let refs = try references()
        log(.note(String(format: "reference interpreter: %.1f s", Date().timeIntervalSince(t0))))

        var searches = layers.map { layer -> Search in
            let d = layer.defaultTiling
            let shapes = TuneSpace.shapes(for: layer, vectorWidth: options.vectorWidth, registers: options.vectorRegisters,
                                          limit: nil, winograd: options.algorithm != .direct)
            var s = Search(layer: layer, incumbent: d, queue: Array(shapes.prefix(TuneSpace.maxShapes)),
                           tried: [TuneSpace.normalize(d, for: layer)])
            s.extra = Array(shapes.dropFirst(TuneSpace.maxShapes))
            if let entry = cached[layer.key] {
                for t in entry.trials { s.tried.insert(TuneSpace.normalize(t.tiling, for: layer)) }
                if let b = entry.best, options.algorithm != .direct || b.algorithm == .direct,
                   (try? Tiling.validate(b, for: graph.nodes[layer.index])) != nil {
                    s.incumbent = b
                    s.tried.insert(TuneSpace.normalize(b, for: layer))
                }
            }
            return s
        }
        let resumed = searches.filter { cached[$0.layer.key] != nil }.count
        if resumed > 0 {
            let n = searches.reduce(0) { $0 + (cached[$1.layer.key]?.trials.count ?? 0) }
            log(.note("cache \(options.cachePath ?? ""): \(n) candidates of \(resumed) layers measured before; resuming from their best"))
        }

        let bench = try TuneBench(graph: graph, weights: weights, input: input, vectorWidth: options.vectorWidth,
                                  vectorRegisters: options.vectorRegisters,
                                  cc: cc, flags: flags, threads: options.threads)
        var rounds = 0, triedTotal = 0, rejected = 0, failures = 0
        var measured: [MeasuredCandidate] = []
        var solo: [(Int, LayerTiling)] = []
        var firstTotal: Double?, modelEstimate: Double?
        var roundSeconds = 0.0, runSeconds = 0.0
        var interrupted = false
        var cacheWarned = false

        func saveCache(_ touched: [Int]) {
            guard let path = options.cachePath, !touched.isEmpty else { return }
            var entries: [String: TuneCacheEntry] = [:]
            for i in touched {
                var e = searches[i].cacheEntry
                e.best = searches[i].incumbent
                if var prev = entries[searches[i].layer.key] {
                    for t in e.trials { prev.record(t) }
                    prev.best = e.best
                    e = prev
                }
                entries[searches[i].layer.key] = e
            }
            do { try TuneCache.merge(entries, environment: environment, into: path) } catch {
                if !cacheWarned { log(.note("warning: cannot write the tune cache: \(error)")) }
                cacheWarned = true
            }
        }
        func finalEstimate() -> Double {
            // Two checks.
            2 * (Double(2 * (options.finalRepetitions + options.warmups) + 1) * runSeconds * 1.1 + 2 * bench.compileSeconds + 1)
        }

        while true {
            if options.shouldStop() { interrupted = true; break }
            if rounds > 0 && elapsed + roundSeconds + finalEstimate() > deadline { break }
            // The candidates of this round: one solo candidate after a failure, else the next of
            // every layer.
            var candidates: [Int: LayerTiling] = [:]
            let isSolo = !solo.isEmpty
            if isSolo {
                let (i, t) = solo.removeFirst()
                candidates[i] = t
            } else {
                for i in searches.indices { if let c = searches[i].next() { candidates[i] = c } }
            }
            if candidates.isEmpty { log(.note("every candidate tried")); break }
            rounds += 1
            let roundStart = Date()
            let incumbents = Dictionary(uniqueKeysWithValues: searches.map { ($0.layer.name, $0.incumbent) })
            var challengers = incumbents
            for (i, c) in candidates { challengers[searches[i].layer.name] = c }

            // The incumbents were all checked: a failure to build or run them is an error.
            let a = try bench.variant(incumbents, slot: 0)
            let times: [VariantTimes]
            do {
                let b = try bench.variant(challengers, slot: 1)
                times = try bench.measure(a, b, reps: options.repetitions, warmups: options.warmups,
                                          trace: rounds == 1 ? [0, 1] : [1])
                failures = 0
            } catch {
                failures += 1
                if isSolo || candidates.count == 1 {
                    for (i, c) in candidates {
                        searches[i].tried.insert(TuneSpace.normalize(c, for: searches[i].layer))
                        searches[i].cacheEntry.record(TuneTrial(tiling: c, status: .failed))
                        log(.note("rejected \(searches[i].layer.name) \(c): \(Self.firstLine(error))"))
                        rejected += 1
                    }
                    saveCache(Array(candidates.keys))
                } else {
                    log(.note("round \(rounds) failed (\(Self.firstLine(error))); trying its \(candidates.count) candidates one by one"))
                    solo += candidates.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
                }
                if failures >= 8 { log(.note("stopping: \(failures) failed rounds in a row")); break }
                continue
            }
            let (base, chal) = (times[0], times[1])
            runSeconds = max(base.total.median, chal.total.median)

            if rounds == 1, let trace = base.trace {
                for (name, c) in check(trace, references: refs) {
                    if case .wrong(let e) = c {
                        log(.note("warning: \(name) with its incumbent tiling differs from the interpreter by \(String(format: "%.3g", e)): a generator bug"))
                    }
                }
                firstTotal = base.total.median
            }
            let candidateNames = Set(candidates.keys.map { searches[$0].layer.name })
            let checks = check(chal.trace ?? [], references: refs) { name in
                guard let corrupt = self.options.corrupt, candidateNames.contains(name) else { return false }
                return corrupt(name, challengers[name]!)
            }

            var estimate = base.total.median
            var touched: [Int] = []
            for i in searches.indices {
                let name = searches[i].layer.name
                let b = base.layer(name)
                if let b = b { searches[i].incumbentSeconds = b.median }
                if searches[i].incumbent == searches[i].layer.defaultTiling, let b = b, searches[i].defaultSeconds == nil {
                    searches[i].defaultSeconds = b.median
                }
                guard let c = candidates[i] else { continue }
                touched.append(i)
                let normal = TuneSpace.normalize(c, for: searches[i].layer)
                switch checks[name] ?? .wrong(.infinity) {
                case .tainted where !searches[i].retried.contains(normal):
                    // Judged again in a later round.
                    searches[i].retried.insert(normal)
                    if isSolo { solo.append((i, c)) } else { searches[i].queue.append(c) }
                    continue
                case .tainted:
                    searches[i].tried.insert(normal)
                    searches[i].cacheEntry.record(TuneTrial(tiling: c, status: .failed))
                    rejected += 1
                    log(.note("rejected \(name) \(c): could not be checked (an earlier layer was wrong twice)"))
                case .wrong(let e):
                    searches[i].tried.insert(normal)
                    searches[i].cacheEntry.record(TuneTrial(tiling: c, status: .wrong))
                    rejected += 1
                    log(.note("rejected \(name) \(c): differs from the interpreter by \(String(format: "%.3g", e))"))
                case .ok:
                    searches[i].tried.insert(normal)
                    searches[i].triedHere += 1
                    triedTotal += 1
                    measured.append(MeasuredCandidate(layer: searches[i].layer, tiling: c))
                    guard let b = b, let t = chal.layer(name) else { continue }
                    searches[i].cacheEntry.record(TuneTrial(tiling: c, status: .ok, seconds: t.median,
                                                            baseline: searches[i].incumbent, baselineSeconds: b.median))
                    if let cmp = base.compare(chal, name), cmp.clearlyFaster(minGain: options.minGain) {
                        log(.note("  \(name): \(c) " + String(format: "%.3f ms -> %.3f ms (%.2fx)", b.median * 1e3, t.median * 1e3, b.median / t.median)))
                        searches[i].incumbent = c
                        searches[i].incumbentSeconds = t.median
                        estimate -= b.median - t.median
                    }
                }
            }
            modelEstimate = estimate
            saveCache(touched)
            roundSeconds = Date().timeIntervalSince(roundStart)

            // The progress line: the costliest layer still searching.
            let shown = searches.indices.filter { candidates[$0] != nil }
                .max { (searches[$0].incumbentSeconds ?? 0) < (searches[$1].incumbentSeconds ?? 0) }
            var line = "round \(rounds), \(triedTotal) candidates tried"
            if let i = shown {
                let s = searches[i]
                let total = s.triedHere + s.queue.count + s.extra.count
                line += " | \(s.layer.name) \(s.triedHere)/\(total)\(s.refining ? "+" : ""): best \(s.incumbent)"
                if let t = s.incumbentSeconds { line += String(format: " %.3f ms", t * 1e3) }
                if let d = s.defaultSeconds { line += String(format: " (default %.3f)", d * 1e3) }
            }
            if let m = modelEstimate {
                line += String(format: " | model %.2f ms", m * 1e3)
                if let f = firstTotal { line += String(format: " (at start %.2f)", f * 1e3) }
            }
            line += " | \(TuneDuration.format(max(0, deadline - elapsed))) left"
            log(.status(line))
        }
        if interrupted { log(.note("interrupted: keeping what was measured; checking the tuned model against the default (Ctrl-C again to abandon)")) }

        // MARK: The final check

        let defaults = Dictionary(uniqueKeysWithValues: layers.map { ($0.name, $0.defaultTiling) })
        var tuned = Dictionary(uniqueKeysWithValues: searches.map { ($0.layer.name, $0.incumbent) })
        // Up to three checks, each sending back to its default every layer that does not win
        // clearly; then one more measurement if the last one changed the model.
        var final: [VariantTimes] = []
        var checks = 0
        while true {
            let n = tuned.filter { $0.value != defaults[$0.key] }.count
            log(.status("final check\(checks > 0 ? " again" : ""): the default against \(n) tuned layers, interleaved, \(options.finalRepetitions) runs each"))
            final = try finalMeasure(bench, defaults: defaults, tuned: &tuned, references: refs)
            checks += 1
            if tuned == defaults || checks == 4 { break }
            var reverted: [String] = []
            for layer in layers where tuned[layer.name] != defaults[layer.name] {
                guard let cmp = final[0].compare(final[1], layer.name), !cmp.clearlyFaster(minGain: options.minGain) else { continue }
                tuned[layer.name] = defaults[layer.name]
                reverted.append("\(layer.name) \(String(format: "%.2fx", 1 / cmp.ratio))")
            }
            if reverted.isEmpty { break }
            log(.note("final check: back to the default for \(reverted.count) layer\(reverted.count == 1 ? "" : "s") that did not win clearly: \(reverted.joined(separator: ", "))"))
            if tuned == defaults { break }
        }
        if tuned == defaults {
            final[1] = final[0]
        } else if let whole = final[0].compare(final[1], nil), whole.slowerThanNoise() {
            log(.note(String(format: "final check: the tuned model took %.2f ms, the default %.2f ms (%.3fx): keeping the default",
                             final[1].total.median * 1e3, final[0].total.median * 1e3, whole.ratio)))
            tuned = defaults
            final[1] = final[0]
        }

        // MARK: The result

        var rows: [TuneRow] = []
        var layerMeasurements: [String: LayerMeasurement] = [:]
        for layer in layers {
            guard let d = final[0].layer(layer.name), let t = final[1].layer(layer.name) else { continue }
            rows.append(TuneRow(name: layer.name, op: layer.op.mnemonic, shape: layer.shape, defaultTiling: layer.defaultTiling,
                                tunedTiling: tuned[layer.name]!, defaultTime: d, tunedTime: t))
            layerMeasurements[layer.name] = LayerMeasurement(defaultTiling: layer.defaultTiling, defaultMs: Self.round(d.median * 1e3), tunedMs: Self.round(t.median * 1e3))
        }
        let tunedNames = Set(layers.map(\.name))
        func other(_ v: VariantTimes) -> Double {
            v.names.indices.filter { !tunedNames.contains(v.names[$0]) }.reduce(0) { $0 + RobustTime(v.samples[$1]).median }
        }
        var file = TuningFile(machine: machine, compiler: compiler, flags: flags, vectorWidth: options.vectorWidth, tiling: tuned)
        file.threads = options.threads
        file.input = "\(plain.input.shape)"
        file.model = "\(weights.config)"
        file.measured = TuningMeasurements(defaultMs: Self.round(final[0].total.median * 1e3), tunedMs: Self.round(final[1].total.median * 1e3),
                                           layers: layerMeasurements)
        return TuneResult(file: file, rows: rows, otherDefault: other(final[0]), otherTuned: other(final[1]),
                          modelDefault: final[0].total, modelTuned: final[1].total, rounds: rounds,
                          candidatesTried: triedTotal, measured: measured, rejected: rejected, interrupted: interrupted,
                          seconds: elapsed, compiler: compiler)
    }

    /// Runs the default and `tuned` interleaved and checks the tuned program end to end; a
    /// layer that is wrong in it (never expected: every candidate was checked) goes back to its
    /// default, and the check runs again.
    func finalMeasure(_ bench: TuneBench, defaults: [String: LayerTiling], tuned: inout [String: LayerTiling],
                      references: [String: Reference]) throws -> [VariantTimes] {
        while true {
            let a = try bench.variant(defaults, slot: 0)
            let b = try bench.variant(tuned, slot: 1)
            let times = try bench.measure(a, b, reps: options.finalRepetitions, warmups: options.warmups, trace: [1])
            let checks = check(times[1].trace ?? [], references: references)
            let bad = layers.filter { checks[$0.name] != .ok && tuned[$0.name] != defaults[$0.name] }
            if bad.isEmpty || tuned == defaults { return times }
            options.log(.note("final check: \(bad.map(\.name).joined(separator: ", ")) wrong in the tuned model; back to the default"))
            for l in bad { tuned[l.name] = defaults[l.name] }
        }
    }

    static func describe(compiler cc: String) -> String {
        guard let r = try? Toolchain.run(cc, ["--version"]), r.status == 0,
              let first = r.output.split(separator: "\n").first else { return cc }
        return "\(cc) (\(first.trimmingCharacters(in: .whitespaces)))"
    }

    /// Milliseconds to the nanosecond, so that the JSON reads 0.20784, not 0.20784000000000002.
    static func round(_ ms: Double) -> Double { (ms * 1e6).rounded() / 1e6 }

    static func firstLine(_ error: Error) -> String {
        let text = "\(error)"
        let lines = text.split(separator: "\n")
        return lines.count > 1 ? "\(lines[0]) \(lines[1].trimmingCharacters(in: .whitespaces))" : text
    }
}
