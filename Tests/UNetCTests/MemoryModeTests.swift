// Memory mode min (`generate --memory-mode min`): every fixture through the compiled C with
// the memory passes, against PyTorch, the interpreter and the speed mode; golden IR of the
// memory passes; the schedule's buffer requests; the arena targets; warning-free C.

import Foundation
import XCTest
@testable import UNetC

final class MemoryModeTests: XCTestCase {
    /// One compiled program: a fixture in a memory mode with an algorithm.
    struct Variant: Hashable, CustomStringConvertible {
        var fixture: String
        var memory: MemoryMode
        var algorithm: AlgorithmChoice
        var description: String { "\(fixture) --memory-mode \(memory.rawValue) --algorithm \(algorithm.rawValue)" }
    }

    struct Run {
        var program: CProgram
        var output: [Float]
        /// The interpreter's output on the plain graph.
        var interpreter: [Float]
    }

    /// Every fixture in memory mode min with .direct and .auto, odd with .winograd too, and
    /// every fixture in speed mode with .direct (to compare with).
    static let variants: [Variant] =
        Fixture.names.flatMap { name in [AlgorithmChoice.direct, .auto].map { Variant(fixture: name, memory: .min, algorithm: $0) } }
        + [Variant(fixture: "odd", memory: .min, algorithm: .winograd)]
        + Fixture.names.map { Variant(fixture: $0, memory: .speed, algorithm: .direct) }

    private static let lock = NSLock()
    private static var cache: [Variant: Result<Run, Error>]? = nil

