// `unetc tune`: the search space, the statistics, the checks, and real searches on the tiny
// fixture with a tiny budget (one round each) whose tuning.json `generate` accepts and verifies.

import Foundation
import XCTest
@testable import UNetC

final class TuneTests: XCTestCase {
    /// Options for a quick search: one round (the first always runs), few repetitions.
    func quickOptions(cache: String?) throws -> TuneOptions {
        var o = TuneOptions()
        o.cc = try TestToolchain.compiler()
        o.budget = 0.5
        o.repetitions = 2
        o.finalRepetitions = 3
        o.cachePath = cache
        o.shouldStop = { false }
        return o
    }

    func tinyTuner(_ options: TuneOptions) throws -> Tuner {
        let f = try Fixture.load("tiny")
        return try Tuner(weights: f.weights, batch: 1, height: 32, width: 32, options: options)
    }

    // MARK: Pieces

    func testDurations() throws {
        let cases: [(String, Double)] = [("10m", 600), ("90s", 90), ("1h", 3600), ("1h30m", 5400), ("2.5m", 150), ("45", 45), (" 5M ", 300)]
        for (text, seconds) in cases { XCTAssertEqual(try TuneDuration.parse(text), seconds, accuracy: 1e-9, text) }
        for bad in ["", "m", "10x", "-5s", "0s", "1h5", "1..5m"] {
            XCTAssertThrowsError(try TuneDuration.parse(bad), "'\(bad)'")
        }
        XCTAssertEqual(TuneDuration.format(245), "4m05s")
        XCTAssertEqual(TuneDuration.format(12), "12s")
        XCTAssertEqual(TuneDuration.format(3720), "1h02m")
    }

    func testRobustTimeRejectsOutliers() {
        let t = RobustTime([1.0, 1.1, 0.9, 1.05, 50])
        XCTAssertEqual(t.kept, 4)
        XCTAssertEqual(t.samples, 5)
        XCTAssertEqual(t.median, 1.025, accuracy: 1e-12)
        XCTAssertEqual(RobustTime([2, 2, 2]).median, 2)
        XCTAssertEqual(RobustTime([3]).spread, 0)
    }

    func testPairedComparison() {
        // The machine slows down half way; the candidate is 10% faster in every pair.
        let base = [1.0, 1.0, 2.0, 2.0, 2.0], cand = base.map { $0 * 0.9 }
        let c = PairedComparison(baseline: base, candidate: cand)
        XCTAssertEqual(c.ratio, 0.9, accuracy: 1e-12)
        XCTAssertEqual(c.wins, 5)
        XCTAssertTrue(c.clearlyFaster(minGain: 0.03))
        XCTAssertFalse(c.slowerThanNoise())
        // 2% is within the 3% a candidate must win by; losing in 2 of 5 pairs is not clear.
        XCTAssertFalse(PairedComparison(baseline: base, candidate: base.map { $0 * 0.98 }).clearlyFaster(minGain: 0.03))
        XCTAssertFalse(PairedComparison(baseline: base, candidate: [0.8, 0.8, 1.6, 2.1, 2.1]).clearlyFaster(minGain: 0.03))
        XCTAssertTrue(PairedComparison(baseline: base, candidate: base.map { $0 * 1.1 }).slowerThanNoise())
    }

    func testInterruptionFlag() {
        Interruption.reset()
        Interruption.install()
        XCTAssertFalse(Interruption.requested)
        raise(SIGINT)
        XCTAssertTrue(Interruption.requested)
        Interruption.reset()
        signal(SIGINT, SIG_DFL)
    }

