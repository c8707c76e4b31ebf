// Winograd F(m x m, 3 x 3): every fixture against PyTorch's float64 output, odd tilings and
// sizes (tails in channels, tiles, bands), thread-count determinism, the `auto` rule, tiling
// validation and tuning files with and without the algorithm.

import Foundation
import XCTest
@testable import UNetC

final class WinogradTests: XCTestCase {
    func verify(_ f: Fixture, _ configure: (inout Verifier.Options) -> Void) throws -> Verifier.Report {
        var options = Verifier.Options()
        options.cc = try TestToolchain.compiler()
        configure(&options)
        return try Verifier.verify(f.weights, input: f.input, reference: f.outputF64, options: options)
    }

    func winogradConvs(_ program: CProgram) -> [String] {
        program.tilings.filter { $0.value.algorithm == .winograd }.keys.sorted()
    }

    /// Both tile sizes on every fixture, within 5e-5 of PyTorch's float64 output.
    func testEveryFixtureMatchesFloat64() throws {
        let cases = Fixture.names.flatMap { name in [2, 4].map { (name, $0) } }
        let results = concurrentMap(cases) { name, m in
            Result { try self.verify(try Fixture.load(name)) { $0.generator.algorithm = .winograd; $0.generator.winogradTile = m } }
        }
        for (c, r) in zip(cases, results) {
            let report = try r.get()
            XCTAssertLessThanOrEqual(report.vsReference!.maxAbs, 5e-5, "\(c.0) F(\(c.1),3) vs output_f64: \(report.vsReference!)")
            XCTAssertLessThanOrEqual(report.vsInterpreter.maxAbs, 2e-5, "\(c.0) F(\(c.1),3) vs interpreter: \(report.vsInterpreter)")
            // Every 3x3 conv is Winograd, the final 1x1 conv direct.
            let graph = report.program.graph
            let threes = graph.nodes.filter { Tiling.winogradApplies($0) }.map(\.name).sorted()
            XCTAssertFalse(threes.isEmpty)
            XCTAssertEqual(winogradConvs(report.program), threes, c.0)
            XCTAssertTrue(String(decoding: report.program.source(), as: UTF8.self).contains("Winograd F(\(c.1)x\(c.1), 3x3)"))
        }
    }

    /// Odd register tiles, bands and vector widths: tails in output channels (r), in the tiles of
    /// a block (nv), in bands (rb not a multiple of m, rows not a multiple of rb).
    func testOddTilings() throws {
        let cases: [(String, Int, LayerTiling)] = [
            ("odd", 4, LayerTiling(r: 3, nv: 1, rb: 2, nr: 2, algorithm: .winograd)),
            ("odd", 8, LayerTiling(r: 5, nv: 2, rb: 5, nr: 4, algorithm: .winograd)),
            ("batch", 16, LayerTiling(r: 7, nv: 3, rb: 3, nr: 2, algorithm: .winograd)),
            ("batch", 4, LayerTiling(r: 1, nv: 4, rb: 9, nr: 4, algorithm: .winograd)),
            ("small", 8, LayerTiling(r: 12, nv: 1, rb: 1, nr: 4, algorithm: .winograd)),
            ("odd", 16, LayerTiling(r: 24, nv: 1, rb: 4, nr: 4, algorithm: .winograd)),
            // Blocks of 4 tiles: the deep layers (Cout 64 and 128, 2 or 3 blocks a band) take
            // their blocks of output channels outermost, the shallow ones their tiles.
            ("small", 4, LayerTiling(r: 4, nv: 1, rb: 4, nr: 2, algorithm: .winograd)),
        ]
        let results = concurrentMap(cases) { name, v, t in
            Result { () -> (Verifier.Report, [String: LayerTiling]) in
                let f = try Fixture.load(name)
                let graph = try Pipeline.run(try f.graph())
                var tiling: [String: LayerTiling] = [:]
                for node in graph.nodes where Tiling.winogradApplies(node) { tiling[node.name] = t }
                let report = try self.verify(f) { $0.generator.vectorWidth = v; $0.generator.tiling = tiling }
                return (report, tiling)
            }
        }
        for (c, r) in zip(cases, results) {
            let (report, tiling) = try r.get()
            XCTAssertLessThanOrEqual(report.vsInterpreter.maxAbs, 2e-5, "\(c.0) v \(c.1) \(c.2): \(report.vsInterpreter)")
            XCTAssertLessThanOrEqual(report.vsReference!.maxAbs, 5e-5, "\(c.0) v \(c.1) \(c.2): \(report.vsReference!)")
            for (name, t) in tiling { XCTAssertEqual(report.program.tilings[name], t, name) }
            if c.0 == "small" && c.1 == 4 {
                let source = String(decoding: report.program.source(), as: UTF8.self)
                XCTAssertTrue(source.contains("Each block of output channels takes every block of tiles"))
                XCTAssertTrue(source.contains("Each block of tiles takes every block of output channels"))
            }
        }
    }

