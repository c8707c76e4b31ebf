// Loading weights: the config inferred from the fixtures, every error message, NaN
// detection, and the deterministic initial weights.

import Foundation
import XCTest
@testable import UNetC

final class WeightsTests: XCTestCase {
    /// A small valid model's tensors (3 -> 1, base 2, depth 2).
    let smallConfig = UNetConfig(inChannels: 3, outChannels: 1, base: 2, depth: 2)

    /// Writes `tensors` (and `metadata`) to a new file and loads it as weights.
    func load(_ tensors: [String: Tensor], metadata: [String: String] = [:], name: String = "model.safetensors") throws -> ModelWeights {
        let path = try makeTemporaryDirectory(self) + "/" + name
        try SafeTensors(tensors: tensors, metadata: metadata).write(path: path)
        return try ModelWeights.load(path: path)
    }

    /// Loading `tensors` must throw a WeightsError naming the file whose message contains every fragment.
    func expectError(_ tensors: [String: Tensor], metadata: [String: String] = [:], _ fragments: String...,
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try makeTemporaryDirectory(self)
        let path = dir + "/bad.safetensors"
        try SafeTensors(tensors: tensors, metadata: metadata).write(path: path)
        do {
            let w = try ModelWeights.load(path: path)
            XCTFail("expected an error containing \(fragments), loaded \(w.config)", file: file, line: line)
        } catch let error as WeightsError {
            XCTAssertEqual(error.path, path, file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(path + ": "), file: file, line: line)
            for fragment in fragments where !error.message.contains(fragment) {
                XCTFail("message \"\(error.message)\" lacks \"\(fragment)\"", file: file, line: line)
            }
        } catch {
            XCTFail("unexpected error type \(type(of: error)): \(error)", file: file, line: line)
        }
    }

    // MARK: Fixtures

    func testFixturesInferTheirConfig() throws {
        let expected: [String: UNetConfig] = [
            "tiny": UNetConfig(inChannels: 3, outChannels: 1, base: 4, depth: 4),
            "odd": UNetConfig(inChannels: 3, outChannels: 1, base: 4, depth: 4),
            "batch": UNetConfig(inChannels: 1, outChannels: 2, base: 8, depth: 3),
            "small": UNetConfig(inChannels: 3, outChannels: 1, base: 8, depth: 4),
        ]
        for f in try Fixture.all() {
            XCTAssertEqual(f.weights.config, expected[f.name], f.name)
            XCTAssertEqual(f.weights.nonFiniteKeys, [], f.name)
            XCTAssertEqual(f.weights.tensors.count, f.weights.config.parameterShapes().count, f.name)
            for (key, shape) in f.weights.config.parameterShapes() {
                XCTAssertEqual(f.weights.tensors[key]?.shape, shape, "\(f.name) \(key)")
            }
            // The io file's metadata agrees with the inferred config.
            XCTAssertEqual(f.metadata["base"], "\(f.weights.config.base)", f.name)
            XCTAssertEqual(f.metadata["depth"], "\(f.weights.config.depth)", f.name)
            XCTAssertEqual(f.input.shape[1], f.weights.config.inChannels, f.name)
            XCTAssertEqual(f.output.shape[1], f.weights.config.outChannels, f.name)
        }
        let odd = try Fixture.load("odd")
        XCTAssertEqual(odd.input.shape, [1, 3, 37, 45])
        XCTAssertEqual(odd.output.shape, [1, 1, 32, 32])
        let batch = try Fixture.load("batch")
        XCTAssertEqual(batch.input.shape, [2, 1, 40, 48])
    }

    func testRoundTripOfInitialWeights() throws {
        let file = smallConfig.initialWeightsFile(seed: 7, scheme: .variancePreserving)
        XCTAssertEqual(file.metadata["init"], "variance-preserving")
        XCTAssertEqual(file.metadata["seed"], "7")
        let path = try makeTemporaryDirectory(self) + "/init.safetensors"
        try file.write(path: path)
        let w = try ModelWeights.load(path: path)
        XCTAssertEqual(w.config, smallConfig)
        XCTAssertEqual(w.tensors, smallConfig.initialWeights(seed: 7))
    }

    // MARK: Errors

