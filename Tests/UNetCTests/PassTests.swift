// The passes: golden IR before and after each, their preconditions on hand-built graphs,
// and that the interpreter's output does not change by a single bit.

import Foundation
import XCTest
@testable import UNetC

final class PassTests: XCTestCase {
    /// 3 -> 1, base 2, depth 2 on 1x3x11x13: small, with a non-zero crop offset at level 0.
    func smallGraph() throws -> Graph {
        try UNetConfig(inChannels: 3, outChannels: 1, base: 2, depth: 2).build(batch: 1, height: 11, width: 13)
    }

    let before = """
    %0 input = input() : 1x3x11x13
    %1 down_conv.0.first = conv3x3(%0) : 1x2x11x13
    %2 down_conv.0.first.relu = relu(%1) : 1x2x11x13
    %3 down_conv.0.second = conv3x3(%2) : 1x2x11x13
    %4 down_conv.0.second.relu = relu(%3) : 1x2x11x13
    %5 down_conv.0.pool = maxpool2x2(%4) : 1x2x5x6
    %6 down_conv.1.first = conv3x3(%5) : 1x4x5x6
    %7 down_conv.1.first.relu = relu(%6) : 1x4x5x6
    %8 down_conv.1.second = conv3x3(%7) : 1x4x5x6
    %9 down_conv.1.second.relu = relu(%8) : 1x4x5x6
    %10 down_conv.1.pool = maxpool2x2(%9) : 1x4x2x3
    %11 middle_conv.first = conv3x3(%10) : 1x8x2x3
    %12 middle_conv.first.relu = relu(%11) : 1x8x2x3
    %13 middle_conv.second = conv3x3(%12) : 1x8x2x3
    %14 middle_conv.second.relu = relu(%13) : 1x8x2x3
    %15 up_sample.0.up = convT2x2(%14) : 1x4x4x6
    %16 up_conv.0.crop = crop(%9) at (0, 0) : 1x4x4x6
    %17 up_conv.0.concat = concat(%15, %16) : 1x8x4x6
    %18 up_conv.0.first = conv3x3(%17) : 1x4x4x6
    %19 up_conv.0.first.relu = relu(%18) : 1x4x4x6
    %20 up_conv.0.second = conv3x3(%19) : 1x4x4x6
    %21 up_conv.0.second.relu = relu(%20) : 1x4x4x6
    %22 up_sample.1.up = convT2x2(%21) : 1x2x8x12
    %23 up_conv.1.crop = crop(%4) at (2, 0) : 1x2x8x12
    %24 up_conv.1.concat = concat(%22, %23) : 1x4x8x12
    %25 up_conv.1.first = conv3x3(%24) : 1x2x8x12
    %26 up_conv.1.first.relu = relu(%25) : 1x2x8x12
    %27 up_conv.1.second = conv3x3(%26) : 1x2x8x12
    %28 up_conv.1.second.relu = relu(%27) : 1x2x8x12
    %29 final_conv = conv1x1(%28) : 1x1x8x12
    %30 output = output(%29) : 1x1x8x12

    """

    let afterFuse = """
    %0 input = input() : 1x3x11x13
    %1 down_conv.0.first = conv3x3+relu(%0) : 1x2x11x13
    %2 down_conv.0.second = conv3x3+relu(%1) : 1x2x11x13
    %3 down_conv.0.pool = maxpool2x2(%2) : 1x2x5x6
    %4 down_conv.1.first = conv3x3+relu(%3) : 1x4x5x6
    %5 down_conv.1.second = conv3x3+relu(%4) : 1x4x5x6
    %6 down_conv.1.pool = maxpool2x2(%5) : 1x4x2x3
    %7 middle_conv.first = conv3x3+relu(%6) : 1x8x2x3
    %8 middle_conv.second = conv3x3+relu(%7) : 1x8x2x3
    %9 up_sample.0.up = convT2x2(%8) : 1x4x4x6
    %10 up_conv.0.crop = crop(%5) at (0, 0) : 1x4x4x6
    %11 up_conv.0.concat = concat(%9, %10) : 1x8x4x6
    %12 up_conv.0.first = conv3x3+relu(%11) : 1x4x4x6
    %13 up_conv.0.second = conv3x3+relu(%12) : 1x4x4x6
    %14 up_sample.1.up = convT2x2(%13) : 1x2x8x12
    %15 up_conv.1.crop = crop(%2) at (2, 0) : 1x2x8x12
    %16 up_conv.1.concat = concat(%14, %15) : 1x4x8x12
    %17 up_conv.1.first = conv3x3+relu(%16) : 1x2x8x12
    %18 up_conv.1.second = conv3x3+relu(%17) : 1x2x8x12
    %19 final_conv = conv1x1(%18) : 1x1x8x12
    %20 output = output(%19) : 1x1x8x12

    """