    /// Sizes that are not multiples of the tile: every conv has partial tiles at the edges.
    func testOddSizes() throws {
        let f = try Fixture.load("odd")
        let sizes = [(37, 45), (33, 17), (19, 51)]
        let cc = try TestToolchain.compiler()
        let results = concurrentMap(sizes) { h, w in
            Result { () -> Double in
                var input = Tensor(shape: [1, f.input.shape[1], h, w], data: [Float](repeating: 0, count: f.input.shape[1] * h * w))
                for i in input.data.indices { input.data[i] = Float((i * 2654435761) % 1000) / 500 - 1 }
                var options = Verifier.Options()
                options.cc = cc
                options.generator.algorithm = .winograd
                return try Verifier.verify(f.weights, input: input, reference: nil, options: options).vsInterpreter.maxAbs
            }
        }
        for (s, r) in zip(sizes, results) { XCTAssertLessThanOrEqual(try r.get(), 2e-5, "\(s)") }
    }

    func testBitIdenticalForAnyThreadCount() throws {
        let f = try Fixture.load("small")
        for m in [2, 4] {
            var options = GeneratorOptions()
            options.algorithm = .winograd
            options.winogradTile = m
            // Small bands: several bands, several blocks of tiles and of channels per band.
            let graph = try Pipeline.run(try f.graph())
            for node in graph.nodes where Tiling.winogradApplies(node) {
                options.tiling[node.name] = LayerTiling(r: 4, nv: 1, rb: 4, nr: m, algorithm: .winograd)
            }
            let program = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options)
            let again = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options)
            XCTAssertEqual(program.source(), again.source())
            // Layers with bands of their own on up to 2 threads (1 and 2 below), shared bands on 3
            // and 5: the same result either way.
            XCTAssertTrue(String(decoding: program.source(), as: UTF8.self).contains("if (UNET_THREADS() <= 2)"))
            let built = try Verifier.build(program, cc: try TestToolchain.compiler(), flags: Toolchain.defaultFlags)
            defer { try? FileManager.default.removeItem(atPath: built.directory) }
            var outputs: [[Float]] = []
            for threads in [1, 2, 3, 5] {
                outputs.append(try Verifier.execute(built, input: f.input, outputCount: f.output.count, threads: threads, trace: false).output)
            }
            for i in 1..<outputs.count {
                XCTAssertTrue(bitIdentical(outputs[0], outputs[i]), "F(\(m),3): run \(i): \(maxAbsDiff(outputs[0], outputs[i]))")
            }
            XCTAssertLessThanOrEqual(maxAbsDiff(outputs[0], f.outputF64.data), 5e-5)
        }
    }

    func testWarningFreeWithAndWithoutOpenMP() throws {
        _ = try TestToolchain.compiler()
        let f = try Fixture.load("odd")
        // The default tilings, then short bands: the layers that give each thread whole bands.
        var short: [String: LayerTiling] = [:]
        for node in try Pipeline.run(try f.weights.config.build(batch: 1, height: 37, width: 45)).nodes
        where Tiling.winogradApplies(node) {
            short[node.name] = LayerTiling(r: 4, nv: 1, rb: 2, nr: 2, algorithm: .winograd)
        }
        for tiling in [[:], short] {
            var options = GeneratorOptions()
            options.algorithm = .winograd
            options.tiling = tiling
            let dir = try makeTemporaryDirectory(self)
            let program = try Generator.generate(f.weights, batch: 1, height: 37, width: 45, options: options)
            XCTAssertEqual(String(decoding: program.source(), as: UTF8.self).contains("if (UNET_THREADS() <= 2)"), !tiling.isEmpty)
            try program.write(to: dir)
            for cc in ["clang", "gcc"] where Toolchain.which(cc) != nil {
                for omp in [[], ["-fopenmp"]] {
                    let r = try Toolchain.run(cc, ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O2"] + omp
                                              + ["-c", dir + "/unet.c", "-I", dir, "-o", dir + "/unet.o"])
                    XCTAssertEqual(r.status, 0, "\(cc) \(omp) \(tiling.isEmpty ? "default" : "short bands"): \(r.output)")
                }
            }
        }
    }

    func testAutoKeepsTheFirstConvDirect() throws {
        let f = try Fixture.load("small")
        var options = GeneratorOptions()
        options.algorithm = .auto
        let program = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options)
        for node in program.graph.nodes {
            guard let t = program.tilings[node.name], case .conv = node.op else { continue }
            let cin = node.inputs.reduce(0) { $0 + program.graph.nodes[$1].shape.c }
            XCTAssertEqual(t.algorithm == .winograd, Tiling.winogradApplies(node) && cin >= 32, "\(node.name) cin \(cin)")
        }
        options.algorithm = .direct
        let direct = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options)
        XCTAssertTrue(direct.tilings.values.allSatisfy { $0.algorithm == .direct })
        XCTAssertFalse(String(decoding: direct.source(), as: UTF8.self).contains("Winograd"))
    }

    func testInvalidWinogradTilings() throws {
        let f = try Fixture.load("tiny")
        var options = GeneratorOptions()
        options.tiling = ["final_conv": LayerTiling(r: 1, nv: 1, rb: 4, nr: 2, algorithm: .winograd)]
        assertThrows(try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options),
                     containing: ["tiling for final_conv", "3x3 conv with padding 1"])
        options.tiling = ["up_sample.0.up": LayerTiling(r: 4, nv: 1, rb: 4, nr: 2, algorithm: .winograd)]
        assertThrows(try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options),
                     containing: ["tiling for up_sample.0.up", "3x3 conv with padding 1"])
        options.tiling = ["down_conv.0.first": LayerTiling(r: 4, nv: 1, rb: 4, nr: 3, algorithm: .winograd)]
        assertThrows(try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options),
                     containing: ["tiling for down_conv.0.first", "nr=3", "2 or 4"])
        options = GeneratorOptions()
        options.winogradTile = 6
        assertThrows(try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options),
                     containing: ["Winograd tile 6"])
    }

    func testTilingCodingKeepsOldFilesAndRoundTrips() throws {
        let old = try JSONDecoder().decode(LayerTiling.self, from: Data(#"{"r": 8, "nv": 3, "rb": 16}"#.utf8))
        XCTAssertEqual(old, LayerTiling(r: 8, nv: 3, rb: 16))
        XCTAssertEqual(old.algorithm, .direct)
        let direct = String(decoding: try JSONEncoder().encode(old), as: UTF8.self)
        XCTAssertFalse(direct.contains("algorithm"), direct)
        XCTAssertFalse(direct.contains("flat"), direct)
        XCTAssertFalse(old.flat)
        let flat = LayerTiling(r: 12, nv: 2, rb: 18, flat: true)
        let flatData = try JSONEncoder().encode(flat)
        XCTAssertTrue(String(decoding: flatData, as: UTF8.self).contains(#""flat":true"#))
        XCTAssertEqual(try JSONDecoder().decode(LayerTiling.self, from: flatData), flat)
        XCTAssertTrue(flat.description.hasSuffix(" flat"))
        let w = LayerTiling(r: 12, nv: 2, rb: 8, nr: 4, algorithm: .winograd)
        let data = try JSONEncoder().encode(w)
        XCTAssertEqual(try JSONDecoder().decode(LayerTiling.self, from: data), w)
        XCTAssertTrue(w.description.hasSuffix(" winograd"))
        XCTAssertFalse(direct.contains("blocksInner"), direct)
        let inner = LayerTiling(r: 6, nv: 2, rb: 13, kc: 128, blocksInner: true)
        let innerData = try JSONEncoder().encode(inner)
        XCTAssertTrue(String(decoding: innerData, as: UTF8.self).contains(#""blocksInner":true"#))
        XCTAssertEqual(try JSONDecoder().decode(LayerTiling.self, from: innerData), inner)
        XCTAssertTrue(inner.description.hasSuffix(" blocks-inner"))
        XCTAssertFalse(direct.contains("splitRows"), direct)
        let split = LayerTiling(r: 3, nv: 2, rb: 4, splitRows: true)
        let splitData = try JSONEncoder().encode(split)
        XCTAssertTrue(String(decoding: splitData, as: UTF8.self).contains(#""splitRows":true"#))
        XCTAssertEqual(try JSONDecoder().decode(LayerTiling.self, from: splitData), split)
        XCTAssertTrue(split.description.hasSuffix(" split-rows"))
    }

    /// The weight transform: G g G^T computes the same 1-D correlation as the direct form.
    func testTransformMatricesComputeACorrelation() {
        for m in [2, 4] {
            let wm = Winograd.matrices(m: m)
            let a = m + 2
            let d = (0..<a).map { Double($0 * 7 % 5) - 1.5 }, g = [0.3, -1.25, 2.0]
            // y = A^T [(G g) . (B^T d)]
            let gg = (0..<a).map { i in (0..<3).reduce(0.0) { $0 + wm.g[i][$1] * g[$1] } }
            let bd = (0..<a).map { i in (0..<a).reduce(0.0) { $0 + wm.bt[i][$1] * d[$1] } }
            for o in 0..<m {
                let y = (0..<a).reduce(0.0) { $0 + wm.at[o][$1] * gg[$1] * bd[$1] }
                let direct = (0..<3).reduce(0.0) { $0 + g[$1] * d[o + $1] }
                XCTAssertEqual(y, direct, accuracy: 1e-12, "F(\(m),3) output \(o)")
            }
        }
    }
}
