// The C generator: every fixture through the compiled C, each op and pass against the
// interpreter, layer tracing, warning-free and freestanding C, determinism across runs and
// thread counts, vector widths and tilings, and the embedded templates.

import Foundation
import XCTest
@testable import UNetC

final class CodegenTests: XCTestCase {
    /// Generates, compiles and runs the C for `f` with `options`; compares with the interpreter.
    func verify(_ f: Fixture, _ configure: (inout Verifier.Options) -> Void = { _ in }) throws -> Verifier.Report {
        var options = Verifier.Options()
        options.cc = try TestToolchain.compiler()
        configure(&options)
        return try Verifier.verify(f.weights, input: f.input, reference: f.output, options: options)
    }

    /// Runs `work` for every item concurrently (compiling dominates), then `check` on each
    /// result in order on the test's own thread, where the assertions belong.
    func concurrently<T, R>(_ items: [T], _ work: (T) throws -> R, check: (T, R) throws -> Void) throws {
        let results = concurrentMap(items) { item in Result { try work(item) } }
        for (item, result) in zip(items, results) { try check(item, try result.get()) }
    }

    // MARK: Fixtures

    func testEveryFixtureMatchesPyTorchFloat64() throws {
        let cc = try TestToolchain.compiler()
        let fixtures = try Fixture.all()
        let results = concurrentMap(fixtures) { f -> Result<(Fixture, [Float], [Float]), Error> in
            Result {
                let program = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width)
                let built = try Verifier.build(program, cc: cc, flags: Toolchain.defaultFlags)
                defer { try? FileManager.default.removeItem(atPath: built.directory) }
                let interp = try Interpreter.output(try f.graph(), weights: f.weights, input: f.input)
                let out = try Verifier.execute(built, input: f.input, outputCount: f.outputF64.count, threads: nil, trace: false)
                return (f, out.output, interp.data)
            }
        }
        for r in results {
            let (f, c, interp) = try r.get()
            let vsF64 = ErrorStats(c, f.outputF64.data)
            XCTAssertLessThanOrEqual(vsF64.maxAbs, 5e-5, "\(f.name): C vs output_f64: \(vsF64)")
            XCTAssertLessThanOrEqual(ErrorStats(c, f.output.data).maxAbs, 1e-4, "\(f.name): C vs output")
            XCTAssertLessThanOrEqual(ErrorStats(c, interp).maxAbs, 1e-5, "\(f.name): C vs interpreter")
        }
    }

    func testVerifierReportOnTheBatchFixture() throws {
        let f = try Fixture.load("batch")
        let report = try verify(f)
        XCTAssertLessThanOrEqual(report.vsInterpreter.maxAbs, 1e-5, "\(report.vsInterpreter)")
        let vsReference = try XCTUnwrap(report.vsReference)
        XCTAssertLessThanOrEqual(vsReference.maxAbs, 1e-4, "\(vsReference)")
        XCTAssertTrue(report.layers.isEmpty)
        XCTAssertEqual(report.compiler, try TestToolchain.compiler())
        XCTAssertEqual(report.program.graph.nodes[report.program.graph.outputIndex].shape, Shape(n: 2, c: 2, h: 40, w: 48))
        // A reference of the wrong shape is an error, not a silent comparison.
        var options = Verifier.Options()
        options.cc = try TestToolchain.compiler()
        assertThrows(try Verifier.verify(f.weights, input: f.input, reference: Tensor(zeros: [1, 2, 40, 48]), options: options),
                     containing: ["reference output has shape [1, 2, 40, 48]", "2x2x40x48"])
    }

    // MARK: Passes and ops

    func testEachOpAndPassAgainstTheInterpreter() throws {
        let f = try Fixture.load("odd")
        var variants: [(String, [Pass])] = [("none", []), ("standard", Pipeline.standard)]
        for pass in Pipeline.standard { variants.append((pass.name, [pass])) }
        try concurrently(variants, { _, passes in try self.verify(f) { $0.generator.passes = passes } }) { variant, report in
            let name = variant.0
            XCTAssertLessThan(report.vsInterpreter.maxAbs, 1e-5, "\(name): \(report.vsInterpreter)")
            XCTAssertLessThanOrEqual(try XCTUnwrap(report.vsReference).maxAbs, 1e-4, name)
            let source = String(decoding: report.program.source(), as: UTF8.self)
            let g = report.program.graph
            // What each variant lowers to: standalone ReLU, crop and concat kernels when not removed.
            let hasRelu = g.nodes.contains { $0.op == .relu }, hasConcat = g.nodes.contains { $0.op == .concat }
            let hasCrop = g.nodes.contains { if case .crop = $0.op { return true } else { return false } }
            XCTAssertEqual(source.contains("(unfused)"), hasRelu, name)
            XCTAssertEqual(source.contains(": concat("), hasConcat, name)
            XCTAssertEqual(source.contains(": crop("), hasCrop, name)
            switch name {
            case "none": XCTAssertTrue(hasRelu && hasConcat && hasCrop)
            case "fuse-activation": XCTAssertTrue(!hasRelu && hasConcat && hasCrop)
            case "eliminate-concat": XCTAssertTrue(hasRelu && !hasConcat && hasCrop)
            case "eliminate-crop": XCTAssertTrue(hasRelu && hasConcat && !hasCrop)
            default: XCTAssertTrue(!hasRelu && !hasConcat && !hasCrop)
            }
        }
    }

    func testLayerTracing() throws {
        let f = try Fixture.load("odd")
        try concurrently([Pipeline.standard, []], { passes in
            try self.verify(f) { $0.layers = true; $0.generator.passes = passes }
        }) { passes, report in
            let g = report.program.graph
            // One entry per computed node (not the input, the output or views), in node order.
            let computed = g.nodes.filter { $0.op != .input && $0.op != .output && !$0.op.isView }.map(\.name)
            XCTAssertEqual(report.layers.map(\.name), computed, "passes \(passes.map(\.name))")
            for (name, reference, error) in report.layers {
                XCTAssertLessThan(error.maxAbs, 1e-5, "\(name) vs \(reference): \(error)")
            }
            // A fused conv is compared with the ReLU that followed it in the plain graph.
            if !passes.isEmpty {
                let first = report.layers.first { $0.name == "down_conv.0.first" }
                XCTAssertEqual(first?.reference, "down_conv.0.first.relu")
                XCTAssertEqual(report.layers.first { $0.name == "final_conv" }?.reference, "final_conv")
            } else {
                XCTAssertTrue(report.layers.allSatisfy { $0.name == $0.reference })
            }
            XCTAssertLessThan(report.vsInterpreter.maxAbs, 1e-5)
        }
    }

    func testNaNPropagatesAsInPyTorch() throws {
        // PyTorch's relu and max pooling keep NaN, and so do the interpreter and the unfused C
        // kernels. A NaN input pixel spreads over the whole 32 x 32 output of the odd fixture; the
        // C must give the same NaNs with and without the passes (fused conv+relu included).
        let f = try Fixture.load("odd")
        var x = f.input
        x.data[3 * 45 + 7] = .nan
        let expected = try Interpreter.output(try f.graph(), weights: f.weights, input: x).data
        XCTAssertEqual(expected.filter(\.isNaN).count, expected.count, "the interpreter propagates the NaN everywhere")
        let cc = try TestToolchain.compiler()
        let variants: [(String, [Pass])] = [("none", []), ("standard", Pipeline.standard), ("fuse-activation", [Pipeline.fuseActivation])]
        try concurrently(variants, { _, passes -> [Float] in
            var options = GeneratorOptions()
            options.passes = passes
            let program = try Generator.generate(f.weights, batch: 1, height: 37, width: 45, options: options)
            let built = try Verifier.build(program, cc: cc, flags: Toolchain.defaultFlags)
            defer { try? FileManager.default.removeItem(atPath: built.directory) }
            return try Verifier.execute(built, input: x, outputCount: expected.count, threads: nil, trace: false).output
        }) { variant, out in
            let nanMismatches = zip(out, expected).filter { $0.isNaN != $1.isNaN }.count
            XCTAssertEqual(nanMismatches, 0, "passes \(variant.0): \(nanMismatches) of \(out.count) outputs differ in NaN-ness from the interpreter (C has \(out.filter(\.isNaN).count) NaNs)")
        }
    }

    // MARK: Portable, warning-free, freestanding C

    func testWarningFreeCompiles() throws {
        let f = try Fixture.load("tiny")
        let program = try Generator.generate(f.weights, batch: 1, height: 32, width: 32)
        let dir = try makeTemporaryDirectory(self)
        try program.write(to: dir)
        // Without passes the standalone relu, crop and concat kernels are in unet.c too.
        var unoptimised = GeneratorOptions()
        unoptimised.passes = []
        let plainDir = try makeTemporaryDirectory(self)
        try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: unoptimised).write(to: plainDir)
        // Tiles one row high on "small": its 64-row convs give each thread rows of its own. The
        // decoder's flat, and the transposed convs'.
        let small = try Fixture.load("small")
        var rows = GeneratorOptions()
        for node in try Pipeline.run(try small.graph()).nodes {
            switch node.op {
            case .conv(3, _, _): rows.tiling[node.name] = LayerTiling(r: 4, nv: 1, rb: 5, nr: 1, flat: node.name.hasPrefix("up_conv"))
            case .convTranspose: rows.tiling[node.name] = LayerTiling(r: 3, nv: 2, rb: 4, flat: true)
            default: break
            }
        }
        let rowsDir = try makeTemporaryDirectory(self)
        let rowsProgram = try Generator.generate(small.weights, batch: 1, height: small.height, width: small.width, options: rows)
        let rowsSource = String(decoding: rowsProgram.source(), as: UTF8.self)
        XCTAssertTrue(rowsSource.contains("Each thread claims bands of whole rows of tiles"))
        XCTAssertTrue(rowsSource.contains("unet_conv3_flat_4x1("))
        XCTAssertTrue(rowsSource.contains("unet_convT_flat_3x2("))
        try rowsProgram.write(to: rowsDir)
        let strict = ["-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O2", "-c"]
        var jobs: [(cc: String, flags: [String], dir: String)] = []
        for cc in ["clang", "gcc"] where Toolchain.which(cc) != nil {
            for std in ["-std=c99", "-std=c11"] {
                for omp in [[], ["-fopenmp"]] { jobs.append((cc, [std] + omp + strict, dir)) }
            }
            jobs.append((cc, ["-std=c99", "-fopenmp"] + strict, plainDir))
            for omp in [[], ["-fopenmp"]] { jobs.append((cc, ["-std=c99"] + omp + strict, rowsDir)) }
        }
        if Toolchain.which("clang") != nil {
            for target in ["aarch64-linux-gnu", "thumbv7em-none-eabihf"] {
                jobs.append(("clang", ["--target=\(target)", "-std=c99"] + strict, dir))
            }
        }
        XCTAssertGreaterThanOrEqual(jobs.count, 12, "clang and gcc should both be installed")
        let results = concurrentMap(Array(jobs.enumerated())) { i, job -> (String, Result<(status: Int32, output: String), Error>) in
            let args = job.flags + [job.dir + "/unet.c", "-I", job.dir, "-o", "\(job.dir)/unet\(i).o"]
            return ("\(job.cc) \(job.flags.joined(separator: " ")) \(job.dir == plainDir ? "(no passes)" : job.dir == rowsDir ? "(rows)" : "")",
                    Result { try Toolchain.run(job.cc, args) })
        }
        for (command, result) in results {
            switch result {
            case .success(let r): XCTAssertEqual(r.status, 0, "\(command):\n\(r.output)")
            case .failure(let e): XCTFail("\(command): \(e)")
            }
        }
    }

    func testSourceIncludesOnlyStddefAndNoMalloc() throws {
        let f = try Fixture.load("odd")
        for passes in [Pipeline.standard, []] {
            var options = GeneratorOptions()
            options.passes = passes
            let program = try Generator.generate(f.weights, batch: 1, height: 37, width: 45, options: options)
            let source = String(decoding: program.source(), as: UTF8.self)
            let includes = source.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("#include") }
            XCTAssertEqual(includes, ["#include <stddef.h>", "#include \"unet.h\""])
            let header = program.header
            XCTAssertFalse(header.contains("#include"))
            // The code, not the comments (the prelude's comment says "no malloc").
            let code = withoutComments(source), headerCode = withoutComments(header)
            XCTAssertTrue(code.contains("unet_run"))
            for banned in ["malloc", "calloc", "realloc", "free", "alloca", "printf", "FILE", "stdio", "math.h", "stdlib"] {
                XCTAssertFalse(code.contains(banned), "unet.c uses \(banned)")
                XCTAssertFalse(headerCode.contains(banned), "unet.h uses \(banned)")
            }
            XCTAssertTrue(header.contains("int unet_run(const float *input, float *output, void *workspace);"))
            XCTAssertTrue(header.contains("#define UNET_IN_HEIGHT 37"))
            XCTAssertTrue(header.contains("#define UNET_OUT_WIDTH 32"))
            XCTAssertTrue(header.contains("#define UNET_WORKSPACE_BYTES \(program.plan.arenaBytes)u"))
        }
    }

    func testWeightsAreEmittedAsExactBitPatterns() throws {
        let f = try Fixture.load("tiny")
        let program = try Generator.generate(f.weights, batch: 1, height: 32, width: 32)
        let source = program.source()
        let text = String(decoding: source, as: UTF8.self)
        let start = try XCTUnwrap(text.range(of: "unet_w[\((program.weights.count * 4 + 4091) / 4092)][UNET_W_ROW] __attribute__((aligned(64))) = {\n"))
        let end = try XCTUnwrap(text.range(of: "\n};", range: start.upperBound..<text.endIndex))
        // Decode the string literals as a C compiler would: raw characters and octal escapes.
        var bytes: [UInt8] = []
        for line in text[start.upperBound..<end.lowerBound].split(separator: "\n") {
            let body = Array(line.utf8.dropFirst().dropLast(2))       // "..." ,
            XCTAssertLessThanOrEqual(body.count, 4 * 4092)
            var i = 0, rowBytes = 0
            while i < body.count {
                if body[i] == UInt8(ascii: "\\") {
                    var v = 0, n = 0
                    i += 1
                    while n < 3, i < body.count, (48...55).contains(body[i]) { v = v * 8 + Int(body[i] - 48); i += 1; n += 1 }
                    XCTAssertGreaterThan(n, 0)
                    bytes.append(UInt8(v))
                } else {
                    XCTAssertNotEqual(body[i], UInt8(ascii: "\""))
                    XCTAssertNotEqual(body[i], UInt8(ascii: "?"))
                    bytes.append(body[i]); i += 1
                }
                rowBytes += 1
            }
            XCTAssertLessThanOrEqual(rowBytes, 4092)
        }
        XCTAssertEqual(bytes, program.weightsBinary())
        // Every parameter appears (packed, possibly padded): the count is at least the parameter count.
        XCTAssertGreaterThanOrEqual(program.weights.count, f.weights.config.parameterCount)
    }

    /// `text` without its C comments (block and line), string literals left alone.
    func withoutComments(_ text: String) -> String {
        var out = "", i = text.startIndex
        while i < text.endIndex {
            let rest = text[i...]
            if rest.hasPrefix("/*") {
                i = rest.range(of: "*/").map { $0.upperBound } ?? text.endIndex
                out += " "
            } else if rest.hasPrefix("//") {
                i = rest.firstIndex(of: "\n") ?? text.endIndex
            } else if rest.hasPrefix("\"") {
                var j = text.index(after: i)
                while j < text.endIndex && text[j] != "\"" { j = text[j] == "\\" ? text.index(j, offsetBy: 2) : text.index(after: j) }
                j = min(text.index(after: j), text.endIndex)
                out += text[i..<j]
                i = j
            } else {
                out.append(text[i])
                i = text.index(after: i)
            }
        }
        return out
    }

    func testCommentStripper() {
        XCTAssertEqual(withoutComments("a /* malloc */ b // free\nc \"/* x */\""), "a   b \nc \"/* x */\"")
    }

    // MARK: External weights

    func testExternalWeights() throws {
        let f = try Fixture.load("odd")
        let report = try verify(f) { $0.generator.externalWeights = true }
        XCTAssertLessThan(report.vsInterpreter.maxAbs, 1e-5, "\(report.vsInterpreter)")
        let program = report.program
        XCTAssertTrue(program.externalWeights)
        let source = String(decoding: program.source(), as: UTF8.self)
        XCTAssertFalse(source.contains("unet_w __attribute__"), "no weights in unet.c")
        XCTAssertTrue(source.contains("int unet_set_weights(const void *weights)"))
        XCTAssertTrue(program.header.contains("#define UNET_WEIGHTS_BYTES \(program.weights.count * 4)u"))
        XCTAssertTrue(program.header.contains("int unet_set_weights(const void *weights);"))
        // unet_weights.bin holds the same packed floats, little-endian.
        let bin = program.weightsBinary()
        XCTAssertEqual(bin.count, program.weights.count * 4)
        var decoded: [UInt32] = []
        for i in 0..<program.weights.count {
            var word: UInt32 = 0
            for byte in 0..<4 { word |= UInt32(bin[4 * i + byte]) << UInt32(8 * byte) }
            decoded.append(word)
        }
        XCTAssertEqual(decoded, program.weights.map(\.bitPattern))
        // The embedded program packs the very same weights.
        let embedded = try Generator.generate(f.weights, batch: 1, height: 37, width: 45)
        XCTAssertTrue(bitIdentical(embedded.weights, program.weights))
        let dir = try makeTemporaryDirectory(self)
        try program.write(to: dir)
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/unet_weights.bin"), Data(bin))
        // And it compiles warning-free too.
        let r = try Toolchain.run("clang", ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O2", "-fopenmp", "-c",
                                            dir + "/unet.c", "-I", dir, "-o", dir + "/unet.o"])
        XCTAssertEqual(r.status, 0, r.output)
    }

    // MARK: Determinism

    func testDeterministicSourceAndThreadCounts() throws {
        let f = try Fixture.load("small")
        let a = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width)
        let b = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width)
        XCTAssertEqual(a.source(), b.source())
        XCTAssertEqual(a.header, b.header)
        let built = try Verifier.build(a, cc: try TestToolchain.compiler(), flags: Toolchain.defaultFlags)
        defer { try? FileManager.default.removeItem(atPath: built.directory) }
        var outputs: [[Float]] = []
        for threads in [1, 2, 3] {
            outputs.append(try Verifier.execute(built, input: f.input, outputCount: f.output.count, threads: threads, trace: false).output)
        }
        XCTAssertTrue(bitIdentical(outputs[0], outputs[1]), "1 vs 2 threads: \(maxAbsDiff(outputs[0], outputs[1]))")
        XCTAssertTrue(bitIdentical(outputs[0], outputs[2]), "1 vs 3 threads: \(maxAbsDiff(outputs[0], outputs[2]))")
        XCTAssertLessThanOrEqual(maxAbsDiff(outputs[0], f.outputF64.data), 5e-5)
        // The same program written to disk twice is the same bytes.
        let d1 = try makeTemporaryDirectory(self), d2 = try makeTemporaryDirectory(self)
        try a.write(to: d1)
        try b.write(to: d2)
        for file in ["unet.c", "unet.h"] {
            XCTAssertEqual(FileManager.default.contents(atPath: "\(d1)/\(file)"), FileManager.default.contents(atPath: "\(d2)/\(file)"), file)
        }
        XCTAssertEqual(FileManager.default.contents(atPath: "\(d1)/unet.c"), Data(a.source()))
    }

    // MARK: Vector widths and tilings

    func testVectorWidths() throws {
        let f = try Fixture.load("odd")
        try concurrently([4, 8, 16], { v in try self.verify(f) { $0.generator.vectorWidth = v } }) { v, report in
            XCTAssertLessThan(report.vsInterpreter.maxAbs, 1e-5, "vector width \(v): \(report.vsInterpreter)")
            XCTAssertTrue(String(decoding: report.program.source(), as: UTF8.self).contains("#define UNET_V \(v)\n"))
        }
    }

    /// With 16 vector registers (AVX2, SSE) the default tiles hold 12 accumulators, so that
    /// with their inputs and a broadcast they fit; the programs still compute the fixtures, on
    /// both algorithms, at vectors of 8 (AVX2's) and 16 (two registers each, slow but right).
    func testSixteenRegisterTilesFitAndVerify() throws {
        let cases: [(String, Int, AlgorithmChoice)] = [("small", 8, .direct), ("small", 8, .winograd),
                                                        ("odd", 8, .auto), ("batch", 16, .auto)]
        try concurrently(cases, { name, v, algorithm in
            try self.verify(try Fixture.load(name)) {
                $0.generator.vectorWidth = v
                $0.generator.vectorRegisters = 16
                $0.generator.algorithm = algorithm
            }
        }) { c, report in
            XCTAssertLessThanOrEqual(report.vsInterpreter.maxAbs, 2e-5, "\(c): \(report.vsInterpreter)")
            XCTAssertLessThanOrEqual(report.vsReference!.maxAbs, 5e-5, "\(c): \(report.vsReference!)")
            for node in report.program.graph.nodes {
                guard let t = report.program.tilings[node.name] else { continue }
                let registers: Int
                switch (node.op, t.algorithm) {
                case (.convTranspose, _): registers = (t.splitRows ? 2 : 4) * t.r * t.nv + t.nv + 1
                case (_, .winograd): registers = t.r * t.nv + t.nv + 1
                default: registers = t.r * t.nr * t.nv + t.nr * t.nv + 1
                }
                XCTAssertLessThanOrEqual(registers, 16, "\(c) \(node.name): \(t)")
            }
        }
        // And at the classic model's sizes, where the 32-register tiles were chosen before.
        for size in [256, 512] {
            let graph = try Pipeline.run(try UNetConfig.classic.build(batch: 1, height: size, width: size))
            for node in graph.nodes {
                guard let t = Tiling.defaults(node, in: graph, vectorWidth: 8, registers: 16) else { continue }
                let cin = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
                if case .convTranspose = node.op {
                    // 3 x 2 with split rows, except where two vectors pad the rows (8 columns).
                    XCTAssertEqual((t.splitRows ? 2 : 4) * t.r * t.nv, 12, "\(node.name): \(t)")
                    XCTAssertEqual(t.splitRows, graph.nodes[node.inputs[0]].shape.w > 8, "\(size) \(node.name): \(t)")
                    // Bands of a 128 KiB panel (one row at least).
                    let pw = Tiling.panelWidth(w: graph.nodes[node.inputs[0]].shape.w, p: 0, tileWidth: t.nv * 8, flat: false)
                    XCTAssertTrue(t.rb == 1 || cin * pw * t.rb * 4 <= 128 << 10, "\(size) \(node.name): \(t)")
                } else if node.shape.c >= 6 {
                    XCTAssertEqual(t.r * t.nr * t.nv, 12, "\(node.name): \(t)")
                    // 3x3: the blocks outer, chunks of 32 input channels (16 on the 512-wide
                    // maps), and bands whose chunk of the panel fits 256 KiB.
                    XCTAssertFalse(t.blocksInner, "\(node.name): \(t)")
                    let kc = node.shape.w >= 512 ? 16 : 32
                    XCTAssertEqual(t.kc, cin > kc ? kc : 0, "\(size) \(node.name): \(t)")
                    let pw = Tiling.panelWidth(w: node.shape.w, p: 1, tileWidth: t.nv * 8, flat: t.flat)
                    XCTAssertLessThanOrEqual((t.rb + 2) * pw * min(kc, cin) * 4, 256 << 10, "\(size) \(node.name): \(t)")
                }
                if Tiling.winogradApplies(node) {
                    let w = Tiling.winogradDefaults(node, in: graph, vectorWidth: 8, registers: 16, m: 4)
                    XCTAssertEqual(w.r * w.nv, 12, "\(node.name): \(w)")
                }
            }
        }
    }

    /// The vector unit read off /proc/cpuinfo's flags (what `-march=native` compiles for).
    func testVectorUnitFromCPUInfo() {
        let flags = { (f: String) in "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse sse2 \(f) pni\n" }
        XCTAssertEqual(VectorUnit.from(cpuinfo: flags("avx avx2 fma avx512f avx512bw"), architecture: "x86_64"), .avx512)
        XCTAssertEqual(VectorUnit.from(cpuinfo: flags("avx avx2 fma"), architecture: "x86_64"), .avx2)
        XCTAssertEqual(VectorUnit.from(cpuinfo: flags("avx"), architecture: "x86_64"), VectorUnit(width: 8, registers: 16))
        XCTAssertEqual(VectorUnit.from(cpuinfo: flags("ssse3"), architecture: "x86_64"), .sse)
        XCTAssertEqual(VectorUnit.from(cpuinfo: flags("avx512_fp16"), architecture: "x86_64"), .sse, "a flag is a whole word")
        XCTAssertNil(VectorUnit.from(cpuinfo: "", architecture: "x86_64"))
        XCTAssertEqual(VectorUnit.from(cpuinfo: "", architecture: "aarch64"), .neon)
        XCTAssertNil(VectorUnit.from(cpuinfo: flags("avx512f"), architecture: "riscv64"))
    }

    func testCustomTilingsExerciseTails() throws {
        // (fixture, vector width, conv tiling); transposed convs get the same r, nv, rb and flat
        // with one-row tiles. Odd sizes: tails in channels (r), rows (rb, nr), columns (nv) and chunks (kc).
        let cases: [(String, Int, LayerTiling)] = [
            ("odd", 4, LayerTiling(r: 3, nv: 1, rb: 2)),
            ("odd", 8, LayerTiling(r: 5, nv: 2, rb: 3, nr: 2, kc: 3)),
            ("batch", 16, LayerTiling(r: 1, nv: 3, rb: 1, nr: 3, kc: 1)),
            ("batch", 4, LayerTiling(r: 7, nv: 4, rb: 5, nr: 4, kc: 5)),
            // The blocks of output channels innermost, with chunks and tails everywhere; the
            // transposed convs' tiles one output row each (split rows).
            ("odd", 8, LayerTiling(r: 5, nv: 2, rb: 3, nr: 2, kc: 3, blocksInner: true, splitRows: true)),
            ("batch", 4, LayerTiling(r: 7, nv: 3, rb: 1, splitRows: true)),
            // Flat tiles: chunks (partial sums gathered pixel by pixel), the final 1x1 conv with
            // no pad columns, tiles that cross rows and bands, a last tile past the band; the
            // transposed convs' vectors within a row and across rows.
            ("odd", 4, LayerTiling(r: 3, nv: 2, rb: 3, kc: 5, flat: true)),
            ("batch", 16, LayerTiling(r: 5, nv: 1, rb: 2, flat: true)),
        ]
        func tiling(_ graph: Graph, _ t: LayerTiling) -> [String: LayerTiling] {
            var out: [String: LayerTiling] = [:]
            for node in graph.nodes {
                switch node.op {
                case .conv: out[node.name] = t; out[node.name]!.splitRows = false
                case .convTranspose: out[node.name] = LayerTiling(r: t.r, nv: t.nv, rb: t.rb, flat: t.flat, splitRows: t.splitRows)
                case .input, .relu, .maxPool, .crop, .view, .concat, .output: break
                }
            }
            return out
        }
        try concurrently(cases, { name, v, t -> (Verifier.Report, [String: LayerTiling]) in
            let f = try Fixture.load(name)
            let expected = tiling(try Pipeline.run(try f.graph()), t)
            let report = try self.verify(f) {
                $0.generator.vectorWidth = v
                $0.generator.tiling = expected
            }
            return (report, expected)
        }) { c, result in
            let (report, expected) = result
            XCTAssertLessThan(report.vsInterpreter.maxAbs, 1e-5, "\(c.0) v \(c.1), \(c.2): \(report.vsInterpreter)")
            XCTAssertEqual(report.program.tilings, expected, "\(c.2)")
        }
    }

    func testInvalidOptionsAreErrors() throws {
        let f = try Fixture.load("tiny")
        var options = GeneratorOptions()
        options.vectorWidth = 3
        assertThrows(try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options),
                     containing: ["vector width 3"])
        options = GeneratorOptions()
        options.vectorRegisters = 8
        assertThrows(try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options),
                     containing: ["vector registers 8"])
        options = GeneratorOptions()
        options.tiling = ["down_conv.0.first": LayerTiling(r: 0, nv: 1, rb: 1)]
        assertThrows(try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options),
                     containing: ["tiling for down_conv.0.first", "out of range"])
        options.tiling = ["up_sample.0.up": LayerTiling(r: 4, nv: 9, rb: 1)]
        assertThrows(try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options),
                     containing: ["tiling for up_sample.0.up", "nv=9", "out of range"])
        options.tiling = ["up_conv.1.second": LayerTiling(r: 4, nv: 1, rb: 1, nr: 9)]
        assertThrows(try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options),
                     containing: ["tiling for up_conv.1.second", "nr=9", "out of range"])
        options.tiling = ["down_conv.2.first": LayerTiling(r: 4, nv: 1, rb: 1, kc: -1)]
        assertThrows(try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options),
                     containing: ["tiling for down_conv.2.first", "kc=-1", "out of range"])
        options.tiling = ["up_sample.1.up": LayerTiling(r: 4, nv: 1, rb: 1, nr: 2)]
        assertThrows(try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options),
                     containing: ["tiling for up_sample.1.up", "one row high"])
        options.tiling = ["up_conv.1.second": LayerTiling(r: 4, nv: 1, rb: 1, nr: 2, flat: true)]
        assertThrows(try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options),
                     containing: ["tiling for up_conv.1.second", "nr=2", "flat", "one row high (nr 1)"])
        options.tiling = ["up_conv.1.second": LayerTiling(r: 4, nv: 1, rb: 1, flat: true, blocksInner: true)]
        assertThrows(try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options),
                     containing: ["tiling for up_conv.1.second", "blocks inner", "row tiles"])
        options.tiling = ["up_sample.1.up": LayerTiling(r: 4, nv: 1, rb: 1, blocksInner: true)]
        assertThrows(try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options),
                     containing: ["tiling for up_sample.1.up", "blocks inner"])
        options.tiling = ["up_conv.1.second": LayerTiling(r: 4, nv: 1, rb: 1, splitRows: true)]
        assertThrows(try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options),
                     containing: ["tiling for up_conv.1.second", "split rows", "transposed convs with row tiles"])
        options.tiling = ["up_sample.1.up": LayerTiling(r: 4, nv: 1, rb: 1, flat: true, splitRows: true)]
        assertThrows(try Generator.generate(f.weights, batch: 1, height: 32, width: 32, options: options),
                     containing: ["tiling for up_sample.1.up", "split rows"])
    }

    /// Flat tiles compute each output with the FMAs of row tiles in the same order, so the
    /// output is the same bit for bit, on the shared bands and the rows of each thread's own,
    /// on any thread count; the transposed convs' too.
    func testFlatTilesGiveTheRowTilesOutputBitForBit() throws {
        let f = try Fixture.load("small")
        let graph = try Pipeline.run(try f.graph())
        var rowTiles = GeneratorOptions(), flatTiles = GeneratorOptions()
        rowTiles.algorithm = .direct
        for node in graph.nodes {
            if case .conv(3, _, _) = node.op {
                // Bands of 5 rows: the 64-row maps give each thread rows of its own.
                rowTiles.tiling[node.name] = LayerTiling(r: 4, nv: 1, rb: 5)
                flatTiles.tiling[node.name] = LayerTiling(r: 4, nv: 1, rb: 5, flat: true)
            }
            if case .convTranspose = node.op {
                rowTiles.tiling[node.name] = LayerTiling(r: 3, nv: 1, rb: 3)
                flatTiles.tiling[node.name] = LayerTiling(r: 3, nv: 1, rb: 3, flat: true)
            }
        }
        flatTiles.algorithm = .direct
        let input = Tensor(shape: [2] + f.input.shape.dropFirst(), data: f.input.data + f.input.data.reversed())
        var outputs: [[Float]] = []
        for options in [rowTiles, flatTiles] {
            let program = try Generator.generate(f.weights, batch: 2, height: f.height, width: f.width, options: options)
            let source = String(decoding: program.source(), as: UTF8.self)
            XCTAssertEqual(source.contains("unet_conv3_flat_4x1("), options.tiling.values.allSatisfy(\.flat))
            XCTAssertEqual(source.contains("unet_convT_flat_3x1("), options.tiling.values.allSatisfy(\.flat))
            XCTAssertFalse(program.ownThreads.isEmpty)
            let built = try Verifier.build(program, cc: try TestToolchain.compiler(), flags: Toolchain.defaultFlags)
            defer { try? FileManager.default.removeItem(atPath: built.directory) }
            for threads in [1, 2, 3] {
                outputs.append(try Verifier.execute(built, input: input, outputCount: 2 * f.outputF64.data.count,
                                                    threads: threads, trace: false).output)
            }
        }
        for i in 1..<outputs.count { XCTAssertTrue(bitIdentical(outputs[0], outputs[i]), "run \(i)") }
        XCTAssertLessThanOrEqual(maxAbsDiff(Array(outputs[0].prefix(f.outputF64.data.count)), f.outputF64.data), 5e-5)
    }

    /// Flat tiles where rows of whole vectors would pad a map's rows by more than what flat
    /// tiles cost beyond their FMAs: at 300x300 the 37-, 36-, 18- and 72-wide maps (48, 48, 32
    /// and 80 columns computed by row tiles against 39, 38, 20 and 74), at 572x572 the 71-, 70-
    /// and 35-wide ones; none at 256x256, 512x512 or 1000x1000, whose rows are whole vectors or
    /// close to it. The transposed convs: every one at 300x300 (input rows 18, 36, 72 and 144
    /// wide: the last two vectors across rows cost less than one vector with a broadcast per
    /// FMA), the 35-, 71- and 142-wide ones at 572x572, the 16-wide one at 256x256.
    func testConvsOfNarrowMapsTakeFlatTiles() throws {
        let level3 = ["down_conv.3.first", "down_conv.3.second", "middle_conv.first", "middle_conv.second",
                      "up_conv.0.first", "up_conv.0.second"]
        for (size, convs, transposed) in [(300, level3 + ["up_conv.1.first", "up_conv.1.second"], [0, 1, 2, 3]),
                                          (572, level3, [0, 1, 2]), (256, [], [0]), (512, [], []), (1000, [], [])] {
            let graph = try Pipeline.run(try UNetConfig(inChannels: 3, outChannels: 1, base: 64, depth: 4)
                .build(batch: 1, height: size, width: size))
            let flat = graph.nodes.filter { Tiling.defaults($0, in: graph, vectorWidth: 16)?.flat ?? false }.map(\.name)
            XCTAssertEqual(flat.filter { !$0.hasPrefix("up_sample") }, convs, "\(size)x\(size)")
            XCTAssertEqual(flat.filter { $0.hasPrefix("up_sample") }, transposed.map { "up_sample.\($0).up" }, "\(size)x\(size)")
        }
    }

    func testDefaultTilingsAreValid() throws {
        for f in try Fixture.all() {
            let graph = try Pipeline.run(try f.graph())
            for v in [1, 2, 4, 8, 16, 32] {
                for node in graph.nodes {
                    let t = Tiling.defaults(node, in: graph, vectorWidth: v)
                    XCTAssertEqual(t != nil, node.op.hasWeights, node.name)
                    if let t { XCTAssertNoThrow(try Tiling.validate(t, for: node), "\(f.name) \(node.name) v \(v): \(t)") }
                }
            }
        }
    }

    /// The tiles of a block prefetch the next block's weights between them: the 16x16 convs of
    /// the classic model at 256x256 (8 tiles of 8 channels x 2 rows a block) 9 of each channel's
    /// 72 floats a tile, up_sample.0 (8 flat tiles of 3 channels x 4 taps) 2 of 12 in 6 slices;
    /// never past a block's weights for the chunk, less than a step short of them, and none
    /// for a 1x1 conv or with the blocks innermost.
    func testTilesPrefetchTheNextBlocksWeights() throws {
        let classic = try Pipeline.run(try UNetConfig(inChannels: 3, outChannels: 1, base: 64, depth: 4)
            .build(batch: 1, height: 256, width: 256))
        func prefetch(_ node: Node, _ graph: Graph, _ t: LayerTiling, v: Int) -> (step: Int, slices: Int) {
            let w = node.shape.w, tw = t.nv * v
            return Tiling.prefetch(t, k: 3, bandRows: min(node.shape.h, t.rb), pw: Tiling.panelWidth(w: w, p: 1, tileWidth: tw, flat: t.flat),
                                   width: w, vectorWidth: v)
        }
        let middle = classic.nodes.first { $0.name == "middle_conv.second" }!
        let t = Tiling.defaults(middle, in: classic, vectorWidth: 16)!
        XCTAssertEqual(prefetch(middle, classic, t, v: 16).step, 9)
        XCTAssertEqual(prefetch(middle, classic, t, v: 16).slices, 8)
        var inner = t
        inner.blocksInner = true
        XCTAssertEqual(prefetch(middle, classic, inner, v: 16).step, 0)
        XCTAssertEqual(Tiling.prefetch(t, k: 1, bandRows: 16, pw: 16, width: 16, vectorWidth: 16).step, 0)
        let up = classic.nodes.first { $0.name == "up_sample.0.up" }!
        let ut = Tiling.defaults(up, in: classic, vectorWidth: 16)!
        XCTAssertTrue(ut.flat)
        let upPrefetch = Tiling.prefetch(ut, k: 2, bandRows: ut.rb, pw: Tiling.panelWidth(w: 16, p: 0, tileWidth: ut.nv * 16, flat: true),
                                         width: 16, vectorWidth: 16)
        XCTAssertEqual(upPrefetch.step, 2)
        XCTAssertEqual(upPrefetch.slices, 6)
        for f in try Fixture.all() {
            let graph = try Pipeline.run(try f.graph())
            for v in [4, 8, 16] {
                for node in graph.nodes {
                    guard case .conv(let k, _, _) = node.op, let t = Tiling.defaults(node, in: graph, vectorWidth: v) else { continue }
                    let p = prefetch(node, graph, t, v: v)
                    XCTAssertLessThanOrEqual(p.step * p.slices, k * k * t.r, "\(f.name) \(node.name) v \(v)")
                    if p.step > 0 { XCTAssertGreaterThan((p.slices + 1) * p.step, k * k * t.r, "\(f.name) \(node.name) v \(v)") }
                }
            }
        }
    }

    /// A transposed conv reads all its weights once per band: where the whole input map fits
    /// 1 MiB it is one band (the classic model's up_sample.0 at 256x256: 1024 x 16 rows x 16
    /// floats); otherwise bands of 256 KiB.
    func testTransposedConvBandsTakeTheWholeMapWhereItFits() throws {
        let graph = try Pipeline.run(try UNetConfig(inChannels: 3, outChannels: 1, base: 64, depth: 4)
            .build(batch: 1, height: 256, width: 256))
        var rb: [String: Int] = [:]
        for node in graph.nodes {
            if case .convTranspose = node.op { rb[node.name] = Tiling.defaults(node, in: graph, vectorWidth: 16)!.rb }
        }
        XCTAssertEqual(rb, ["up_sample.0.up": 16, "up_sample.1.up": 4, "up_sample.2.up": 4, "up_sample.3.up": 4])
    }

    /// A transposed conv's tile is 3 output channels x 2 vectors of columns where its input is
    /// two vectors wide, so that each weight broadcast feeds two FMAs; 6 x 1 on narrower maps,
    /// unless flat tiles of 3 x 2 vectors of pixels across rows cost less.
    func testTransposedConvTilesTakeTwoVectorsWhereTheMapIsThatWide() throws {
        // At 256x256 the inputs are 16, 32, 64 and 128 columns: two vectors from 32 up, and flat
        // 3 x 2 for 16. At 572x572, 35, 71, 143 and 286: two vectors of a row would compute 64,
        // 96 and 160 columns where one computes 48, 80 and 144, and flat ones about what the
        // row holds, so flat; the last takes two of a row (288 either way). At 64x64 the first
        // (4x4: not two vectors of pixels) takes 6 x 1, and the 8- and 16-wide ones flat.
        for (size, expected) in [(256, ["3x2 flat", "3x2", "3x2", "3x2"]), (572, ["3x2 flat", "3x2 flat", "3x2 flat", "3x2"]),
                                 (64, ["6x1", "3x2 flat", "3x2 flat", "3x2"])] {
            let graph = try Pipeline.run(try UNetConfig(inChannels: 3, outChannels: 1, base: 64, depth: 4)
                .build(batch: 1, height: size, width: size))
            var tiles: [String: String] = [:]
            for node in graph.nodes {
                if case .convTranspose = node.op, let t = Tiling.defaults(node, in: graph, vectorWidth: 16) {
                    tiles[node.name] = "\(t.r)x\(t.nv)" + (t.flat ? " flat" : "")
                }
            }
            XCTAssertEqual(tiles, Dictionary(uniqueKeysWithValues: (0..<4).map { ("up_sample.\($0).up", expected[$0]) }),
                           "\(size)x\(size)")
        }
    }

    func testWinogradTakesOneVectorOfTilesWhereTwoWouldLeaveL2() throws {
        // F4 with 256 input channels: one vector of tiles' transformed input is 576 KiB (fits
        // the 640 KiB block budget), two do not. Fewer channels, more, or F2: the padding rule.
        // 24 output channels a tile, or 16 for the 128 of up_conv.2.first (24 would pad them
        // to 144).
        let expected = ["down_conv.2.second": 24, "down_conv.3.first": 24, "up_conv.1.second": 24, "up_conv.2.first": 16]
        for size in [256, 512] {
            let graph = try Pipeline.run(try UNetConfig(inChannels: 3, outChannels: 1, base: 64, depth: 4)
                .build(batch: 1, height: size, width: size))
            var wide: [String: Int] = [:]
            for node in graph.nodes where Tiling.useWinograd(node, in: graph) {
                let t = Tiling.winogradDefaults(node, in: graph, vectorWidth: 16, m: Tiling.winogradTile(node))
                let cin = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
                if t.nv == 1 && (t.r == 24 || t.r == 16 && cin == 256) { wide[node.name] = t.r }
            }
            XCTAssertEqual(wide, expected, "\(size)x\(size)")
        }
    }

    func testWinogradWeightsGoOutermostWhereTheyOutweighTheBandsInput() throws {
        // Two blocks of tiles a band or more, and Cout at least twice the band's tiles.
        for (size, expected) in [(256, ["down_conv.2.first", "down_conv.2.second", "down_conv.3.first", "up_conv.1.second"]),
                                 (512, ["down_conv.2.second", "down_conv.3.first", "up_conv.1.second", "up_conv.2.first"])] {
            let graph = try Pipeline.run(try UNetConfig(inChannels: 3, outChannels: 1, base: 64, depth: 4)
                .build(batch: 1, height: size, width: size))
            var outer: [String] = []
            for node in graph.nodes where Tiling.useWinograd(node, in: graph) {
                let t = Tiling.winogradDefaults(node, in: graph, vectorWidth: 16, m: Tiling.winogradTile(node), threads: 2)
                if Tiling.winogradWeightsOuter(node, t, vectorWidth: 16) { outer.append(node.name) }
            }
            XCTAssertEqual(outer, expected, "\(size)x\(size)")
        }
    }

    func testWinogradTilesAndTheWholeMapBands() throws {
        // F4 from 32x32 up, F2 below; one band for the whole map where the weights pass 32 MiB
        // and the map's transformed input fits 16 MiB (the 32x32 layers with 512 channels or
        // more, and the 16x16 middle), not for the 64x64 ones at 512x512, whose whole map would
        // not fit.
        for (size, whole) in [(256, ["down_conv.3.second", "middle_conv.second", "up_conv.0.first", "up_conv.0.second"]),
                              (512, ["middle_conv.first", "middle_conv.second"])] {
            let graph = try Pipeline.run(try UNetConfig(inChannels: 3, outChannels: 1, base: 64, depth: 4)
                .build(batch: 1, height: size, width: size))
            var oneBand: [String] = []
            for node in graph.nodes where Tiling.useWinograd(node, in: graph) {
                let m = Tiling.winogradTile(node)
                XCTAssertEqual(m, node.shape.h >= 32 ? 4 : 2, node.name)
                let t = Tiling.winogradDefaults(node, in: graph, vectorWidth: 16, m: m)
                let cin = node.inputs.reduce(0) { $0 + graph.nodes[$1].shape.c }
                let weightBytes = (m + 2) * (m + 2) * cin * node.shape.c * 4
                if t.rb >= node.shape.h && weightBytes > 32 << 20 { oneBand.append(node.name) }
            }
            XCTAssertEqual(oneBand, whole, "\(size)x\(size)")
            // --memory-mode min: F4 from 64x64 up and no whole-map bands (its arena holds them).
            for node in graph.nodes where Tiling.useWinograd(node, in: graph) {
                let m = Tiling.winogradTile(node, memory: .min)
                XCTAssertEqual(m, node.shape.h >= 64 ? 4 : 2, node.name)
                let t = Tiling.winogradDefaults(node, in: graph, vectorWidth: 16, m: m, memory: .min)
                if whole.contains(node.name) && node.shape.h > 16 { XCTAssertLessThan(t.rb, node.shape.h, node.name) }
            }
        }
    }

    func testWinogradConvsWithManyBandsAndFewWeightsGiveEachThreadWholeBands() throws {
        // At least 8 bands and at most 3 MiB of transformed weights: the 64- and 128-channel
        // layers (F4, bands of one or two tile rows) but not up_conv.2.first (256 -> 128).
        for (size, expected) in [(256, ["down_conv.0.second", "down_conv.1.first", "down_conv.1.second",
                                        "up_conv.2.second", "up_conv.3.first", "up_conv.3.second"]),
                                 (128, ["down_conv.0.second", "up_conv.3.first", "up_conv.3.second"])] {
            let graph = try Pipeline.run(try UNetConfig(inChannels: 3, outChannels: 1, base: 64, depth: 4)
                .build(batch: 1, height: size, width: size))
            var own: [String] = []
            for node in graph.nodes where Tiling.useWinograd(node, in: graph) {
                let m = Tiling.winogradTile(node)
                let t = Tiling.winogradDefaults(node, in: graph, vectorWidth: 16, m: m)
                guard Tiling.threadBands(node, in: graph, t) else { continue }
                own.append(node.name)
                // Generated for 2 threads, their own bands are half as high (at least one row
                // of tiles); in min mode they are not.
                let mine = Tiling.winogradDefaults(node, in: graph, vectorWidth: 16, m: m, threads: 2)
                XCTAssertEqual(mine.rb, max(m, t.rb / 2 / m * m), node.name)
                XCTAssertTrue(Tiling.threadBands(node, in: graph, mine), node.name)
                XCTAssertEqual(Tiling.winogradDefaults(node, in: graph, vectorWidth: 16, m: m, memory: .min, threads: 2),
                               Tiling.winogradDefaults(node, in: graph, vectorWidth: 16, m: m, memory: .min), node.name)
            }
            XCTAssertEqual(own, expected, "\(size)x\(size)")
        }
    }

    func testConvsWithManyRowsGiveEachThreadRowsOfItsOwn() throws {
        // At least 40 rows of tiles for a conv with at most 2 MiB of weights, 64 (and an even
        // split) for one with more; 64 input rows for a transposed conv, which may also have at
        // most 2 MiB. At 256x256: the full-size convs (tiles 3 rows high: 86 rows of tiles) and
        // the 128x128 ones (43); the 64x64 ones (tiles one row high), whatever their weights;
        // the last two transposed convs (64 and 128 input rows). At 512x512 every conv but the
        // middle ones (32 rows), and every transposed conv but up_sample.0.up (32 input rows).
        let head = ["down_conv.0.first", "down_conv.0.second", "down_conv.1.first", "down_conv.1.second"]
        let tail = ["up_sample.3.up", "up_conv.3.first", "up_conv.3.second"]
        let ups = ["up_conv.1.first", "up_conv.1.second", "up_sample.2.up", "up_conv.2.first", "up_conv.2.second"]
        for (size, expected) in [(256, head + ["down_conv.2.first", "down_conv.2.second"] + ups + tail),
                                 (512, head + ["down_conv.2.first", "down_conv.2.second",
                                               "down_conv.3.first", "down_conv.3.second", "up_conv.0.first", "up_conv.0.second", "up_sample.1.up"]
                                     + ups + tail)] {
            let graph = try Pipeline.run(try UNetConfig(inChannels: 3, outChannels: 1, base: 64, depth: 4)
                .build(batch: 1, height: size, width: size))
            let own = graph.nodes.filter { node in
                Tiling.defaults(node, in: graph, vectorWidth: 16).map { Tiling.threadRows(node, in: graph, $0, threads: 2) } ?? false
            }
            XCTAssertEqual(own.map(\.name), expected, "\(size)x\(size)")
        }
        // A conv with more than 2 MiB of weights only where its rows of tiles split evenly: at
        // 572x572 up_conv.0 (70 rows), not down_conv.3 (71); at 512x512 on 3 threads none.
        for (size, threads, heavy) in [(572, 2, ["up_conv.0.first", "up_conv.0.second"]), (512, 3, [])] {
            let graph = try Pipeline.run(try UNetConfig(inChannels: 3, outChannels: 1, base: 64, depth: 4)
                .build(batch: 1, height: size, width: size))
            let own = graph.nodes.filter { node in
                guard case .conv(3, _, _) = node.op, node.inputs.reduce(0, { $0 + graph.nodes[$1].shape.c }) * node.shape.c * 36 > 2 << 20,
                      let t = Tiling.defaults(node, in: graph, vectorWidth: 16) else { return false }
                return Tiling.threadRows(node, in: graph, t, threads: threads)
            }
            XCTAssertEqual(own.map(\.name), heavy, "\(size)x\(size), \(threads) threads")
        }
    }

    /// Direct convs and transposed convs whose threads take rows of their own: a panel per
    /// thread, and the same output bit for bit on any thread count (1 and 2 on the rows of their
    /// own, 3 and 5 on shared bands), for one image, a batch of two, and an image twice the
    /// size (whose last transposed conv has 64 input rows).
    func testDirectThreadRowsTakeAPanelPerThreadAndChangeNoBit() throws {
        let f = try Fixture.load("small")
        var options = GeneratorOptions()
        options.algorithm = .direct
        // Tiles one row high, bands of 5 rows: the 64-row maps have rows of tiles enough (and a
        // last band cut short on each thread), the smaller ones not.
        let graph = try Pipeline.run(try f.graph())
        for node in graph.nodes {
            if case .conv(3, _, _) = node.op { options.tiling[node.name] = LayerTiling(r: 4, nv: 1, rb: 5, nr: 1) }
        }
        let own = graph.nodes.filter { node in options.tiling[node.name].map { Tiling.threadRows(node, in: graph, $0, threads: 2) } ?? false }
        XCTAssertFalse(own.isEmpty)
        XCTAssertLessThan(own.count, options.tiling.count)
        var scratch: [Int: [String: Int]] = [:]
        for threads in [1, 2, 4] {
            options.threads = threads
            let program = try Generator.generate(f.weights, batch: 1, height: f.height, width: f.width, options: options)
            XCTAssertEqual(String(decoding: program.source(), as: UTF8.self).contains("if (UNET_THREADS() <= \(threads))"),
                           threads > 1, "threads \(threads)")
            // What `inspect --tiling` reports.
            XCTAssertEqual(program.ownThreads, threads > 1 ? Dictionary(uniqueKeysWithValues: own.map { ($0.name, "rows") }) : [:])
            scratch[threads] = Dictionary(uniqueKeysWithValues: program.plan.buffers.map { ($0.name, $0.bytes) })
        }
        // Each thread's panel starts on a 64-byte boundary.
        for conv in options.tiling.keys {
            let one = scratch[1]!["\(conv).scratch"]!, two = scratch[2]!["\(conv).scratch"]!
            if own.contains(where: { $0.name == conv }) {
                XCTAssertTrue((2 * one ..< 2 * one + 128).contains(two), "\(conv): \(one) -> \(two)")
            } else {
                XCTAssertEqual(two, one, conv)
            }
        }
        options.threads = 2
        // The last case: tiles 3 rows high on the image twice the size, so its 128-row maps have
        // 43 rows of tiles (ending one row past the map), claimed in bands of 5, then fewer.
        for (batch, scale, nr) in [(1, 1, 1), (2, 1, 1), (1, 2, 1), (1, 2, 3)] {
            let (h, w) = (scale * f.height, scale * f.width)
            for node in graph.nodes {
                if case .conv(3, _, _) = node.op { options.tiling[node.name] = LayerTiling(r: 4, nv: 1, rb: 5 * nr, nr: nr) }
            }
            // The batch: the fixture's image twice, so its output twice. Twice the size: a
            // pseudo-random image, checked against the interpreter.
            let input = scale == 1
                ? Tensor(shape: [batch] + f.input.shape.dropFirst(), data: Array([[Float]](repeating: f.input.data, count: batch).joined()))
                : Tensor(shape: [1, f.input.shape[1], h, w], data: (0..<(f.input.shape[1] * h * w)).map { Float(($0 * 2654435761) % 1000) / 1000 })
            let expected = scale == 1
                ? Array([[Float]](repeating: f.outputF64.data, count: batch).joined())
                : try Interpreter.output(try f.weights.config.build(batch: 1, height: h, width: w), weights: f.weights, input: input).data
            let program = try Generator.generate(f.weights, batch: batch, height: h, width: w, options: options)
            if scale == 2 {
                let t = try XCTUnwrap(program.tilings["up_sample.3.up"])
                XCTAssertTrue(Tiling.threadRows(program.graph.nodes.first { $0.name == "up_sample.3.up" }!, in: program.graph, t, threads: 2))
            }
            if nr == 3 {
                let node = try XCTUnwrap(program.graph.nodes.first { $0.name == "down_conv.0.second" })
                XCTAssertEqual((node.shape.h + 2) / 3, 43)
                XCTAssertEqual(program.ownThreads["down_conv.0.second"], "rows")
            }
            let built = try Verifier.build(program, cc: try TestToolchain.compiler(), flags: Toolchain.defaultFlags)
            defer { try? FileManager.default.removeItem(atPath: built.directory) }
            var outputs: [[Float]] = []
            for threads in [1, 2, 3, 5] {
                outputs.append(try Verifier.execute(built, input: input, outputCount: expected.count,
                                                    threads: threads, trace: false).output)
            }
            for i in 1..<outputs.count {
                XCTAssertTrue(bitIdentical(outputs[0], outputs[i]), "batch \(batch) x\(scale) nr \(nr): run \(i): \(maxAbsDiff(outputs[0], outputs[i]))")
            }
            XCTAssertLessThanOrEqual(maxAbsDiff(outputs[0], expected), 5e-5, "batch \(batch) x\(scale) nr \(nr)")
        }
    }

    /// The speed schedule's groups (`GeneratorOptions.streamBytes`, `generate --stream-bytes`).
    /// With the bar at 0 every direct conv or transposed conv read only by a direct 3x3 conv of
    /// few FLOPs per input byte is streamed into it and its pools run in the band loop; each
    /// thread takes a run of rows with panels of its own. The output is the same bit for bit as
    /// without groups, on 1 and 2 threads (rows of their own) and 3 and 5 (every band shared),
    /// for one image, a batch of two and an odd size (37 rows: the second thread's 19 rows end
    /// on an odd row, its pools' last row dropped). The default bar streams nothing here.
    func testSpeedGroupsTakeRowsPerThreadAndChangeNoBit() throws {
        // And with 16 registers (AVX2's), whose transposed convs' tiles take one output row each.
        for (name, registers) in [("small", 32), ("batch", 32), ("odd", 32), ("small", 16), ("odd", 16)] {
            let f = try Fixture.load(name)
            var options = GeneratorOptions()
            options.algorithm = .direct
            if registers == 16 { options.vectorWidth = 8; options.vectorRegisters = 16 }
            let plain = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options)
            XCTAssertFalse(plain.graph.nodes.contains { $0.fusion != .none }, name)
            options.streamBytes = 0
            let grouped = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options)
            let streamed = grouped.graph.nodes.filter { $0.fusion == .streamed }
            XCTAssertTrue(streamed.contains { $0.name == "down_conv.0.first" }, name)
            XCTAssertTrue(streamed.contains { if case .convTranspose = $0.op { return true } else { return false } }, name)
            XCTAssertTrue(grouped.graph.nodes.contains { $0.name == "down_conv.0.pool" && $0.fusion == .epilogue }, name)
            XCTAssertFalse(grouped.graph.nodes.contains { if case .inPlace = $0.fusion { return true } else { return false } }, name)
            // What `inspect --tiling` reports.
            for node in streamed { XCTAssertEqual(grouped.ownThreads[node.name], "rows", "\(name) \(node.name)") }
            let source = String(decoding: grouped.source(), as: UTF8.self)
            XCTAssertTrue(source.contains("down0_conv2_rows(in0, out, pool0, mine, n, ys, &at[me], &end[me], n == 0);"), name)
            XCTAssertEqual(source.contains("unet_convT_row_tile_3x2("), registers == 16, "\(name) \(registers)")
            let reference = try Verifier.build(plain, cc: try TestToolchain.compiler(), flags: Toolchain.defaultFlags)
            defer { try? FileManager.default.removeItem(atPath: reference.directory) }
            let built = try Verifier.build(grouped, cc: try TestToolchain.compiler(), flags: Toolchain.defaultFlags)
            defer { try? FileManager.default.removeItem(atPath: built.directory) }
            let expected = try Verifier.execute(reference, input: f.input, outputCount: f.outputF64.count, threads: 2, trace: false).output
            XCTAssertLessThanOrEqual(maxAbsDiff(expected, f.outputF64.data), 5e-5, name)
            for threads in [1, 2, 3, 5] {
                let output = try Verifier.execute(built, input: f.input, outputCount: expected.count, threads: threads, trace: false).output
                XCTAssertTrue(bitIdentical(output, expected), "\(name) r\(registers), \(threads) threads: \(maxAbsDiff(output, expected))")
            }
            // Thread 0 starting on all the rows: the other takes the later half of them, and so
            // on (unet_steal), wherever the rows left are two bands or more.
            let stealing = try Verifier.build(grouped, cc: try TestToolchain.compiler(),
                                              flags: Toolchain.defaultFlags + ["-DUNET_GROUP_SHARE(h,me,nt)=((me)==0?0:(h))"])
            defer { try? FileManager.default.removeItem(atPath: stealing.directory) }
            let output = try Verifier.execute(stealing, input: f.input, outputCount: expected.count, threads: 2, trace: false).output
            XCTAssertTrue(bitIdentical(output, expected), "\(name) r\(registers), rows taken: \(maxAbsDiff(output, expected))")
        }
    }

    /// Which layers the speed schedule streams by default: 1 -> 1, base 16, depth 1 (the
    /// full-size level's input 16 channels, a 16-output-channel level's FLOPs per byte). At
    /// 512x512 (16 MiB inputs) the full-size level on both sides, on 1 and 2 threads; at 256x256
    /// (4 MiB) none; at 1024x1024 also the middle conv; at 2304x2304 the decoder's group would
    /// take 8.6 MB of scratch a thread, past `speedGroupThreadScratch` (and on 2 threads past
    /// `speedGroupScratchBudget`), so its layers run on their own; `--stream-bytes` past every
    /// map, none.
    func testSpeedScheduleStreamsTheWideLevels() throws {
        let config = UNetConfig(inChannels: 1, outChannels: 1, base: 16, depth: 1)
        let weights = try ModelWeights(config: config, tensors: config.initialWeights(seed: 1))
        let encoder = ["down_conv.0.first"], middle = ["middle_conv.first"], decoder = ["up_sample.0.up", "up_conv.0.first"]
        for (side, threads, bytes, expected) in [(512, 2, 16 << 20, encoder + decoder), (512, 1, 16 << 20, encoder + decoder),
                                                 (256, 2, 16 << 20, []), (2304, 2, 16 << 20, encoder + middle),
                                                 (2304, 1, 16 << 20, encoder + middle), (1024, 1, 16 << 20, encoder + middle + decoder),
                                                 (512, 2, Int.max, [])] {
            var options = GeneratorOptions()
            options.algorithm = .direct
            options.threads = threads
            options.streamBytes = bytes
            let program = try Generator.generate(weights, batch: 1, height: side, width: side, options: options)
            let label = "\(side)x\(side), \(threads) threads, --stream-bytes \(bytes)"
            XCTAssertEqual(program.graph.nodes.filter { $0.fusion == .streamed }.map(\.name), expected, label)
            XCTAssertEqual(program.graph.nodes.filter { $0.fusion == .epilogue }.map(\.name),
                           expected.isEmpty ? [] : ["down_conv.0.pool"], label)
            let scratch = Dictionary(uniqueKeysWithValues: program.plan.buffers.map { ($0.name, $0.bytes) })
            for (driver, first) in [("down_conv.0.second", "down_conv.0.first"), ("middle_conv.second", "middle_conv.first"),
                                    ("up_conv.0.second", "up_conv.0.first")] where expected.contains(first) {
                XCTAssertLessThanOrEqual(scratch["\(driver).scratch"]!, Lowering.speedGroupScratchBudget, "\(label): \(driver)")
                XCTAssertLessThanOrEqual(scratch["\(driver).scratch"]! / threads, Lowering.speedGroupThreadScratch, "\(label): \(driver)")
            }
        }
    }

    /// A 1x1 conv whose tiles divide its rows reads its input in place: no panel to pack, no
    /// scratch. "tiny" (32 columns: 2 vectors of 16) does; "small" (80 columns: 5 vectors,
    /// tiles of 4) packs. Both still match the interpreter, the batch of 2 included.
    func testPointwiseConvReadsItsInputInPlaceWhereTilesDivideItsRows() throws {
        try concurrently([("tiny", true), ("small", false), ("batch", true)], { name, inPlace -> Verifier.Report in
            try self.verify(try Fixture.load(name)) { $0.generator.vectorWidth = 16 }
        }) { c, report in
            let source = String(decoding: report.program.source(), as: UTF8.self)
            let fn = source.components(separatedBy: "static void final_conv(")[1].components(separatedBy: "\n}\n")[0]
            XCTAssertEqual(!fn.contains("unet_pack_plane"), c.1, c.0)
            XCTAssertEqual(report.program.plan.buffers.contains { $0.name == "final_conv.scratch" }, !c.1, c.0)
            XCTAssertLessThan(report.vsInterpreter.maxAbs, 1e-5, "\(c.0): \(report.vsInterpreter)")
        }
    }

    func testThreadBandsTakeAScratchPerThread() throws {
        let f = try Fixture.load("small")
        var options = GeneratorOptions()
        options.algorithm = .winograd
        let graph = try Pipeline.run(try f.graph())
        for node in graph.nodes where Tiling.winogradApplies(node) {
            options.tiling[node.name] = LayerTiling(r: 4, nv: 1, rb: 2, nr: 2, algorithm: .winograd)
        }
        let own = graph.nodes.filter { node in options.tiling[node.name].map { Tiling.threadBands(node, in: graph, $0) } ?? false }
        XCTAssertFalse(own.isEmpty)
        XCTAssertLessThan(own.count, options.tiling.count)
        var scratch: [Int: [String: Int]] = [:], arena: [Int: Int] = [:]
        for threads in [1, 2, 4] {
            options.threads = threads
            let program = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options)
            let source = String(decoding: program.source(), as: UTF8.self)
            XCTAssertEqual(source.contains("if (UNET_THREADS() <= \(threads))"), threads > 1, "threads \(threads)")
            arena[threads] = program.plan.arenaBytes
            scratch[threads] = Dictionary(uniqueKeysWithValues: program.plan.buffers.map { ($0.name, $0.bytes) })
        }
        // A scratch per thread for the convs with bands of their own, one for the rest.
        for name in options.tiling.keys {
            let one = scratch[1]!["\(name).scratch"]!, many = own.contains { $0.name == name }
            XCTAssertEqual(scratch[2]!["\(name).scratch"], many ? 2 * one : one, name)
            XCTAssertEqual(scratch[4]!["\(name).scratch"], many ? 4 * one : one, name)
        }
        XCTAssertLessThan(arena[1]!, arena[2]!)
        options.threads = 0
        XCTAssertThrowsError(try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options))
    }

    // MARK: Templates

    func testEmbeddedTemplatesEqualTheFiles() throws {
        let dir = TestPaths.templatesDir
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".c") || $0.hasSuffix(".h") }.sorted()
        XCTAssertFalse(files.isEmpty)
        XCTAssertEqual(Set(embeddedTemplates.keys), Set(files), "run `make templates`")
        for name in files {
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            XCTAssertEqual(embeddedTemplates[name], text, "\(name) differs from the embedded copy: run `make templates`")
        }
    }
}