    let afterConcat = """
    %0 input = input() : 1x3x11x13
    %1 down_conv.0.first = conv3x3+relu(%0) : 1x2x11x13
    %2 down_conv.0.second = conv3x3+relu(%1) : 1x2x11x13
    %3 down_conv.0.pool = maxpool2x2(%2) : 1x2x5x6
    %4 down_conv.1.first = conv3x3+relu(%3) : 1x4x5x6
    %5 down_conv.1.second = conv3x3+relu(%4) : 1x4x5x6
    %6 down_conv.1.pool = maxpool2x2(%5) : 1x4x2x3
    %7 middle_conv.first = conv3x3+relu(%6) : 1x8x2x3
    %8 middle_conv.second = conv3x3+relu(%7) : 1x8x2x3
    %9 up_sample.0.up = convT2x2(%8) : 1x4x4x6
    %10 up_conv.0.crop = crop(%5) at (0, 0) : 1x4x4x6
    %11 up_conv.0.first = conv3x3+relu(%9, %10) : 1x4x4x6
    %12 up_conv.0.second = conv3x3+relu(%11) : 1x4x4x6
    %13 up_sample.1.up = convT2x2(%12) : 1x2x8x12
    %14 up_conv.1.crop = crop(%2) at (2, 0) : 1x2x8x12
    %15 up_conv.1.first = conv3x3+relu(%13, %14) : 1x2x8x12
    %16 up_conv.1.second = conv3x3+relu(%15) : 1x2x8x12
    %17 final_conv = conv1x1(%16) : 1x1x8x12
    %18 output = output(%17) : 1x1x8x12

    """

    let afterCrop = """
    %0 input = input() : 1x3x11x13
    %1 down_conv.0.first = conv3x3+relu(%0) : 1x2x11x13
    %2 down_conv.0.second = conv3x3+relu(%1) : 1x2x11x13
    %3 down_conv.0.pool = maxpool2x2(%2) : 1x2x5x6
    %4 down_conv.1.first = conv3x3+relu(%3) : 1x4x5x6
    %5 down_conv.1.second = conv3x3+relu(%4) : 1x4x5x6
    %6 down_conv.1.pool = maxpool2x2(%5) : 1x4x2x3
    %7 middle_conv.first = conv3x3+relu(%6) : 1x8x2x3
    %8 middle_conv.second = conv3x3+relu(%7) : 1x8x2x3
    %9 up_sample.0.up = convT2x2(%8) : 1x4x4x6
    %10 up_conv.0.crop = view(%5) at (0, 0) : 1x4x4x6
    %11 up_conv.0.first = conv3x3+relu(%9, %10) : 1x4x4x6
    %12 up_conv.0.second = conv3x3+relu(%11) : 1x4x4x6
    %13 up_sample.1.up = convT2x2(%12) : 1x2x8x12
    %14 up_conv.1.crop = view(%2) at (2, 0) : 1x2x8x12
    %15 up_conv.1.first = conv3x3+relu(%13, %14) : 1x2x8x12
    %16 up_conv.1.second = conv3x3+relu(%15) : 1x2x8x12
    %17 final_conv = conv1x1(%16) : 1x1x8x12
    %18 output = output(%17) : 1x1x8x12

    """

    // MARK: Goldens

    func testGoldenBeforeAndAfterEachPass() throws {
        let g = try smallGraph()
        XCTAssertEqual(g.text(), before)
        var seen: [(String, String)] = []
        let final = try Pipeline.run(g) { pass, graph in seen.append((pass.name, graph.text())) }
        XCTAssertEqual(seen.map(\.0), ["fuse-activation", "eliminate-concat", "eliminate-crop"])
        XCTAssertEqual(seen[0].1, afterFuse)
        XCTAssertEqual(seen[1].1, afterConcat)
        XCTAssertEqual(seen[2].1, afterCrop)
        XCTAssertEqual(final.text(), afterCrop)
        XCTAssertNoThrow(try final.verify())
    }

