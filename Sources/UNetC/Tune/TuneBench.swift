// The timing bench of `unetc tune`: builds generated programs as variants of one harness
// (Templates/tune_main.c) and runs two of them interleaved, timing every layer.
//
// Each variant is a unet.c generated from the same templates as the real one, with the weights
// in unet_weights.bin (so that clang takes about a second even for the classic model), wrapped
// under renamed entry points and compiled to an object once; a bench links two objects (a
// baseline and a challenger) with the main program and runs them alternately in one process.

import Foundation

/// One generated, compiled program.
struct TuneVariant {
    var slot: Int
    var tiling: [String: LayerTiling]
    var directory: String
    var object: String
    var weights: String
    var program: CProgram
}

/// Per-layer timings of one variant over the repetitions of a bench run.
struct VariantTimes {
    /// The traced layers in order.
    var names: [String]
    /// samples[i]: layer i's seconds in each repetition.
    var samples: [[Double]]
    /// The whole run's seconds in each repetition.
    var totals: [Double]
    /// Each layer's output from the traced run, when one was asked for.
    var trace: [(String, [Float])]?

    /// Layer `name`'s samples, or the totals for nil.
    func samples(_ name: String?) -> [Double]? {
        guard let name else { return totals }
        return names.firstIndex(of: name).map { samples[$0] }
    }

    func layer(_ name: String) -> RobustTime? {
        names.firstIndex(of: name).map { RobustTime(samples[$0]) }
    }
    var total: RobustTime { RobustTime(totals) }

    /// `other` against this run's timings of layer `name` (the whole run for nil), pair by pair.
    func compare(_ other: VariantTimes, _ name: String?) -> PairedComparison? {
        guard let a = samples(name), let b = other.samples(name), a.count == b.count, !a.isEmpty else { return nil }
        return PairedComparison(baseline: a, candidate: b)
    }
}

final class TuneBench {
    let graph: Graph
    let weights: ModelWeights
    let vectorWidth: Int
    let vectorRegisters: Int
    let cc: String
    let flags: [String]
    let threads: Int?
    let directory: String
    private var mainObject: String
    private var variants: [TuneVariant] = []
    private var serial = 0
    /// Seconds the last compile of a variant took.
    private(set) var compileSeconds = 0.0

    init(graph: Graph, weights: ModelWeights, input: Tensor, vectorWidth: Int, vectorRegisters: Int, cc: String,
         flags: [String], threads: Int?) throws {
        self.graph = graph; self.weights = weights; self.vectorWidth = vectorWidth; self.vectorRegisters = vectorRegisters
        self.cc = cc; self.flags = flags; self.threads = threads
        directory = try Toolchain.temporaryDirectory()
        mainObject = directory + "/main.o"
        do {
            try Array(Template.render("tune_main.c", [:]).utf8).write(to: directory + "/tune_main.c")
            try floatBytes(input.data).write(to: directory + "/input.f32")
            try compile(["-DUNET_TUNE_VARIANTS=2", "-c", directory + "/tune_main.c", "-o", mainObject])
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    private func compile(_ arguments: [String]) throws {
        try Toolchain.invokeCompiler(cc, flags + arguments)
    }

    /// The program with `tiling` as variant `slot` (0 or 1), generated and compiled unless a
    /// recent one is the same.
    func variant(_ tiling: [String: LayerTiling], slot: Int) throws -> TuneVariant {
        if let v = variants.first(where: { $0.slot == slot && $0.tiling == tiling }) { return v }
        var options = GeneratorOptions()
        options.vectorWidth = vectorWidth
        options.vectorRegisters = vectorRegisters
        options.tiling = tiling
        options.externalWeights = true
        options.sourceName = "unetc tune"
        if let t = threads { options.threads = t } // as `generate --threads` with that count
        let program = try Generator.lower(graph, weights: weights, options: options)
        serial += 1
        let dir = directory + "/v\(serial)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        try program.write(to: dir)
        let start = Date()
        let object = dir + "/variant.o"
        try compile(["-DUNET_TUNE_VARIANT=\(slot)", "-I", dir, "-c", directory + "/tune_main.c", "-o", object])
        compileSeconds = Date().timeIntervalSince(start)
        let v = TuneVariant(slot: slot, tiling: tiling, directory: dir, object: object,
                            weights: dir + "/unet_weights.bin", program: program)
        variants.append(v)
        // Keep the last few of each slot (the default and the incumbent come back).
        for s in 0..<2 where variants.filter({ $0.slot == s }).count > 3 {
            let old = variants.firstIndex { $0.slot == s }!
            try? FileManager.default.removeItem(atPath: variants[old].directory)
            variants.remove(at: old)
        }
        return v
    }

    /// Links `a` (slot 0) and `b` (slot 1) and runs them alternately: `warmups` untimed runs
    /// and `reps` timed runs of each, after one traced run of each that `trace` names.
    func measure(_ a: TuneVariant, _ b: TuneVariant, reps: Int, warmups: Int, trace: Set<Int>) throws -> [VariantTimes] {
        precondition(a.slot == 0 && b.slot == 1)
        let binary = directory + "/bench"
        try compile([mainObject, a.object, b.object, "-o", binary, "-lm"])
        var args = ["\(reps)", "\(warmups)", directory + "/input.f32"]
        for (k, v) in [a, b].enumerated() {
            args += [v.weights, trace.contains(k) ? directory + "/trace\(k).bin" : "-"]
        }
        var env: [String: String] = [:]
        if let t = threads { env["OMP_NUM_THREADS"] = "\(t)" }
        let result = try Toolchain.run(binary, args, environment: env)
        guard result.status == 0 else {
            throw ToolError("the timing program failed (exit \(result.status)): \(result.output.suffix(2000))")
        }
        var times = try Self.parse(result.output, variants: 2, reps: reps)
        for k in trace.sorted() {
            let path = directory + "/trace\(k).bin"
            times[k].trace = try readTrace(path)
            try? FileManager.default.removeItem(atPath: path)
        }
        return times
    }

    /// Reads the harness's "layers", "layer" and "time" lines.
    static func parse(_ output: String, variants: Int, reps: Int) throws -> [VariantTimes] {
        var out = [VariantTimes](repeating: VariantTimes(names: [], samples: [], totals: []), count: variants)
        for line in output.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let tag = f.first, let k = f.count > 1 ? Int(f[1]) : nil, (0..<variants).contains(k) else { continue }
            switch tag {
            case "layer" where f.count == 4:
                out[k].names.append(String(f[3]))
                out[k].samples.append([])
            case "time":
                let values = f.dropFirst(3).compactMap { Double($0) }
                guard values.count == out[k].names.count + 1 else {
                    throw ToolError("the timing program printed \(values.count - 1) layer times for \(out[k].names.count) layers: \(line)")
                }
                out[k].totals.append(values[0] * 1e-9)
                for i in out[k].names.indices { out[k].samples[i].append(values[i + 1] * 1e-9) }
            default:
                continue
            }
        }
        for (k, v) in out.enumerated() where v.totals.count != reps || v.names.isEmpty {
            throw ToolError("the timing program gave \(v.totals.count) timed runs of variant \(k) (expected \(reps)) and \(v.names.count) layers")
        }
        return out
    }
}
