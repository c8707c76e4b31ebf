// The U-Net builder: shapes, crops, node counts, errors, parameter counts and the printer.

import Foundation
import XCTest
@testable import UNetC

final class BuilderTests: XCTestCase {
    func config(depth: Int, base: Int = 2, inChannels: Int = 3, outChannels: Int = 1) -> UNetConfig {
        UNetConfig(inChannels: inChannels, outChannels: outChannels, base: base, depth: depth)
    }

    // MARK: Shapes

    func testOutputShapeForOddSizesAndDepths() throws {
        let sizes = [(16, 16), (37, 45), (33, 32), (61, 17), (64, 80), (100, 39), (129, 255), (47, 95)]
        for depth in 1...5 {
            for (h, w) in sizes where h >= 1 << depth && w >= 1 << depth {
                let g = try config(depth: depth).build(batch: 2, height: h, width: w)
                let out = g.nodes[g.outputIndex].shape
                let expected = Shape(n: 2, c: 1, h: (h >> depth) << depth, w: (w >> depth) << depth)
                XCTAssertEqual(out, expected, "depth \(depth), \(h)x\(w)")
                XCTAssertEqual(g.input.shape, Shape(n: 2, c: 3, h: h, w: w))
                XCTAssertNoThrow(try g.verify())
            }
        }
    }

    func testNodeCountAndOpCounts() throws {
        for depth in 1...5 {
            let g = try config(depth: depth).build(batch: 1, height: 1 << depth, width: 3 << depth)
            // input, per level 4 + pool, middle 4, per up level convT + crop + concat + 4, final, output.
            XCTAssertEqual(g.nodes.count, 12 * depth + 7, "depth \(depth)")
            func count(_ p: (Op) -> Bool) -> Int { g.nodes.filter { p($0.op) }.count }
            XCTAssertEqual(count { if case .conv(3, 1, .none) = $0 { return true } else { return false } }, 4 * depth + 2)
            XCTAssertEqual(count { if case .conv(1, 0, .none) = $0 { return true } else { return false } }, 1)
            XCTAssertEqual(count { $0 == .relu }, 4 * depth + 2)
            XCTAssertEqual(count { $0 == .maxPool }, depth)
            XCTAssertEqual(count { $0 == .convTranspose }, depth)
            XCTAssertEqual(count { if case .crop = $0 { return true } else { return false } }, depth)
            XCTAssertEqual(count { $0 == .concat }, depth)
            XCTAssertEqual(count { $0 == .input }, 1)
            XCTAssertEqual(count { $0 == .output }, 1)
            // Every parameterised node has a matching parameter in parameterShapes.
            let keys = Set(config(depth: depth).parameterShapes().map(\.key))
            for node in g.nodes where node.op.hasWeights {
                XCTAssertTrue(keys.contains("\(node.name).weight"), node.name)
                XCTAssertTrue(keys.contains("\(node.name).bias"), node.name)
            }
            XCTAssertEqual(g.nodes.filter(\.op.hasWeights).count * 2, keys.count)
        }
    }

    func testChannelWidthsPerLevel() throws {
        let c = UNetConfig(inChannels: 5, outChannels: 3, base: 4, depth: 3)
        let g = try c.build(batch: 1, height: 24, width: 40)
        func shape(_ name: String) -> Shape { g.nodes[g.index(of: name)!].shape }
        XCTAssertEqual(shape("down_conv.0.first"), Shape(n: 1, c: 4, h: 24, w: 40))
        XCTAssertEqual(shape("down_conv.0.pool"), Shape(n: 1, c: 4, h: 12, w: 20))
        XCTAssertEqual(shape("down_conv.2.second.relu"), Shape(n: 1, c: 16, h: 6, w: 10))
        XCTAssertEqual(shape("middle_conv.second"), Shape(n: 1, c: 32, h: 3, w: 5))
        XCTAssertEqual(shape("up_sample.0.up"), Shape(n: 1, c: 16, h: 6, w: 10))
        XCTAssertEqual(shape("up_conv.0.concat"), Shape(n: 1, c: 32, h: 6, w: 10))
        XCTAssertEqual(shape("up_conv.2.second"), Shape(n: 1, c: 4, h: 24, w: 40))
        XCTAssertEqual(shape("final_conv"), Shape(n: 1, c: 3, h: 24, w: 40))
        // The concat reads the upsampled map first, then the cropped skip.
        let cat = g.nodes[g.index(of: "up_conv.1.concat")!]
        XCTAssertEqual(cat.inputs.map { g.nodes[$0].name }, ["up_sample.1.up", "up_conv.1.crop"])
        XCTAssertEqual(g.nodes[g.index(of: "up_conv.1.crop")!].inputs.map { g.nodes[$0].name }, ["down_conv.1.second.relu"])
    }

