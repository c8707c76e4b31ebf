// The reference interpreter: against PyTorch's float64 output on every fixture, and each op
// on tiny hand-computed cases.

import Foundation
import XCTest
@testable import UNetC

final class InterpreterTests: XCTestCase {
    // MARK: Fixtures

    func testEveryFixtureMatchesPyTorchFloat64() throws {
        for f in try Fixture.all() {
            let g = try f.graph()
            let out = try Interpreter.output(g, weights: f.weights, input: f.input)
            XCTAssertEqual(out.shape, f.outputF64.shape, f.name)
            let err = maxAbsDiff(out.data, f.outputF64.data)
            XCTAssertLessThanOrEqual(err, 1e-5, "\(f.name): max abs error vs output_f64 \(err)")
            // And the float32 reference, a little looser.
            XCTAssertLessThanOrEqual(maxAbsDiff(out.data, f.output.data), 1e-4, f.name)
            // The output is not trivially constant (every layer shows).
            XCTAssertGreaterThan(Set(out.data).count, out.data.count / 2, f.name)
        }
    }

    func testRunKeepsRequestedValuesOnly() throws {
        let f = try Fixture.load("tiny")
        let g = try f.graph()
        let pool = g.index(of: "down_conv.1.pool")!
        let values = try Interpreter.run(g, weights: f.weights, input: f.input, keep: { $0 == pool })
        XCTAssertNotNil(values[g.outputIndex])
        XCTAssertEqual(values[pool]?.shape, [1, 8, 8, 8])
        XCTAssertNil(values[g.index(of: "down_conv.2.pool")!])
        XCTAssertNil(values[g.index(of: "up_conv.0.concat")!])
    }

    func testWrongInputShapeIsAnError() throws {
        let f = try Fixture.load("tiny")
        let g = try f.graph()
        assertThrows(try Interpreter.run(g, weights: f.weights, input: Tensor(zeros: [1, 3, 32, 31])),
                     containing: ["input has shape [1, 3, 32, 31]", "1x3x32x32"])
    }

    // MARK: Per-op hand cases

    let x3x3 = Tensor(shape: [1, 1, 3, 3], data: [1, 2, 3, 4, 5, 6, 7, 8, 9])

    func testConv3x3SamePaddingAllOnes() {
        let w = Tensor(shape: [1, 1, 3, 3], data: [Float](repeating: 1, count: 9))
        let out = Interpreter.conv(x3x3, w, Tensor(shape: [1], data: [0]), kernel: 3, padding: 1, activation: .none)
        XCTAssertEqual(out.shape, [1, 1, 3, 3])
        XCTAssertEqual(out.data, [12, 21, 16, 27, 45, 33, 24, 39, 28])
    }

    func testConvIsCrossCorrelationNotFlipped() {
        // Only the top-left tap: out[y][x] = in[y - 1][x - 1], zero outside, plus the bias.
        var w = Tensor(zeros: [1, 1, 3, 3])
        w.data[0] = 1
        let out = Interpreter.conv(x3x3, w, Tensor(shape: [1], data: [0.5]), kernel: 3, padding: 1, activation: .none)
        XCTAssertEqual(out.data, [0.5, 0.5, 0.5, 0.5, 1.5, 2.5, 0.5, 4.5, 5.5])
        // Only the right-middle tap: out[y][x] = in[y][x + 1].
        var r = Tensor(zeros: [1, 1, 3, 3])
        r.data[5] = 2
        let out2 = Interpreter.conv(x3x3, r, Tensor(shape: [1], data: [0]), kernel: 3, padding: 1, activation: .none)
        XCTAssertEqual(out2.data, [4, 6, 0, 10, 12, 0, 16, 18, 0])
    }