    func testMissingKey() throws {
        var t = smallConfig.initialWeights(seed: 1)
        t["up_conv.1.second.bias"] = nil
        try expectError(t, "missing key 'up_conv.1.second.bias'", "expected shape [2]", "base 2, depth 2")
    }

    func testUnexpectedKey() throws {
        var t = smallConfig.initialWeights(seed: 1)
        t["extra.weight"] = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        try expectError(t, "unexpected key 'extra.weight'", "[2, 3]", "not a parameter")
        // A level beyond the inferred depth (no down_conv.2) is unexpected too, not a new level.
        var u = smallConfig.initialWeights(seed: 1)
        u["down_conv.3.first.weight"] = Tensor(zeros: [16, 8, 3, 3])
        try expectError(u, "unexpected key 'down_conv.3.first.weight'")
    }

    func testWrongShape() throws {
        var t = smallConfig.initialWeights(seed: 1)
        t["up_conv.0.first.weight"] = Tensor(zeros: [4, 8, 3, 1])
        try expectError(t, "tensor 'up_conv.0.first.weight'", "expected shape [4, 8, 3, 3]", "found [4, 8, 3, 1]")
        // A final layer whose width disagrees with the first layer's base.
        var u = smallConfig.initialWeights(seed: 1)
        u["final_conv.weight"] = Tensor(zeros: [1, 5, 1, 1])
        try expectError(u, "tensor 'final_conv.weight'", "expected shape [1, 2, 1, 1]", "found [1, 5, 1, 1]")
        // A first layer of the wrong rank.
        var v = smallConfig.initialWeights(seed: 1)
        v["down_conv.0.first.weight"] = Tensor(zeros: [2, 27])
        try expectError(v, "tensor 'down_conv.0.first.weight'", "expected 4 dimensions", "[2, 27]")
    }

    func testMetadataDisagreeingWithShapes() throws {
        let t = smallConfig.initialWeights(seed: 1)
        try expectError(t, metadata: ["base": "8"], "metadata says base = 8", "the weight shapes give 2")
        try expectError(t, metadata: ["depth": "4"], "metadata says depth = 4", "give 2")
        try expectError(t, metadata: ["in_channels": "1"], "metadata says in_channels = 1", "give 3")
        try expectError(t, metadata: ["out_channels": "3"], "metadata says out_channels = 3", "give 1")
        // Agreeing (or non-numeric, unrelated) metadata is fine.
        XCTAssertEqual(try load(t, metadata: ["base": "2", "depth": "2", "note": "x"]).config, smallConfig)
    }

    func testNotAUNet() throws {
        try expectError(["foo": Tensor(shape: [2], data: [1, 2])],
                        "missing key 'down_conv.0.first.weight'", "is this a U-Net state_dict?", "found 1 tensors", "'foo'")
        try expectError([:], "missing key 'down_conv.0.first.weight'", "found 0 tensors")
        // Only the first layer: final_conv is missing.
        try expectError(["down_conv.0.first.weight": Tensor(zeros: [2, 3, 3, 3])], "missing key 'final_conv.weight'")
    }

    func testZeroWidthModel() throws {
        var t = smallConfig.initialWeights(seed: 1)
        t["down_conv.0.first.weight"] = Tensor(zeros: [0, 3, 3, 3])
        try expectError(t, "base must be at least 1, got 0")
    }

    func testNaNAndInfinityShowInNonFiniteKeys() throws {
        var t = smallConfig.initialWeights(seed: 1)
        t["middle_conv.first.weight"]!.data[5] = .nan
        t["final_conv.bias"]!.data[0] = -.infinity
        let w = try load(t)
        XCTAssertEqual(w.nonFiniteKeys, ["final_conv.bias", "middle_conv.first.weight"])
        // Also through the initializer directly.
        let direct = try ModelWeights(config: smallConfig, tensors: t)
        XCTAssertEqual(direct.nonFiniteKeys, ["final_conv.bias", "middle_conv.first.weight"])
    }

    func testInitializerChecksShapes() {
        var t = smallConfig.initialWeights(seed: 1)
        t["middle_conv.second.bias"] = Tensor(zeros: [3])
        assertThrows(try ModelWeights(config: smallConfig, tensors: t, path: "mem"),
                     containing: ["mem: ", "tensor 'middle_conv.second.bias'", "expected shape [8]", "found [3]"])
    }

    // MARK: Initial weights