    /// Every candidate is a valid tiling, fits the registers, and none repeats.
    func testCandidatesAreValidAndDistinct() throws {
        let tiny = try Fixture.load("tiny").weights.config
        for (config, size) in [(tiny, 32), (UNetConfig.classic, 256), (UNetConfig.classic, 100)] {
            let graph = try Pipeline.run(try config.build(batch: 1, height: size, width: size))
            for (v, registers) in [(4, 32), (8, 32), (16, 32), (4, 16), (8, 16)] {
                let maxAccumulators = TuneSpace.maxAccumulators(registers: registers)
                let layers = TuneLayer.all(in: graph, vectorWidth: v, registers: registers)
                XCTAssertEqual(layers.count, graph.nodes.filter { $0.op.hasWeights }.count)
                for layer in layers {
                    let node = graph.nodes[layer.index]
                    let shapes = TuneSpace.shapes(for: layer, vectorWidth: v, registers: registers)
                    XCTAssertFalse(shapes.isEmpty, "\(layer.name) v \(v)")
                    XCTAssertLessThanOrEqual(shapes.count, TuneSpace.maxShapes)
                    let all = TuneSpace.shapes(for: layer, vectorWidth: v, registers: registers, limit: nil)
                    XCTAssertEqual(Array(all.prefix(shapes.count)), shapes)
                    // `tune --algorithm direct`: the same direct candidates in the same order, no others.
                    XCTAssertEqual(TuneSpace.shapes(for: layer, vectorWidth: v, registers: registers, limit: nil, winograd: false),
                                   all.filter { $0.algorithm == .direct }, layer.name)
                    XCTAssertLessThanOrEqual(all.count, 100)
                    let refined = all.flatMap { TuneSpace.refinements(of: $0, for: layer) }
                    XCTAssertEqual(all.first, TuneSpace.normalize(layer.directDefault, for: layer))
                    if Tiling.winogradApplies(node) {
                        XCTAssertTrue(layer.winogradApplies)
                        XCTAssertEqual(Set(all.filter { $0.algorithm == .winograd }.map(\.nr)), [2, 4], layer.name)
                        XCTAssertTrue(shapes.contains { $0.algorithm == .winograd }, layer.name)
                    } else {
                        XCTAssertFalse(all.contains { $0.algorithm == .winograd }, layer.name)
                    }
                    for t in all + refined {
                        XCTAssertNoThrow(try Tiling.validate(t, for: node), "\(layer.name): \(t)")
                        XCTAssertEqual(TuneSpace.normalize(t, for: layer), t, "\(layer.name): \(t) is not normal")
                        if t.algorithm == .winograd {
                            XCTAssertLessThanOrEqual(t.r * t.nv, maxAccumulators, "\(layer.name): \(t)")
                            XCTAssertLessThanOrEqual(t.r * t.nv + t.nv + 1, registers, "\(layer.name): \(t)")
                            XCTAssertEqual(t.kc, 0)
                            XCTAssertEqual(t.rb % t.nr, 0, "\(layer.name): \(t)")
                            continue
                        }
                        // Vectors of a row's columns, or of the map's pixels for flat tiles.
                        let columns = !t.flat ? layer.inW
                            : layer.isConv ? layer.shape.h * (layer.shape.w + 2 * layer.padding) : layer.inH * layer.inW
                        XCTAssertLessThanOrEqual(t.nv, max(1, (columns + v - 1) / v), "\(layer.name): \(t)")
                        XCTAssertTrue(!t.flat || t.nr == 1 && (layer.padding > 0 || !layer.isConv), "\(layer.name): \(t)")
                        if layer.isConv {
                            XCTAssertLessThanOrEqual(t.r * t.nr * t.nv, maxAccumulators, "\(layer.name): \(t)")
                            XCTAssertLessThanOrEqual(t.r * t.nr * t.nv + t.nr * t.nv + 1, registers, "\(layer.name): \(t)")
                        } else {
                            let taps = t.splitRows ? 2 : 4
                            XCTAssertLessThanOrEqual(taps * t.r * t.nv, maxAccumulators, "\(layer.name): \(t)")
                            XCTAssertLessThanOrEqual(taps * t.r * t.nv + t.nv + 1, registers, "\(layer.name): \(t)")
                            XCTAssertEqual(t.nr, 1)
                        }
                    }
                    XCTAssertEqual(Set(all).count, all.count, "\(layer.name): repeated candidates")
                    for t in all { XCTAssertFalse(TuneSpace.refinements(of: t, for: layer).contains(t)) }
                }
            }
        }
    }