    func testConvChannelsBiasAndFusedRelu() {
        // 2 input channels, 2 output channels, 1x1 kernel: a per-pixel matrix product.
        let x = Tensor(shape: [1, 2, 1, 2], data: [1, 2, /* c1 */ 10, 20])
        let w = Tensor(shape: [2, 2, 1, 1], data: [1, 1, /* co1 */ 1, -1])
        let b = Tensor(shape: [2], data: [0, 3])
        let plain = Interpreter.conv(x, w, b, kernel: 1, padding: 0, activation: .none)
        XCTAssertEqual(plain.data, [11, 22, -6, -15])
        let relu = Interpreter.conv(x, w, b, kernel: 1, padding: 0, activation: .relu)
        XCTAssertEqual(relu.data, [11, 22, 0, 0])
        // Batch 2: the second item is independent.
        let xb = Tensor(shape: [2, 2, 1, 1], data: [1, 10, 2, 20])
        XCTAssertEqual(Interpreter.conv(xb, w, b, kernel: 1, padding: 0, activation: .none).data, [11, -6, 22, -15])
    }

    func testConv3x3WithoutPaddingShrinks() {
        let w = Tensor(shape: [1, 1, 3, 3], data: [Float](repeating: 1, count: 9))
        let out = Interpreter.conv(x3x3, w, Tensor(shape: [1], data: [1]), kernel: 3, padding: 0, activation: .none)
        XCTAssertEqual(out.shape, [1, 1, 1, 1])
        XCTAssertEqual(out.data, [46])
    }

    func testConvTransposeWeightLayout() {
        // Input 1 x 2 x 1 x 1 = (1, 2); weight [in 2][out 3][2][2] with w = 100 ci + 10 co + q.
        let x = Tensor(shape: [1, 2, 1, 1], data: [1, 2])
        var w = Tensor(zeros: [2, 3, 2, 2])
        for ci in 0..<2 { for co in 0..<3 { for q in 0..<4 { w.data[(ci * 3 + co) * 4 + q] = Float(100 * ci + 10 * co + q) } } }
        let b = Tensor(shape: [3], data: [0.5, 1.5, 2.5])
        let out = Interpreter.convTranspose(x, w, b)
        XCTAssertEqual(out.shape, [1, 3, 2, 2])
        // out[co][dy][dx] = b[co] + 1 * (10 co + q) + 2 * (100 + 10 co + q) = b[co] + 200 + 3 (10 co + q), q = 2 dy + dx.
        var expected: [Float] = []
        for co in 0..<3 { for q in 0..<4 { expected.append(b.data[co] + 200 + 3 * Float(10 * co + q)) } }
        XCTAssertEqual(out.data, expected)
        XCTAssertEqual(Array(out.data[0..<4]), [200.5, 203.5, 206.5, 209.5])
    }