    func testInitialWeightsAreDeterministic() {
        let a = smallConfig.initialWeights(seed: 42)
        let b = smallConfig.initialWeights(seed: 42)
        let c = smallConfig.initialWeights(seed: 43)
        XCTAssertEqual(a, b)
        XCTAssertEqual(Set(a.keys), Set(smallConfig.parameterShapes().map(\.key)))
        for (key, shape) in smallConfig.parameterShapes() {
            XCTAssertEqual(a[key]?.shape, shape, key)
            XCTAssertNotEqual(a[key], c[key], "seed 42 and 43 give the same \(key)")
        }
        let p = smallConfig.initialWeights(seed: 42, scheme: .pytorch)
        XCTAssertEqual(p, smallConfig.initialWeights(seed: 42, scheme: .pytorch))
        XCTAssertNotEqual(p, a)
    }

    func testSplitMix64KnownValues() {
        // The reference SplitMix64 sequence for seed 0 (Vigna's splitmix64.c).
        var rng = SplitMix64(seed: 0)
        XCTAssertEqual(rng.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(rng.next(), 0x6E78_9E6A_A1B9_65F4)
        XCTAssertEqual(rng.next(), 0x06C4_5D18_8009_454F)
    }

    func std(_ xs: [Float]) -> (mean: Double, std: Double) {
        let m = xs.reduce(0.0) { $0 + Double($1) } / Double(xs.count)
        let v = xs.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(xs.count)
        return (m, v.squareRoot())
    }

    func testVariancePreservingStd() {
        let config = UNetConfig(inChannels: 3, outChannels: 2, base: 16, depth: 2)
        let w = config.initialWeights(seed: 3)
        // Conv: N(0, 2 / fan_in), fan_in = in * 3 * 3.
        let conv = w["down_conv.1.first.weight"]!
        XCTAssertEqual(conv.shape, [32, 16, 3, 3])
        let expected = (2.0 / Double(16 * 9)).squareRoot()
        let s = std(conv.data)
        XCTAssertEqual(s.std, expected, accuracy: 0.1 * expected)
        XCTAssertEqual(s.mean, 0, accuracy: 0.1 * expected)
        // Transposed conv: N(0, 1 / in_channels), in = dim 0.
        let up = w["up_sample.0.up.weight"]!
        XCTAssertEqual(up.shape, [64, 32, 2, 2])
        XCTAssertEqual(std(up.data).std, (1.0 / 64).squareRoot(), accuracy: 0.1 * (1.0 / 64).squareRoot())
        // Final 1x1: N(0, 1 / in_channels).
        let final = w["final_conv.weight"]!
        XCTAssertEqual(final.shape, [2, 16, 1, 1])
        XCTAssertEqual(std(final.data).std, 0.25, accuracy: 0.25 * 0.5)   // only 32 values
        // Biases: U(-0.1, 0.1).
        for (key, t) in w where key.hasSuffix(".bias") {
            XCTAssertTrue(t.data.allSatisfy { abs($0) <= 0.1 }, key)
        }
        XCTAssertTrue(w.values.allSatisfy { $0.data.allSatisfy(\.isFinite) })
    }

    func testPyTorchSchemeBounds() {
        let config = UNetConfig(inChannels: 3, outChannels: 2, base: 16, depth: 2)
        let w = config.initialWeights(seed: 3, scheme: .pytorch)
        for (key, shape) in config.parameterShapes() where key.hasSuffix(".weight") {
            // fan_in = dim 1 x kernel area (for ConvTranspose2d, PyTorch's dim 1 is out channels).
            let bound = 1 / Double(shape[1] * shape[2] * shape[3]).squareRoot()
            XCTAssertTrue(w[key]!.data.allSatisfy { abs(Double($0)) <= bound }, key)
            let biasKey = String(key.dropLast(".weight".count)) + ".bias"
            XCTAssertTrue(w[biasKey]!.data.allSatisfy { abs(Double($0)) <= bound }, biasKey)
        }
        // Uniform on [-b, b): std b / sqrt 3.
        let conv = w["down_conv.1.first.weight"]!
        let b = 1 / Double(16 * 9).squareRoot()
        XCTAssertEqual(std(conv.data).std, b / 3.0.squareRoot(), accuracy: 0.1 * b / 3.0.squareRoot())
    }
}