    // MARK: Crops

    func testCenterCropOffsetRoundsHalfToEven() {
        // Python's round(d / 2): halves go to the even neighbour.
        func pythonRound(_ d: Int) -> Int {
            let x = Double(d) / 2
            let f = x.rounded(.down)
            if x - f == 0.5 { return Int(f).isMultiple(of: 2) ? Int(f) : Int(f) + 1 }
            return Int(x.rounded())
        }
        let expected = [0, 0, 1, 2, 2, 2, 3, 4, 4, 4, 5, 6, 6, 6, 7]   // d = 0...14
        for d in 0...14 {
            XCTAssertEqual(centerCropOffset(size: 100 + d, target: 100), expected[d], "difference \(d)")
            XCTAssertEqual(centerCropOffset(size: 37 + d, target: 37), pythonRound(d), "difference \(d)")
        }
        XCTAssertEqual(centerCropOffset(size: 1, target: 0), 0)    // 0.5 -> 0
        XCTAssertEqual(centerCropOffset(size: 3, target: 0), 2)    // 1.5 -> 2
        XCTAssertEqual(centerCropOffset(size: 5, target: 0), 2)    // 2.5 -> 2
        XCTAssertEqual(centerCropOffset(size: 13, target: 0), 6)   // 6.5 -> 6
    }

    func testCropOffsetsInTheGraph() throws {
        // 37 x 45 at depth 4 (the `odd` fixture): level 0 skips are 37 x 45, the upsampled map 32 x 32,
        // so the crop starts at round(5 / 2) = 2, round(13 / 2) = 6.
        let g = try config(depth: 4).build(batch: 1, height: 37, width: 45)
        var found = 0
        for node in g.nodes {
            guard case .crop(let top, let left, let h, let w) = node.op else { continue }
            let src = g.nodes[node.inputs[0]].shape
            XCTAssertEqual(top, centerCropOffset(size: src.h, target: h), node.name)
            XCTAssertEqual(left, centerCropOffset(size: src.w, target: w), node.name)
            found += 1
        }
        XCTAssertEqual(found, 4)
        func crop(_ name: String) -> Op { g.nodes[g.index(of: name)!].op }
        XCTAssertEqual(crop("up_conv.3.crop"), .crop(top: 2, left: 6, height: 32, width: 32))
        // Level 1: 18 x 22 against 16 x 16: offsets 1, 3.
        XCTAssertEqual(crop("up_conv.2.crop"), .crop(top: 1, left: 3, height: 16, width: 16))
        // Level 2: 9 x 11 against 8 x 8: 0.5 -> 0 and 1.5 -> 2.
        XCTAssertEqual(crop("up_conv.1.crop"), .crop(top: 0, left: 2, height: 8, width: 8))
        // Level 3: 4 x 5 against 4 x 4: 0 and 0.5 -> 0.
        XCTAssertEqual(crop("up_conv.0.crop"), .crop(top: 0, left: 0, height: 4, width: 4))
    }

    // MARK: Errors

    func testTooSmallHeightAndWidth() {
        assertThrows(try config(depth: 4).build(batch: 1, height: 12, width: 64),
                     containing: ["height 12", "depth 4", "level 4 would have 0 rows", "smallest height is 16"])
        assertThrows(try config(depth: 4).build(batch: 1, height: 64, width: 3),
                     containing: ["width 3", "depth 4", "level 2 would have 0 columns", "smallest width is 16"])
        assertThrows(try config(depth: 1).build(batch: 1, height: 1, width: 8),
                     containing: ["height 1", "depth 1", "level 1"])
        assertThrows(try config(depth: 5).build(batch: 1, height: 31, width: 32), containing: ["height 31", "depth 5"])
        XCTAssertNoThrow(try config(depth: 5).build(batch: 1, height: 32, width: 32))
    }