    func testConvTransposePlacesEachPixelInItsOwn2x2Block() {
        // 1 channel in and out, 2 x 3 input, kernel [[1, 2], [3, 4]]: pixel v lands as v * kernel at (2y, 2x).
        let x = Tensor(shape: [1, 1, 2, 3], data: [1, 2, 3, 4, 5, 6])
        let w = Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])
        let out = Interpreter.convTranspose(x, w, Tensor(shape: [1], data: [0]))
        XCTAssertEqual(out.shape, [1, 1, 4, 6])
        XCTAssertEqual(out.data, [1, 2, 2, 4, 3, 6,
                                  3, 4, 6, 8, 9, 12,
                                  4, 8, 5, 10, 6, 12,
                                  12, 16, 15, 20, 18, 24])
    }

    func testMaxPoolFloorsOddSizes() {
        // 1 x 1 x 5 x 3 -> 2 x 1: the last row and column are dropped.
        let x = Tensor(shape: [1, 1, 5, 3], data: [1, 9, 100,
                                                  3, 2, 100,
                                                  -5, -7, 100,
                                                  -6, -8, 100,
                                                  100, 100, 100])
        let out = Interpreter.maxPool(x)
        XCTAssertEqual(out.shape, [1, 1, 2, 1])
        XCTAssertEqual(out.data, [9, -5])
        // Two planes, 3 x 4 -> 1 x 2 each.
        let y = Tensor(shape: [1, 2, 3, 4], data: (0..<24).map { Float($0) })
        XCTAssertEqual(Interpreter.maxPool(y).data, [5, 7, 17, 19])
    }

    func testMaxPoolNaNWins() {
        let x = Tensor(shape: [1, 1, 2, 4], data: [1, .nan, 5, 6, 2, 3, 7, 8])
        let out = Interpreter.maxPool(x)
        XCTAssertTrue(out.data[0].isNaN)
        XCTAssertEqual(out.data[1], 8)
    }

    func testCrop() {
        // 1 x 2 x 4 x 5, rows 1..<3, columns 2..<4 of each channel.
        let x = Tensor(shape: [1, 2, 4, 5], data: (0..<40).map { Float($0) })
        let out = Interpreter.crop(x, top: 1, left: 2, height: 2, width: 2)
        XCTAssertEqual(out.shape, [1, 2, 2, 2])
        XCTAssertEqual(out.data, [7, 8, 12, 13, 27, 28, 32, 33])
    }

    func testConcatPerBatchItem() {
        let a = Tensor(shape: [2, 1, 1, 2], data: [1, 2, /* n1 */ 3, 4])
        let b = Tensor(shape: [2, 2, 1, 2], data: [10, 11, 12, 13, /* n1 */ 14, 15, 16, 17])
        let out = Interpreter.concat([a, b])
        XCTAssertEqual(out.shape, [2, 3, 1, 2])
        XCTAssertEqual(out.data, [1, 2, 10, 11, 12, 13, 3, 4, 14, 15, 16, 17])
    }

    func testReluKeepsNaN() throws {
        // A tiny graph: input -> relu -> output.
        let g = Graph(nodes: [
            Node(name: "input", op: .input, inputs: [], shape: Shape(n: 1, c: 1, h: 1, w: 4)),
            Node(name: "r", op: .relu, inputs: [0], shape: Shape(n: 1, c: 1, h: 1, w: 4)),
            Node(name: "output", op: .output, inputs: [1], shape: Shape(n: 1, c: 1, h: 1, w: 4)),
        ])
        try g.verify()
        let w = uncheckedWeights()
        let out = try Interpreter.output(g, weights: w, input: Tensor(shape: [1, 1, 1, 4], data: [-1, 2, .nan, -0.0]))
        XCTAssertEqual(out.data[0], 0)
        XCTAssertEqual(out.data[1], 2)
        XCTAssertTrue(out.data[2].isNaN)
        XCTAssertEqual(out.data[3].bitPattern, Float(0).bitPattern)
    }

    func testMultiInputConvReadsTheConcatenation() throws {
        // conv(a, b) must equal conv(concat(a, b)): the form eliminate-concat produces.
        let a = Tensor(shape: [1, 1, 3, 3], data: (0..<9).map { Float($0) })
        let b = Tensor(shape: [1, 2, 3, 3], data: (0..<18).map { Float($0) * -0.5 })
        let shape = Shape(n: 1, c: 2, h: 3, w: 3)
        let node = Node(name: "c", op: .conv(kernel: 3, padding: 1, activation: .none), inputs: [0, 1], shape: shape)
        var rng = SplitMix64(seed: 5)
        let weight = Tensor(shape: [2, 3, 3, 3], data: (0..<54).map { _ in Float(rng.uniform(1)) })
        let bias = Tensor(shape: [2], data: [0.25, -0.25])
        let w = uncheckedWeights(["c.weight": weight, "c.bias": bias])
        let viaEvaluate = Interpreter.evaluate(node, [a, b], input: a, weights: w)
        let direct = Interpreter.conv(Interpreter.concat([a, b]), weight, bias, kernel: 3, padding: 1, activation: .none)
        XCTAssertEqual(viaEvaluate, direct)
    }
}