    /// A layer whose output is wrong is wrong; the layers after it cannot be judged (tainted);
    /// the layers before it are right.
    func testCheckTellsWrongFromTainted() throws {
        let tuner = try tinyTuner(try quickOptions(cache: nil))
        let refs = try tuner.references()
        let names = tuner.graph.nodes.filter(Tuner.traced).map(\.name)
        XCTAssertEqual(Set(refs.keys), Set(names))
        let trace = names.map { ($0, refs[$0]!.values) }
        XCTAssertTrue(tuner.check(trace, references: refs).values.allSatisfy { $0 == .ok })

        let bad = "down_conv.2.first"
        let checks = tuner.check(trace, references: refs) { $0 == bad }
        guard case .wrong = checks[bad] else { return XCTFail("\(bad): \(String(describing: checks[bad]))") }
        let at = names.firstIndex(of: bad)!
        for name in names[..<at] { XCTAssertEqual(checks[name], .ok, name) }
        for name in names[(at + 1)...] { XCTAssertEqual(checks[name], .tainted, name) }

        // A value within 1e-4 x max(1, max|ref|) passes; a missing layer is wrong.
        var close = trace
        close[0].1[0] += Float(refs[names[0]]!.tolerance / 2)
        XCTAssertEqual(tuner.check(close, references: refs)[names[0]], .ok)
        let missing = tuner.check(Array(trace.dropFirst()), references: refs)
        guard case .wrong = missing[names[0]] else { return XCTFail("missing layer: \(String(describing: missing[names[0]]))") }
    }

    // MARK: Searches

    /// The issue's test: a search on the tiny model with a tiny budget writes a tuning.json that
    /// generate accepts and that verifies; the report and the cache are written; a second run
    /// resumes from the cache without measuring anything twice.
    func testTinySearchWritesATuningThatGenerateAcceptsAndVerifies() throws {
        let dir = try makeTemporaryDirectory(self)
        let cachePath = dir + "/cache/tune-cache.json"
        var options = try quickOptions(cache: cachePath)
        var messages: [TuneMessage] = []
        options.log = { messages.append($0) }
        let tuner = try tinyTuner(options)
        let result = try tuner.run()

        XCTAssertEqual(result.rounds, 1)
        XCTAssertFalse(result.interrupted)
        XCTAssertGreaterThan(result.candidatesTried, 0)
        XCTAssertTrue(messages.contains { if case .status(let s) = $0 { return s.contains("round 1") && s.contains("left") } else { return false } },
                      "no progress line: \(messages)")
        let tuned = tuner.layers
        XCTAssertEqual(tuned.count, 23)
        // The defaults are generate's: Winograd where `auto` picks it (3x3 with Cin >= 32).
        XCTAssertEqual(tuned.first { $0.name == "middle_conv.second" }?.defaultTiling.algorithm, .winograd)
        XCTAssertEqual(tuned.first { $0.name == "down_conv.0.first" }?.defaultTiling.algorithm, .direct)
        XCTAssertEqual(Set(result.file.tiling.keys), Set(tuned.map(\.name)))
        XCTAssertEqual(result.rows.map(\.name), tuned.map(\.name))
        if result.file.tiling == Dictionary(uniqueKeysWithValues: tuned.map { ($0.name, $0.defaultTiling) }) {
            XCTAssertEqual(result.modelSpeedup, 1)
        }

        // tuning.json: versioned, with the machine, compiler and flags; read back as generate does.
        let path = dir + "/tuning.json"
        try result.file.write(path: path)
        let file = try TuningFile.read(path: path)
        XCTAssertEqual(file.version, TuningFile.currentVersion)
        XCTAssertEqual(file.machine, TuningFile.thisMachine())
        XCTAssertTrue(file.compiler.hasPrefix(options.cc!), file.compiler)
        XCTAssertEqual(file.flags, Toolchain.defaultFlags)
        XCTAssertEqual(file.vectorWidth, 16)
        XCTAssertEqual(file.input, "1x3x32x32")
        XCTAssertEqual(file.tiling, result.file.tiling)
        XCTAssertNotNil(file.measured)
        XCTAssertEqual(file.mismatches(vectorWidth: 16, input: Shape(n: 1, c: 3, h: 32, w: 32)), [])
        XCTAssertEqual(file.mismatches(vectorWidth: 16, input: Shape(n: 1, c: 3, h: 64, w: 32)).count, 1)

        let f = try Fixture.load("tiny")
        var verify = Verifier.Options()
        verify.cc = options.cc
        verify.layers = true
        verify.generator.tiling = file.tiling
        let report = try Verifier.verify(f.weights, input: f.input, reference: f.outputF64, options: verify)
        XCTAssertEqual(report.program.tilings, file.tiling)
        XCTAssertLessThan(report.vsInterpreter.maxAbs, 1e-4, "\(report.vsInterpreter)")
        XCTAssertLessThan(report.vsReference!.maxAbs, 5e-5, "\(report.vsReference!)")

        // The report: a table, CSV with a row per layer plus other and model, an SVG of bars.
        let table = result.table()
        XCTAssertTrue(table.contains("model"), table)
        for layer in tuned { XCTAssertTrue(table.contains(layer.name), layer.name) }
        try result.writeReport(to: dir + "/report")
        let csv = try String(contentsOfFile: dir + "/report/report.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.first, "layer,op,output_shape,default_tiling,tuned_tiling,default_ms,tuned_ms,speedup")
        XCTAssertEqual(csv.count, 1 + tuned.count + 2)
        XCTAssertTrue(csv.last!.hasPrefix("model,"))
        XCTAssertEqual(csv.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).count }, Array(repeating: 8, count: csv.count - 1))
        let svg = try String(contentsOfFile: dir + "/report/report.svg", encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<?xml") && svg.hasSuffix("</svg>\n"))
        XCTAssertEqual(svg.components(separatedBy: "<rect ").count - 1, 1 + 2 + 2 * tuned.count)

        // The cache: every layer shape, every candidate measured.
        let cache = try TuneCache.read(path: cachePath)
        XCTAssertEqual(cache.environments.count, 1)
        let entries = cache.environments.values.first!
        XCTAssertEqual(Set(entries.keys), Set(tuned.map(\.key)))
        var first: [String: Set<LayerTiling>] = [:]
        for (key, e) in entries { first[key] = Set(e.trials.map(\.tiling)) }
        XCTAssertEqual(first.values.reduce(0) { $0 + $1.count }, Set(result.measured.map { "\($0.layer.key) \($0.tiling)" }).count)

        // Resumed: the next round's candidates are new ones.
        let second = try tinyTuner(options).run()
        XCTAssertEqual(second.rounds, 1)
        XCTAssertFalse(second.measured.isEmpty)
        for m in second.measured {
            XCTAssertFalse(first[m.layer.key]!.contains(m.tiling), "\(m.layer.name) \(m.tiling) measured again")
        }
    }