    func testFuseActivationRemovesEveryReluAfterAConv() throws {
        let g = try Pipeline.fuseActivation.run(try smallGraph())
        XCTAssertEqual(g.text(), afterFuse)
        XCTAssertFalse(g.nodes.contains { $0.op == .relu })
        XCTAssertEqual(g.nodes.filter { $0.op == .conv(kernel: 3, padding: 1, activation: .relu) }.count, 10)
        // The final 1x1 conv has no ReLU after it and stays plain.
        XCTAssertEqual(g.nodes[g.index(of: "final_conv")!].op, .conv(kernel: 1, padding: 0, activation: .none))
        try g.verify()
    }

    func testEliminateConcatAloneMakesTheDecoderConvReadTwoInputs() throws {
        let g = try Pipeline.eliminateConcat.run(try smallGraph())
        try g.verify()
        XCTAssertFalse(g.nodes.contains { $0.op == .concat })
        XCTAssertEqual(g.nodes.count, 29)
        for j in 0..<2 {
            let conv = g.nodes[g.index(of: "up_conv.\(j).first")!]
            XCTAssertEqual(conv.inputs.map { g.nodes[$0].name }, ["up_sample.\(j).up", "up_conv.\(j).crop"])
            XCTAssertEqual(conv.op, .conv(kernel: 3, padding: 1, activation: .none))
        }
        // Relus stay (no fusion was asked for).
        XCTAssertEqual(g.nodes.filter { $0.op == .relu }.count, 10)
    }

    func testEliminateCropAloneTurnsCropsIntoViews() throws {
        let plain = try smallGraph()
        let g = try Pipeline.eliminateCrop.run(plain)
        try g.verify()
        XCTAssertEqual(g.nodes.count, plain.nodes.count)
        for (a, b) in zip(plain.nodes, g.nodes) {
            if case .crop(let t, let l, let h, let w) = a.op {
                XCTAssertEqual(b.op, .view(top: t, left: l, height: h, width: w), a.name)
                XCTAssertEqual(b.inputs, a.inputs)
                XCTAssertEqual(b.shape, a.shape)
            } else {
                XCTAssertEqual(a, b)
            }
        }
        XCTAssertTrue(g.text().contains("%23 up_conv.1.crop = view(%4) at (2, 0) : 1x2x8x12\n"))
    }

    func testPipelineIsIdempotentAndPassesAreLookedUpByName() throws {
        let once = try Pipeline.run(try smallGraph())
        XCTAssertEqual(try Pipeline.run(once), once)
        XCTAssertEqual(Pipeline.pass(named: "eliminate-crop")?.name, "eliminate-crop")
        XCTAssertEqual(Pipeline.pass(named: "fuse-activation")?.summary, Pipeline.fuseActivation.summary)
        XCTAssertNil(Pipeline.pass(named: "no-such-pass"))
        XCTAssertEqual(Pipeline.standard.map(\.name), ["fuse-activation", "eliminate-concat", "eliminate-crop"])
    }