    func testZeroAndNegativeSizes() {
        assertThrows(try config(depth: 2).build(batch: 0, height: 8, width: 8), containing: ["batch must be at least 1, got 0"])
        assertThrows(try config(depth: 2).build(batch: 1, height: 0, width: 8), containing: ["height must be at least 1, got 0"])
        assertThrows(try config(depth: 2).build(batch: 1, height: 8, width: -3), containing: ["width must be at least 1, got -3"])
        assertThrows(try config(depth: 0).build(batch: 1, height: 8, width: 8), containing: ["depth must be at least 1, got 0"])
        assertThrows(try config(depth: 2, base: 0).build(batch: 1, height: 8, width: 8), containing: ["base must be at least 1, got 0"])
        assertThrows(try config(depth: 2, inChannels: -1).build(batch: 1, height: 8, width: 8),
                     containing: ["in channels must be at least 1, got -1"])
        assertThrows(try config(depth: 2, outChannels: 0).build(batch: 1, height: 8, width: 8),
                     containing: ["out channels must be at least 1, got 0"])
    }

    func testAbsurdlyLargeSizes() {
        assertThrows(try config(depth: 2).build(batch: 1, height: Int.max, width: 8), containing: ["too large"])
        assertThrows(try config(depth: 2).build(batch: 1, height: 8, width: maxSide + 1), containing: ["too large", "\(maxSide)"])
        assertThrows(try config(depth: 2).build(batch: Int.max, height: 8, width: 8), containing: ["too large"])
        assertThrows(try config(depth: 13).build(batch: 1, height: 1 << 14, width: 1 << 14), containing: ["model too large"])
        assertThrows(try config(depth: 2, base: Int.max).build(batch: 1, height: 8, width: 8), containing: ["model too large"])
        assertThrows(try config(depth: 12, base: 1 << 10).build(batch: 1, height: 1 << 12, width: 1 << 12),
                     containing: ["model too large"])
        assertThrows(try config(depth: 2, inChannels: Int.max).build(batch: 1, height: 8, width: 8), containing: ["model too large"])
        assertThrows(try config(depth: Int.max).build(batch: 1, height: 8, width: 8), containing: ["model too large"])
    }

    // MARK: Parameters

    func testClassicParameterCount() {
        // PyTorch's classic U-Net, 3 -> 1, base 64, depth 4 (no batch norm), has 31,031,745 parameters.
        XCTAssertEqual(UNetConfig.classic.parameterCount, 31_031_745)
        XCTAssertEqual(UNetConfig.classic, UNetConfig(inChannels: 3, outChannels: 1, base: 64, depth: 4))
    }

    func testParameterCountMatchesAnIndependentFormula() {
        func conv(_ ci: Int, _ co: Int, _ k: Int) -> Int { ci * co * k * k + co }
        for (cin, cout, base, depth) in [(3, 1, 4, 4), (1, 2, 8, 3), (3, 1, 2, 1), (7, 5, 3, 5), (3, 1, 64, 4)] {
            var total = 0, ci = cin
            for k in 0..<depth { total += conv(ci, base << k, 3) + conv(base << k, base << k, 3); ci = base << k }
            total += conv(ci, base << depth, 3) + conv(base << depth, base << depth, 3)
            for j in 0..<depth {
                let up = base << (depth - j), down = base << (depth - j - 1)
                total += conv(up, down, 2) + conv(2 * down, down, 3) + conv(down, down, 3)
            }
            total += conv(base, cout, 1)
            let c = UNetConfig(inChannels: cin, outChannels: cout, base: base, depth: depth)
            XCTAssertEqual(c.parameterCount, total, "\(c)")
            XCTAssertEqual(c.parameterShapes().count, 4 * (depth + 1) + 6 * depth + 2)
            XCTAssertEqual(Set(c.parameterShapes().map(\.key)).count, c.parameterShapes().count, "keys are unique")
        }
    }