    /// Generates, compiles (concurrently, once per test process) and runs every variant.
    func runs() throws -> [Variant: Run] {
        let cc = try TestToolchain.compiler()
        Self.lock.lock()
        defer { Self.lock.unlock() }
        if Self.cache == nil {
            let fixtures = try Fixture.all()
            // The interpreter once per fixture, then the compiles.
            let interpreted = concurrentMap(fixtures) { f in Result { try Interpreter.output(try f.graph(), weights: f.weights, input: f.input).data } }
            var reference: [String: Result<[Float], Error>] = [:]
            for (f, r) in zip(fixtures, interpreted) { reference[f.name] = r }
            let results = concurrentMap(Self.variants) { v -> Result<Run, Error> in
                Result {
                    let f = try Fixture.load(v.fixture)
                    // The memory passes forced: `memory = .min` keeps the speed schedule where
                    // it has the smaller arena (tiny and odd), and these fixtures test the passes.
                    var options = GeneratorOptions()
                    if v.memory == .min { options.passes = Pipeline.minimumMemory }
                    options.memory = v.memory
                    options.algorithm = v.algorithm
                    let program = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options)
                    let built = try Verifier.build(program, cc: cc, flags: Toolchain.defaultFlags)
                    defer { try? FileManager.default.removeItem(atPath: built.directory) }
                    let out = try Verifier.execute(built, input: f.input, outputCount: f.outputF64.count, threads: nil, trace: false)
                    return Run(program: program, output: out.output, interpreter: try reference[v.fixture]!.get())
                }
            }
            Self.cache = Dictionary(uniqueKeysWithValues: zip(Self.variants, results))
        }
        var out: [Variant: Run] = [:]
        for (v, r) in Self.cache! { out[v] = try r.get() }
        return out
    }

    func isAgain(_ node: Node) -> Bool { node.name.hasSuffix(".again") }

    // MARK: Fixtures

    func testEveryFixtureMatchesPyTorchInMemoryModeMin() throws {
        let runs = try runs()
        for v in Self.variants where v.memory == .min {
            let f = try Fixture.load(v.fixture), run = try XCTUnwrap(runs[v])
            let vsF64 = ErrorStats(run.output, f.outputF64.data)
            XCTAssertLessThanOrEqual(vsF64.maxAbs, 5e-5, "\(v): C vs output_f64: \(vsF64)")
            XCTAssertLessThanOrEqual(ErrorStats(run.output, f.output.data).maxAbs, 1e-4, "\(v): C vs output")
            let vsInterp = ErrorStats(run.output, run.interpreter)
            XCTAssertLessThanOrEqual(vsInterp.maxAbs, 1e-5, "\(v): C vs interpreter: \(vsInterp)")
            // The memory passes ran: streamed layers and pool epilogues; the first level's skip
            // is computed again except where crops have offsets (odd).
            let g = run.program.graph
            XCTAssertTrue(g.nodes.contains { $0.fusion == .streamed }, "\(v)")
            XCTAssertTrue(g.nodes.contains { $0.fusion == .epilogue }, "\(v)")
            XCTAssertEqual(g.nodes.contains(where: isAgain), v.fixture != "odd", "\(v)")
            let source = String(decoding: run.program.source(), as: UTF8.self)
            XCTAssertTrue(run.program.header.contains("#define UNET_WORKSPACE_BYTES \(run.program.plan.arenaBytes)u"), "\(v)")
            XCTAssertTrue(source.contains("unet_run"), "\(v)")
        }
    }

    func testSpeedAndMinAgree() throws {
        let runs = try runs()
        for name in Fixture.names {
            let speed = try XCTUnwrap(runs[Variant(fixture: name, memory: .speed, algorithm: .direct)])
            let min = try XCTUnwrap(runs[Variant(fixture: name, memory: .min, algorithm: .direct)])
            // (Measured: bit-identical with direct convs.)
            let d = ErrorStats(min.output, speed.output)
            XCTAssertLessThanOrEqual(d.maxAbs, 1e-5, "\(name): min vs speed: \(d)")
            XCTAssertLessThanOrEqual(ErrorStats(speed.output, speed.interpreter).maxAbs, 1e-5, "\(name): speed vs interpreter")
        }
    }

    /// `memory = .min` never gives a larger arena than speed: on the fixtures of a few pixels a
    /// group's panels outweigh the maps it replaces and it keeps the speed schedule; on batch
    /// and small it streams, and the arena shrinks.
    func testMinArenaIsNeverLargerThanSpeed() throws {
        for name in Fixture.names {
            let f = try Fixture.load(name)
            for algorithm in [AlgorithmChoice.direct, .auto] {
                var options = GeneratorOptions()
                options.algorithm = algorithm
                let speed = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options)
                options.memory = .min
                let min = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options)
                options.passes = Pipeline.minimumMemory
                let forced = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options)
                XCTAssertEqual(min.plan.arenaBytes, Swift.min(speed.plan.arenaBytes, forced.plan.arenaBytes), "\(name) \(algorithm)")
                if ["batch", "small"].contains(name) {
                    XCTAssertLessThan(min.plan.arenaBytes, speed.plan.arenaBytes, "\(name) \(algorithm)")
                    XCTAssertEqual(min.graph, forced.graph, "\(name) \(algorithm)")
                }
            }
        }
    }

    /// A layer computed inside a group runs row tiles. Where its default was flat, it takes the
    /// defaults' row tiles instead, whose bands are for a panel of whole vectors (keeping the
    /// flat tiling's bands grew the 96x96 example's arena by 6 KiB at 4-float vectors); a flat
    /// tiling from a tuning file keeps its r, nv and rb.
    func testLayersInGroupsTakeRowTilesForFlatOnes() throws {
        let f = try Fixture.load("small")
        var options = GeneratorOptions()
        options.passes = Pipeline.minimumMemory
        options.memory = .min
        let program = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options)
        var grouped: [String] = []
        for node in program.graph.nodes where node.fusion != .none {
            guard let d = Tiling.defaults(node, in: program.graph, vectorWidth: 16), d.flat else { continue }
            XCTAssertEqual(program.tilings[node.name], Tiling.defaults(node, in: program.graph, vectorWidth: 16, flat: false), node.name)
            grouped.append(node.name)
        }
        XCTAssertFalse(grouped.isEmpty)
        for name in grouped { options.tiling[name] = LayerTiling(r: 3, nv: 2, rb: 5, flat: true) }
        let tuned = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options)
        for name in grouped { XCTAssertEqual(tuned.tilings[name], LayerTiling(r: 3, nv: 2, rb: 5), name) }
    }

    // MARK: Golden IR

    let tinyMin = """
    %0 input = input() : 1x3x32x32
    %1 down_conv.0.first = conv3x3+relu(%0) : 1x4x32x32 streamed
    %2 down_conv.0.second = conv3x3+relu(%1) : 1x4x32x32
    %3 down_conv.0.pool = maxpool2x2(%2) : 1x4x16x16 epilogue
    %4 down_conv.1.first = conv3x3+relu(%3) : 1x8x16x16 streamed
    %5 down_conv.1.second = conv3x3+relu(%4) : 1x8x16x16
    %6 down_conv.1.pool = maxpool2x2(%5) : 1x8x8x8 epilogue
    %7 down_conv.2.first = conv3x3+relu(%6) : 1x16x8x8 streamed
    %8 down_conv.2.second = conv3x3+relu(%7) : 1x16x8x8
    %9 down_conv.2.pool = maxpool2x2(%8) : 1x16x4x4 epilogue
    %10 down_conv.3.first = conv3x3+relu(%9) : 1x32x4x4 streamed
    %11 down_conv.3.second = conv3x3+relu(%10) : 1x32x4x4
    %12 down_conv.3.pool = maxpool2x2(%11) : 1x32x2x2 epilogue
    %13 middle_conv.first = conv3x3+relu(%12) : 1x64x2x2 streamed
    %14 middle_conv.second = conv3x3+relu(%13) : 1x64x2x2
    %15 up_sample.0.up = convT2x2(%14) : 1x32x4x4 streamed
    %16 up_conv.0.crop = view(%11) at (0, 0) : 1x32x4x4
    %17 up_conv.0.first = conv3x3+relu(%15, %16) : 1x32x4x4 streamed
    %18 up_conv.0.second = conv3x3+relu(%17) : 1x32x4x4 in %16
    %19 up_sample.1.up = convT2x2(%18) : 1x16x8x8 streamed
    %20 up_conv.1.crop = view(%8) at (0, 0) : 1x16x8x8
    %21 up_conv.1.first = conv3x3+relu(%19, %20) : 1x16x8x8 streamed
    %22 up_conv.1.second = conv3x3+relu(%21) : 1x16x8x8 in %20
    %23 up_sample.2.up = convT2x2(%22) : 1x8x16x16 streamed
    %24 up_conv.2.crop = view(%5) at (0, 0) : 1x8x16x16
    %25 up_conv.2.first = conv3x3+relu(%23, %24) : 1x8x16x16 streamed
    %26 up_conv.2.second = conv3x3+relu(%25) : 1x8x16x16 in %24
    %27 up_sample.3.up = convT2x2(%26) : 1x4x32x32 streamed
    %28 down_conv.0.first.again = conv3x3+relu(%0) weights of down_conv.0.first : 1x4x32x32 streamed
    %29 down_conv.0.second.again = conv3x3+relu(%28) weights of down_conv.0.second : 1x4x32x32 streamed
    %30 up_conv.3.first = conv3x3+relu(%27, %29) : 1x4x32x32 streamed
    %31 up_conv.3.second = conv3x3+relu(%30) : 1x4x32x32 streamed
    %32 final_conv = conv1x1(%31) : 1x1x32x32
    %33 output = output(%32) : 1x1x32x32

    """

    /// odd: the crops have offsets, so no skip is computed again, but the decoder convs still
    /// write through the offset views (all but the last, which streams into the final 1x1).
    let oddMin = """
    %0 input = input() : 1x3x37x45
    %1 down_conv.0.first = conv3x3+relu(%0) : 1x4x37x45 streamed
    %2 down_conv.0.second = conv3x3+relu(%1) : 1x4x37x45
    %3 down_conv.0.pool = maxpool2x2(%2) : 1x4x18x22 epilogue
    %4 down_conv.1.first = conv3x3+relu(%3) : 1x8x18x22 streamed
    %5 down_conv.1.second = conv3x3+relu(%4) : 1x8x18x22
    %6 down_conv.1.pool = maxpool2x2(%5) : 1x8x9x11 epilogue
    %7 down_conv.2.first = conv3x3+relu(%6) : 1x16x9x11 streamed
    %8 down_conv.2.second = conv3x3+relu(%7) : 1x16x9x11
    %9 down_conv.2.pool = maxpool2x2(%8) : 1x16x4x5 epilogue
    %10 down_conv.3.first = conv3x3+relu(%9) : 1x32x4x5 streamed
    %11 down_conv.3.second = conv3x3+relu(%10) : 1x32x4x5
    %12 down_conv.3.pool = maxpool2x2(%11) : 1x32x2x2 epilogue
    %13 middle_conv.first = conv3x3+relu(%12) : 1x64x2x2 streamed
    %14 middle_conv.second = conv3x3+relu(%13) : 1x64x2x2
    %15 up_sample.0.up = convT2x2(%14) : 1x32x4x4 streamed
    %16 up_conv.0.crop = view(%11) at (0, 0) : 1x32x4x4
    %17 up_conv.0.first = conv3x3+relu(%15, %16) : 1x32x4x4 streamed
    %18 up_conv.0.second = conv3x3+relu(%17) : 1x32x4x4 in %16
    %19 up_sample.1.up = convT2x2(%18) : 1x16x8x8 streamed
    %20 up_conv.1.crop = view(%8) at (0, 2) : 1x16x8x8
    %21 up_conv.1.first = conv3x3+relu(%19, %20) : 1x16x8x8 streamed
    %22 up_conv.1.second = conv3x3+relu(%21) : 1x16x8x8 in %20
    %23 up_sample.2.up = convT2x2(%22) : 1x8x16x16 streamed
    %24 up_conv.2.crop = view(%5) at (1, 3) : 1x8x16x16
    %25 up_conv.2.first = conv3x3+relu(%23, %24) : 1x8x16x16 streamed
    %26 up_conv.2.second = conv3x3+relu(%25) : 1x8x16x16 in %24
    %27 up_sample.3.up = convT2x2(%26) : 1x4x32x32 streamed
    %28 up_conv.3.crop = view(%2) at (2, 6) : 1x4x32x32
    %29 up_conv.3.first = conv3x3+relu(%27, %28) : 1x4x32x32 streamed
    %30 up_conv.3.second = conv3x3+relu(%29) : 1x4x32x32 streamed
    %31 final_conv = conv1x1(%30) : 1x1x32x32
    %32 output = output(%31) : 1x1x32x32

    """

    func testGoldenIRAfterTheMemoryPasses() throws {
        for (name, expected) in [("tiny", tinyMin), ("odd", oddMin)] {
            let f = try Fixture.load(name)
            let plain = try f.graph()
            let g = try Pipeline.run(plain, passes: Pipeline.minimumMemory)
            XCTAssertEqual(g.text(), expected, "\(name):\n\(g.text())")
            // The standard passes then the memory passes is what `generate` runs with them.
            var options = GeneratorOptions()
            options.passes = Pipeline.minimumMemory
            XCTAssertEqual(try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options).graph, g)
            // Same values, bit for bit, in the interpreter (a clone reads its original's weights).
            let before = try Interpreter.output(plain, weights: f.weights, input: f.input)
            let after = try Interpreter.output(g, weights: f.weights, input: f.input)
            XCTAssertTrue(bitIdentical(before.data, after.data), "\(name): \(maxAbsDiff(before.data, after.data))")
        }
        // Each memory pass on its own after the standard ones, on tiny: only its own marks.
        let standard = try Pipeline.run(try Fixture.load("tiny").graph())
        XCTAssertEqual(Pipeline.minimumMemory.map(\.name),
                       ["fuse-activation", "eliminate-concat", "eliminate-crop",
                        "recompute-skip", "stream-rows", "fuse-pool", "write-in-place"])
        let recomputed = try Pipeline.run(standard, passes: [Pipeline.recomputeSkip])
        XCTAssertEqual(recomputed.nodes.filter(isAgain).map(\.name), ["down_conv.0.first.again", "down_conv.0.second.again"])
        XCTAssertTrue(recomputed.nodes.allSatisfy { $0.fusion == .none })
        XCTAssertNil(recomputed.index(of: "up_conv.3.crop"))
        let streamed = try Pipeline.run(standard, passes: [Pipeline.streamRows])
        XCTAssertEqual(streamed.nodes.filter { $0.fusion == .streamed }.map(\.name), [
            "down_conv.0.first", "down_conv.1.first", "down_conv.2.first", "down_conv.3.first", "middle_conv.first",
            "up_sample.0.up", "up_conv.0.first", "up_sample.1.up", "up_conv.1.first", "up_sample.2.up", "up_conv.2.first",
            "up_sample.3.up", "up_conv.3.first", "up_conv.3.second"])
        XCTAssertTrue(streamed.nodes.allSatisfy { $0.fusion == .none || $0.fusion == .streamed })
        // fuse-pool alone: every pool's conv is stored.
        let pooled = try Pipeline.run(standard, passes: [Pipeline.fusePool])
        XCTAssertEqual(pooled.nodes.filter { $0.fusion == .epilogue }.map(\.name), (0..<4).map { "down_conv.\($0).pool" })
        // write-in-place needs streamed convs: alone it does nothing.
        XCTAssertEqual(try Pipeline.run(standard, passes: [Pipeline.writeInPlace]), standard)
    }

    // MARK: Schedule

    func testScheduleOfTheMemoryPasses() throws {
        // 1 -> 1, base 2, depth 2 at 8x8 (sizes multiples of 4: no crop offsets):
        //   %1 down_conv.0.first streamed, %2 down_conv.0.second read only by its pool %3
        //   (epilogue), %5 down_conv.1.second the kept skip, %10 its view, %12 up_conv.0.second
        //   in %10, %14-%15 the level-0 convs again, streamed with %13 %16 %17 into final_conv %18.
        let g = try Pipeline.run(try UNetConfig(inChannels: 1, outChannels: 1, base: 2, depth: 2).build(batch: 1, height: 8, width: 8),
                                 passes: Pipeline.minimumMemory)
        XCTAssertEqual(g.nodes.map(\.name), [
            "input", "down_conv.0.first", "down_conv.0.second", "down_conv.0.pool", "down_conv.1.first",
            "down_conv.1.second", "down_conv.1.pool", "middle_conv.first", "middle_conv.second", "up_sample.0.up",
            "up_conv.0.crop", "up_conv.0.first", "up_conv.0.second", "up_sample.1.up", "down_conv.0.first.again",
            "down_conv.0.second.again", "up_conv.1.first", "up_conv.1.second", "final_conv", "output"])
        XCTAssertEqual(g.nodes[12].fusion, .inPlace(10))
        let s = Schedule(g)
        // Streamed nodes at their reader's step (through chains), epilogues at their producer's.
        XCTAssertEqual(s.step, [0, 2, 2, 2, 5, 5, 5, 8, 8, 12, 10, 12, 12, 18, 18, 18, 18, 18, 18, 19])
        // Owners: the pools, the skip (its view and the in-place conv too), middle_conv.second.
        // None for the input, streamed nodes, down_conv.0.second (read only by its pool) and
        // final_conv (writes the output).
        XCTAssertEqual(s.owner, [nil, nil, nil, 3, nil, 5, 6, nil, 8, nil, 5, nil, 5, nil, nil, nil, nil, nil, nil, nil])
        XCTAssertEqual((0..<g.nodes.count).filter(s.isDriver), [2, 5, 8, 12, 18])
        XCTAssertEqual(s.requests(), [
            // From down_conv.0.second's step 2 (its producer's) to down_conv.1.first's, streamed into step 5.
            BufferRequest(name: "down_conv.0.pool", bytes: 2 * 4 * 4 * 4, first: 2, last: 5),
            // Read through the view at step 12; up_conv.0.second, in place, is read at step 18.
            BufferRequest(name: "down_conv.1.second", bytes: 4 * 4 * 4 * 4, first: 5, last: 18),
            BufferRequest(name: "down_conv.1.pool", bytes: 4 * 2 * 2 * 4, first: 5, last: 8),
            BufferRequest(name: "middle_conv.second", bytes: 8 * 2 * 2 * 4, first: 8, last: 12),
        ])
        // Scratch for each driver, live during its step alone, before the driver's own buffer.
        let scratch = s.requests { $0 == 5 || $0 == 18 ? 100 * $0 : 0 }
        XCTAssertEqual(scratch.map(\.name), ["down_conv.0.pool", "down_conv.1.second.scratch", "down_conv.1.second",
                                             "down_conv.1.pool", "middle_conv.second", "final_conv.scratch"])
        XCTAssertEqual(scratch[1], BufferRequest(name: "down_conv.1.second.scratch", bytes: 500, first: 5, last: 5))
        XCTAssertEqual(scratch[5], BufferRequest(name: "final_conv.scratch", bytes: 1800, first: 18, last: 18))
        // Without the memory passes: every node at its own index, each in its own buffer.
        let speed = Schedule(try Pipeline.run(try UNetConfig(inChannels: 1, outChannels: 1, base: 2, depth: 2).build(batch: 1, height: 8, width: 8)))
        XCTAssertEqual(speed.step, Array(speed.graph.nodes.indices))
        let skip = try XCTUnwrap(speed.graph.index(of: "down_conv.1.second"))
        let request = try XCTUnwrap(speed.requests().first { $0.name == "down_conv.1.second" })
        XCTAssertEqual(request.first, skip)
        XCTAssertEqual(request.last, try XCTUnwrap(speed.graph.index(of: "up_conv.0.first")), "the skip dies at its reader when not written in place")
    }

    func testScheduleOfTheTinyFixture() throws {
        let g = try Pipeline.run(try Fixture.load("tiny").graph(), passes: Pipeline.minimumMemory)
        let s = Schedule(g)
        let requests = s.requests()
        // No buffer for a streamed node, nor for down_conv.0.second (only its pool reads it).
        for (i, node) in g.nodes.enumerated() where node.fusion == .streamed || node.name == "down_conv.0.second" {
            XCTAssertNil(s.owner[i], node.name)
            XCTAssertFalse(requests.contains { $0.name == node.name }, node.name)
        }
        XCTAssertEqual(requests.map(\.name), [
            "down_conv.0.pool", "down_conv.1.second", "down_conv.1.pool", "down_conv.2.second", "down_conv.2.pool",
            "down_conv.3.second", "down_conv.3.pool", "middle_conv.second"])
        XCTAssertEqual(requests.map(\.first), [2, 5, 5, 8, 8, 11, 11, 14])
        // Each skip lives until the decoder level after the one that writes it in place reads it:
        // down_conv.3.second (up_conv.0.second in it at 18) is read by up_sample.1.up, streamed
        // into step 22; down_conv.2.second by up_sample.2.up (step 26); down_conv.1.second by
        // up_sample.3.up, streamed into final_conv (step 32).
        XCTAssertEqual(requests.map(\.last), [5, 32, 8, 26, 11, 22, 14, 18])
        XCTAssertEqual(requests.map(\.bytes), [4 * 16 * 16 * 4, 8 * 16 * 16 * 4, 8 * 8 * 8 * 4, 16 * 8 * 8 * 4, 16 * 4 * 4 * 4,
                                               32 * 4 * 4 * 4, 32 * 2 * 2 * 4, 64 * 2 * 2 * 4])
    }

    // MARK: Arena targets

    func testArenaTargets() throws {
        // 1 -> 1, base 8, depth 3 at 96x96, and 3 -> 1, base 8, depth 4 at 128x128 (the classic
        // shape, smaller), with `unetc init`'s default weights.
        let models = [(UNetConfig(inChannels: 1, outChannels: 1, base: 8, depth: 3), 96),
                      (UNetConfig(inChannels: 3, outChannels: 1, base: 8, depth: 4), 128)]
        var cases: [(UNetConfig, Int, AlgorithmChoice)] = []
        for (config, side) in models { for a in [AlgorithmChoice.direct, .auto] { cases.append((config, side, a)) } }
        let results = concurrentMap(cases) { config, side, algorithm in
            Result { () -> (speed: MemoryPlan, min: MemoryPlan) in
                let weights = try ModelWeights(config: config, tensors: config.initialWeights(seed: 1))
                var options = GeneratorOptions()
                options.algorithm = algorithm
                let speed = try Generator.generate(weights, batch: 1, height: side, width: side, options: options).plan
                options.memory = .min
                let min = try Generator.generate(weights, batch: 1, height: side, width: side, options: options).plan
                return (speed, min)
            }
        }
        // Measured (speed bound -> min arena): 96x96 direct 1198336 -> 443648, auto 1493504 ->
        // 599040; 128x128 direct 1963904 -> 724992, auto 2524160 -> 1230848 (37-49%).
        for ((config, side, algorithm), result) in zip(cases, results) {
            let (speed, min) = try result.get()
            let label = "\(config) at \(side)x\(side), \(algorithm)"
            XCTAssertLessThanOrEqual(Double(min.arenaBytes), 0.7 * Double(speed.lowerBound),
                                     "\(label): min arena \(min.arenaBytes), speed bound \(speed.lowerBound)")
            XCTAssertEqual(speed.arenaBytes, speed.lowerBound, "\(label): speed")
            XCTAssertEqual(min.arenaBytes, min.lowerBound, "\(label): min")
            XCTAssertNil(MemoryPlanner.overlaps(min), label)
        }
    }

    // MARK: Warning-free C

    func testWarningFreeCompilesInMemoryModeMin() throws {
        // tiny with direct convs, odd (offset views) with Winograd: every group template.
        var programs: [(String, String)] = []
        for (name, algorithm) in [("tiny", AlgorithmChoice.direct), ("odd", .winograd)] {
            let f = try Fixture.load(name)
            var options = GeneratorOptions()
            options.passes = Pipeline.minimumMemory
            options.memory = .min
            options.algorithm = algorithm
            let dir = try makeTemporaryDirectory(self)
            try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options).write(to: dir)
            programs.append(("\(name) \(algorithm)", dir))
        }
        let strict = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O2", "-c"]
        var jobs: [(label: String, cc: String, flags: [String], dir: String)] = []
        for cc in ["clang", "gcc"] where Toolchain.which(cc) != nil {
            for omp in [[], ["-fopenmp"]] {
                for (label, dir) in programs { jobs.append((label, cc, strict + omp, dir)) }
            }
        }
        XCTAssertEqual(jobs.count, 8, "clang and gcc should both be installed")
        let results = concurrentMap(Array(jobs.enumerated())) { i, job in
            Result { try Toolchain.run(job.cc, job.flags + [job.dir + "/unet.c", "-I", job.dir, "-o", "\(job.dir)/unet\(i).o"]) }
        }
        for (job, result) in zip(jobs, results) {
            let command = "\(job.label): \(job.cc) \(job.flags.joined(separator: " "))"
            switch result {
            case .success(let r): XCTAssertEqual(r.status, 0, "\(command):\n\(r.output)")
            case .failure(let e): XCTFail("\(command): \(e)")
            }
        }
    }
}