    /// A candidate that computes wrong values is rejected and never chosen, though it may be fast.
    func testWrongCandidatesAreNeverChosen() throws {
        var options = try quickOptions(cache: nil)
        let victim = "down_conv.1.second"
        options.corrupt = { name, _ in name == victim }
        var notes: [String] = []
        options.log = { if case .note(let s) = $0 { notes.append(s) } }
        let tuner = try tinyTuner(options)
        let result = try tuner.run()
        XCTAssertGreaterThan(result.rejected, 0)
        XCTAssertTrue(notes.contains { $0.hasPrefix("rejected \(victim)") }, "\(notes)")
        let layer = tuner.layers.first { $0.name == victim }!
        XCTAssertEqual(result.file.tiling[victim], layer.defaultTiling)
        XCTAssertFalse(result.measured.contains { $0.layer.name == victim })
        // The layers after it were re-queued, not rejected.
        XCTAssertFalse(notes.contains { $0.hasPrefix("rejected") && !$0.hasPrefix("rejected \(victim)") }, "\(notes)")
    }

    /// Stopped before the first round (Ctrl-C): still a valid file, the defaults, measured.
    func testStopBeforeAnyRoundKeepsTheDefaults() throws {
        var options = try quickOptions(cache: nil)
        options.shouldStop = { true }
        let tuner = try tinyTuner(options)
        let result = try tuner.run()
        XCTAssertTrue(result.interrupted)
        XCTAssertEqual(result.rounds, 0)
        for layer in tuner.layers { XCTAssertEqual(result.file.tiling[layer.name], layer.defaultTiling) }
        XCTAssertEqual(result.modelSpeedup, 1)
        XCTAssertGreaterThan(result.modelDefault.median, 0)
    }