    func testParameterShapesOfTheFirstAndLastLayers() {
        let shapes = Dictionary(uniqueKeysWithValues: UNetConfig.classic.parameterShapes().map { ($0.key, $0.shape) })
        XCTAssertEqual(shapes["down_conv.0.first.weight"], [64, 3, 3, 3])
        XCTAssertEqual(shapes["middle_conv.second.weight"], [1024, 1024, 3, 3])
        XCTAssertEqual(shapes["up_sample.0.up.weight"], [1024, 512, 2, 2])
        XCTAssertEqual(shapes["up_sample.0.up.bias"], [512])
        XCTAssertEqual(shapes["up_conv.0.first.weight"], [512, 1024, 3, 3])
        XCTAssertEqual(shapes["up_conv.3.second.weight"], [64, 64, 3, 3])
        XCTAssertEqual(shapes["final_conv.weight"], [1, 64, 1, 1])
        XCTAssertEqual(shapes["final_conv.bias"], [1])
    }

    // MARK: Printer

    func testTextGoldenDepth1() throws {
        let g = try config(depth: 1).build(batch: 1, height: 9, width: 11)
        let expected = """
        %0 input = input() : 1x3x9x11
        %1 down_conv.0.first = conv3x3(%0) : 1x2x9x11
        %2 down_conv.0.first.relu = relu(%1) : 1x2x9x11
        %3 down_conv.0.second = conv3x3(%2) : 1x2x9x11
        %4 down_conv.0.second.relu = relu(%3) : 1x2x9x11
        %5 down_conv.0.pool = maxpool2x2(%4) : 1x2x4x5
        %6 middle_conv.first = conv3x3(%5) : 1x4x4x5
        %7 middle_conv.first.relu = relu(%6) : 1x4x4x5
        %8 middle_conv.second = conv3x3(%7) : 1x4x4x5
        %9 middle_conv.second.relu = relu(%8) : 1x4x4x5
        %10 up_sample.0.up = convT2x2(%9) : 1x2x8x10
        %11 up_conv.0.crop = crop(%4) at (0, 0) : 1x2x8x10
        %12 up_conv.0.concat = concat(%10, %11) : 1x4x8x10
        %13 up_conv.0.first = conv3x3(%12) : 1x2x8x10
        %14 up_conv.0.first.relu = relu(%13) : 1x2x8x10
        %15 up_conv.0.second = conv3x3(%14) : 1x2x8x10
        %16 up_conv.0.second.relu = relu(%15) : 1x2x8x10
        %17 final_conv = conv1x1(%16) : 1x1x8x10
        %18 output = output(%17) : 1x1x8x10

        """
        XCTAssertEqual(g.text(), expected)
    }

    func testTextOfTheTinyFixtureConfig() throws {
        // The tiny fixture (3 -> 1, base 4, depth 4, 1x3x32x32): spot-check lines of the printout.
        let g = try UNetConfig(inChannels: 3, outChannels: 1, base: 4, depth: 4).build(batch: 1, height: 32, width: 32)
        let lines = g.text().split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 56)   // 55 nodes and the final newline
        XCTAssertEqual(lines[0], "%0 input = input() : 1x3x32x32")
        XCTAssertEqual(lines[21], "%21 middle_conv.first = conv3x3(%20) : 1x64x2x2")
        XCTAssertEqual(lines[25], "%25 up_sample.0.up = convT2x2(%24) : 1x32x4x4")
        XCTAssertEqual(lines[26], "%26 up_conv.0.crop = crop(%19) at (0, 0) : 1x32x4x4")
        XCTAssertEqual(lines[27], "%27 up_conv.0.concat = concat(%25, %26) : 1x64x4x4")
        XCTAssertEqual(lines[53], "%53 final_conv = conv1x1(%52) : 1x1x32x32")
        XCTAssertEqual(lines[54], "%54 output = output(%53) : 1x1x32x32")
        XCTAssertEqual(lines[55], "")
    }

    func testMnemonics() {
        XCTAssertEqual(Op.conv(kernel: 3, padding: 1, activation: .relu).mnemonic, "conv3x3+relu")
        XCTAssertEqual(Op.conv(kernel: 1, padding: 0, activation: .none).mnemonic, "conv1x1")
        XCTAssertEqual(Op.view(top: 1, left: 2, height: 3, width: 4).mnemonic, "view")
        XCTAssertEqual(Op.maxPool.mnemonic, "maxpool2x2")
        XCTAssertEqual(Op.convTranspose.mnemonic, "convT2x2")
    }
}