    func testStandardPipelineVerifiesForManyShapes() throws {
        for depth in 1...5 {
            for (h, w) in [(1 << depth, 1 << depth), (37, 45), (64, 80), (61, 33)] where h >= 1 << depth && w >= 1 << depth {
                let c = UNetConfig(inChannels: 2, outChannels: 3, base: 2, depth: depth)
                let plain = try c.build(batch: 2, height: h, width: w)
                let g = try Pipeline.run(plain)
                XCTAssertNoThrow(try g.verify(), "depth \(depth) \(h)x\(w)")
                XCTAssertEqual(g.nodes.count, plain.nodes.count - (4 * depth + 2) - depth)
                XCTAssertEqual(g.nodes[g.outputIndex].shape, plain.nodes[plain.outputIndex].shape)
                XCTAssertEqual(g.nodes.filter(\.op.isView).count, depth)
                // Every subset of the passes, in order, also verifies.
                for mask in 0..<8 {
                    let passes = Pipeline.standard.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element)
                    XCTAssertNoThrow(try Pipeline.run(plain, passes: passes), "depth \(depth) passes \(passes.map(\.name))")
                }
            }
        }
    }

    // MARK: Preconditions on hand-built graphs

    func shape(_ c: Int, _ h: Int = 4, _ w: Int = 4) -> Shape { Shape(n: 1, c: c, h: h, w: w) }

    func testFuseActivationDoesNotFuseWhenTheConvHasAnotherUser() throws {
        // %1 conv -> %2 relu, and %3 concat reads both the relu and the raw conv.
        let g = Graph(nodes: [
            Node(name: "input", op: .input, inputs: [], shape: shape(1)),
            Node(name: "c", op: .conv(kernel: 3, padding: 1, activation: .none), inputs: [0], shape: shape(2)),
            Node(name: "c.relu", op: .relu, inputs: [1], shape: shape(2)),
            Node(name: "cat", op: .concat, inputs: [2, 1], shape: shape(4)),
            Node(name: "output", op: .output, inputs: [3], shape: shape(4)),
        ])
        try g.verify()
        let fused = try Pipeline.run(g, passes: [Pipeline.fuseActivation])
        XCTAssertEqual(fused, g)
        XCTAssertEqual(fused.text(), """
        %0 input = input() : 1x1x4x4
        %1 c = conv3x3(%0) : 1x2x4x4
        %2 c.relu = relu(%1) : 1x2x4x4
        %3 cat = concat(%2, %1) : 1x4x4x4
        %4 output = output(%3) : 1x4x4x4

        """)
        // And the output really needs the value before the ReLU: the interpreter agrees on both graphs.
        var rng = SplitMix64(seed: 9)
        let w = uncheckedWeights(["c.weight": Tensor(shape: [2, 1, 3, 3], data: (0..<18).map { _ in Float(rng.uniform(1)) }),
                                  "c.bias": Tensor(shape: [2], data: [0, 0])])
        let x = Tensor(shape: [1, 1, 4, 4], data: (0..<16).map { _ in Float(rng.uniform(1)) })
        let out = try Interpreter.output(fused, weights: w, input: x)
        XCTAssertTrue(out.data[32...].contains { $0 < 0 }, "the raw conv half has negative values")
    }

    func testFuseActivationFusesTheOnlyUserAndForwardsItsReaders() throws {
        let g = Graph(nodes: [
            Node(name: "input", op: .input, inputs: [], shape: shape(1)),
            Node(name: "c", op: .conv(kernel: 3, padding: 1, activation: .none), inputs: [0], shape: shape(2)),
            Node(name: "c.relu", op: .relu, inputs: [1], shape: shape(2)),
            Node(name: "p", op: .maxPool, inputs: [2], shape: shape(2, 2, 2)),
            Node(name: "k", op: .crop(top: 1, left: 1, height: 2, width: 2), inputs: [2], shape: shape(2, 2, 2)),
            Node(name: "cat", op: .concat, inputs: [3, 4], shape: shape(4, 2, 2)),
            Node(name: "output", op: .output, inputs: [5], shape: shape(4, 2, 2)),
        ])
        try g.verify()
        let fused = try Pipeline.run(g, passes: [Pipeline.fuseActivation])
        XCTAssertEqual(fused.text(), """
        %0 input = input() : 1x1x4x4
        %1 c = conv3x3+relu(%0) : 1x2x4x4
        %2 p = maxpool2x2(%1) : 1x2x2x2
        %3 k = crop(%1) at (1, 1) : 1x2x2x2
        %4 cat = concat(%2, %3) : 1x4x2x2
        %5 output = output(%4) : 1x4x2x2

        """)
        // A second ReLU after a fused conv is not a conv's user and stays.
        let twice = Graph(nodes: [
            Node(name: "input", op: .input, inputs: [], shape: shape(1)),
            Node(name: "c", op: .conv(kernel: 3, padding: 1, activation: .relu), inputs: [0], shape: shape(2)),
            Node(name: "r", op: .relu, inputs: [1], shape: shape(2)),
            Node(name: "output", op: .output, inputs: [2], shape: shape(2)),
        ])
        XCTAssertEqual(try Pipeline.run(twice, passes: [Pipeline.fuseActivation]), twice)
    }

    func testEliminateConcatKeepsAConcatWithANonConvReader() throws {
        // The concat feeds the output directly: it must be materialised.
        let g = Graph(nodes: [
            Node(name: "input", op: .input, inputs: [], shape: shape(1)),
            Node(name: "a", op: .conv(kernel: 1, padding: 0, activation: .none), inputs: [0], shape: shape(2)),
            Node(name: "cat", op: .concat, inputs: [0, 1], shape: shape(3)),
            Node(name: "b", op: .conv(kernel: 1, padding: 0, activation: .none), inputs: [2], shape: shape(1)),
            Node(name: "cat2", op: .concat, inputs: [2, 3], shape: shape(4)),
            Node(name: "output", op: .output, inputs: [4], shape: shape(4)),
        ])
        try g.verify()
        // `cat` is read by a conv and by another concat: kept. `cat2` is read by the output: kept.
        XCTAssertEqual(try Pipeline.run(g, passes: [Pipeline.eliminateConcat]), g)
    }

    func testEliminateCropKeepsCropsWhoseReadersCannotTakeViews() throws {
        let g = Graph(nodes: [
            Node(name: "input", op: .input, inputs: [], shape: shape(1, 6, 6)),
            Node(name: "k", op: .crop(top: 1, left: 1, height: 4, width: 4), inputs: [0], shape: shape(1)),
            Node(name: "p", op: .maxPool, inputs: [1], shape: shape(1, 2, 2)),
            Node(name: "k2", op: .crop(top: 2, left: 0, height: 4, width: 4), inputs: [0], shape: shape(1)),
            Node(name: "c", op: .conv(kernel: 3, padding: 1, activation: .none), inputs: [3], shape: shape(1)),
            Node(name: "k3", op: .crop(top: 0, left: 0, height: 2, width: 2), inputs: [4], shape: shape(1, 2, 2)),
            Node(name: "cat", op: .concat, inputs: [2, 5], shape: shape(2, 2, 2)),
            Node(name: "output", op: .output, inputs: [6], shape: shape(2, 2, 2)),
        ])
        try g.verify()
        let out = try Pipeline.run(g, passes: [Pipeline.eliminateCrop])
        XCTAssertEqual(out.nodes[1].op, .crop(top: 1, left: 1, height: 4, width: 4), "read by a maxpool: stays a copy")
        XCTAssertEqual(out.nodes[3].op, .view(top: 2, left: 0, height: 4, width: 4), "read by a conv: a view")
        XCTAssertEqual(out.nodes[5].op, .view(top: 0, left: 0, height: 2, width: 2), "read by a concat: a view")
    }

    func testVerifierRejectsAViewOfAView() {
        let g = Graph(nodes: [
            Node(name: "input", op: .input, inputs: [], shape: shape(1, 6, 6)),
            Node(name: "v", op: .view(top: 1, left: 1, height: 4, width: 4), inputs: [0], shape: shape(1)),
            Node(name: "v2", op: .view(top: 1, left: 1, height: 2, width: 2), inputs: [1], shape: shape(1, 2, 2)),
            Node(name: "output", op: .output, inputs: [2], shape: shape(1, 2, 2)),
        ])
        assertThrows(try g.verify(), containing: ["node v2: a view of a view"])
    }

    func testPipelineNamesThePassThatBreaksTheGraph() throws {
        let broken = Pass(name: "break-shapes", summary: "test") { g in
            var g = g
            let pool = g.index(of: "down_conv.0.pool")!
            g.nodes[pool].shape.h += 1
            return g
        }
        assertThrows(try Pipeline.run(try smallGraph(), passes: [Pipeline.fuseActivation, broken]),
                     containing: ["after pass break-shapes:", "node down_conv.0.pool: shape 1x2x6x6, but its op gives 1x2x5x6"])
        // Without verification the broken graph passes through.
        XCTAssertNoThrow(try Pipeline.run(try smallGraph(), passes: [broken], verify: false))
    }

    // MARK: Semantics

    func testInterpreterOutputIsBitIdenticalAfterThePipeline() throws {
        let f = try Fixture.load("odd")
        let plain = try f.graph()
        let reference = try Interpreter.output(plain, weights: f.weights, input: f.input)
        var graphs: [(String, Graph)] = [("standard", try Pipeline.run(plain))]
        for pass in Pipeline.standard { graphs.append((pass.name, try Pipeline.run(plain, passes: [pass]))) }
        for (name, g) in graphs {
            let out = try Interpreter.output(g, weights: f.weights, input: f.input)
            XCTAssertEqual(out.shape, reference.shape, name)
            XCTAssertTrue(bitIdentical(out.data, reference.data), "\(name): max abs diff \(maxAbsDiff(out.data, reference.data))")
        }
    }
}