    /// The report's tilings say which kind of tile they are.
    func testReportNamesFlatAndWinogradTilings() {
        XCTAssertEqual(TuneResult.compact(LayerTiling(r: 6, nv: 4, rb: 5, nr: 1, kc: 64)), "6x1x4 rb5 kc64")
        XCTAssertEqual(TuneResult.compact(LayerTiling(r: 12, nv: 2, rb: 18, kc: 256, flat: true)), "flat 12x2 rb18 kc256")
        XCTAssertEqual(TuneResult.compact(LayerTiling(r: 8, nv: 3, rb: 16, nr: 4, algorithm: .winograd)), "F4 8x3 rb16")
    }

    func testTuningFileWithoutTheNewFieldsStillReads() throws {
        let dir = try makeTemporaryDirectory(self)
        let path = dir + "/old.json"
        try Array(#"{"version": 1, "machine": "m", "compiler": "cc", "flags": ["-O2"], "vectorWidth": 8, "tiling": {"a": {"r": 4, "nv": 2, "rb": 8}}}"#.utf8).write(to: path)
        let file = try TuningFile.read(path: path)
        XCTAssertNil(file.threads)
        XCTAssertNil(file.measured)
        XCTAssertEqual(file.tiling["a"], LayerTiling(r: 4, nv: 2, rb: 8))
        XCTAssertEqual(file.mismatches(vectorWidth: 8, input: Shape(n: 1, c: 3, h: 8, w: 8)).count, 1)   // the machine
    }

    /// `inspect --tiling --json` writes the tilings a program used as a tuning file: read back,
    /// it generates the same unet.c, so a user can start a hand-tuned file from it.
    func testProgramTilingsRoundTripThroughATuningFile() throws {
        let f = try Fixture.load("tiny")
        for algorithm in [AlgorithmChoice.direct, .auto] {
            var options = GeneratorOptions()
            options.algorithm = algorithm
            let program = try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options)
            XCTAssertEqual(Set(program.tilings.keys), Set(program.graph.nodes.filter {
                if case .conv = $0.op { return true }
                if case .convTranspose = $0.op { return true }
                return false
            }.map(\.name)))
            let text = try TuningFile(machine: TuningFile.thisMachine(), compiler: "", flags: [], vectorWidth: 16,
                                      tiling: program.tilings).json()
            let path = try makeTemporaryDirectory(self) + "/tiling.json"
            try Array(text.utf8).write(to: path)
            options.algorithm = .direct   // the file, not the option, decides
            options.tiling = try TuningFile.read(path: path).tiling
            let again = try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options)
            XCTAssertEqual(again.kernels + again.entry, program.kernels + program.entry, "\(algorithm)")
            XCTAssertEqual(again.weights, program.weights)
        }
    }

    func testCacheMergesAndRejectsOtherFiles() throws {
        let dir = try makeTemporaryDirectory(self)
        let path = dir + "/c.json"
        let a = LayerTiling(r: 4, nv: 1, rb: 2), b = LayerTiling(r: 8, nv: 1, rb: 2)
        try TuneCache.merge(["k": TuneCacheEntry(best: a, trials: [TuneTrial(tiling: a, status: .ok, seconds: 1)])], environment: "e", into: path)
        try TuneCache.merge(["k": TuneCacheEntry(best: b, trials: [TuneTrial(tiling: b, status: .wrong), TuneTrial(tiling: a, status: .ok, seconds: 2)])],
                            environment: "e", into: path)
        let entry = try TuneCache.read(path: path).environments["e"]!["k"]!
        XCTAssertEqual(entry.best, b)
        XCTAssertEqual(entry.trials.count, 2)
        XCTAssertEqual(entry.trials.first { $0.tiling == a }?.seconds, 2)
        try Array("[]".utf8).write(to: dir + "/bad.json")
        assertThrows(try TuneCache.read(path: dir + "/bad.json"), containing: ["not a unetc tune cache"])
        XCTAssertEqual(try TuneCache.read(path: dir + "/none.json").environments.count, 0)
    }
}
