// The examples under Examples/ keep working: the segmentation program finds the discs in the
// committed sample picture, and the PyTorch export script's core writes what unetc reads.

import Foundation
import XCTest
@testable import UNetC

final class ExamplesTests: XCTestCase {
    static let examples = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Examples")
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Data")

    static func example(_ path: String) -> String { examples.appendingPathComponent(path).path }

    /// Generates the trained model's C, builds segment.c with it (warnings as errors), runs it on
    /// the sample and compares the mask with the true one and with the committed result.
    func testSegmentFindsTheDiscsInTheSample() throws {
        let cc: String
        do { cc = try Toolchain.findCompiler(flags: ["-O2"]) } catch { throw XCTSkip("no C compiler: \(error)") }
        let dir = try Self.temporaryDirectory(self)
        let weights = try ModelWeights.load(path: Self.example("segment/shapes.safetensors"))
        XCTAssertEqual(weights.config, UNetConfig(inChannels: 1, outChannels: 1, base: 8, depth: 3))
        let program = try Generator.generate(weights, batch: 1, height: 128, width: 128)
        try program.write(to: dir)
        try Toolchain.compile(cc: cc, flags: ["-std=c99", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror"],
                              sources: [Self.example("segment/segment.c"), dir + "/unet.c"],
                              output: dir + "/segment", include: dir)

        let run = try Toolchain.run(dir + "/segment", [Self.example("segment/sample.pgm"), dir + "/mask.pgm",
                                                       dir + "/overlay.ppm", "--truth", Self.example("segment/sample_truth.pgm")])
        XCTAssertEqual(run.status, 0, run.output)
        let mask = try Self.readPNM(dir + "/mask.pgm")
        let truth = try Self.readPNM(Self.example("segment/sample_truth.pgm"))
        let expected = try Self.readPNM(Self.example("segment/sample_mask.pgm"))
        XCTAssertEqual([mask.width, mask.height, mask.channels], [128, 128, 1])
        let vsTruth = Self.iou(mask.pixels, truth.pixels)
        XCTAssertGreaterThan(vsTruth, 0.9, "mask vs the true disc mask")
        XCTAssertGreaterThan(Self.iou(mask.pixels, expected.pixels), 0.99, "mask vs the committed sample_mask.pgm")
        XCTAssertTrue(run.output.contains(String(format: "IoU with %@: %.4f", Self.example("segment/sample_truth.pgm"), vsTruth)),
                      run.output)

        // The overlay: the picture in grey, object pixels tinted red (r > g), as many as the mask has.
        let overlay = try Self.readPNM(dir + "/overlay.ppm")
        XCTAssertEqual([overlay.width, overlay.height, overlay.channels], [128, 128, 3])
        let tinted = stride(from: 0, to: overlay.pixels.count, by: 3).filter { overlay.pixels[$0] > overlay.pixels[$0 + 1] }.count
        XCTAssertEqual(tinted, mask.pixels.filter { $0 != 0 }.count)
    }

    /// from_pytorch.py's core with numpy arrays standing in for tensors, on the `small` fixture
    /// whose `output` is PyTorch's: export (keys, a DataParallel prefix, metadata), the io file,
    /// then the generated C against PyTorch's output. Skipped without python3 and numpy.
    func testFromPyTorchCoreRoundTrip() throws {
        let python = try Self.pythonWithNumpy()
        let dir = try Self.temporaryDirectory(self)
        let weightsIn = Self.fixtures.appendingPathComponent("small.weights.safetensors").path
        let ioIn = Self.fixtures.appendingPathComponent("small.io.safetensors").path
        let script = """
        import sys
        sys.path.insert(0, sys.argv[1])
        import from_pytorch as fp
        state_dict, _ = fp.load_safetensors(sys.argv[2])
        io, _ = fp.load_safetensors(sys.argv[3])
        wrapped = {"module." + k: v for k, v in state_dict.items()}     # as nn.DataParallel saves it
        print("config", fp.export(wrapped, sys.argv[4] + "/model.safetensors"))
        fp.write_io(sys.argv[4] + "/model.io.safetensors", io["input"], io["output"])
        del state_dict["final_conv.bias"]
        try:
            fp.export(state_dict, sys.argv[4] + "/bad.safetensors")
        except ValueError as e:
            print("rejected:", e)
        """
        let result = try Toolchain.run(python, ["-c", script, Self.example("from_pytorch"), weightsIn, ioIn, dir])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("config {'in_channels': 3, 'out_channels': 1, 'base': 8, 'depth': 4}"), result.output)
        XCTAssertTrue(result.output.contains("rejected: missing key 'final_conv.bias'"), result.output)

        let written = try SafeTensors.read(path: dir + "/model.safetensors")
        XCTAssertEqual(written.metadata, ["in_channels": "3", "out_channels": "1", "base": "8", "depth": "4"])
        let original = try SafeTensors.read(path: weightsIn)
        XCTAssertEqual(written.tensors, original.tensors, "the prefix is removed and every tensor kept exactly")

        let weights = try ModelWeights.load(path: dir + "/model.safetensors")
        let io = try SafeTensors.read(path: dir + "/model.io.safetensors")
        let input = try XCTUnwrap(io.tensors["input"]), output = try XCTUnwrap(io.tensors["output"])
        XCTAssertEqual(input, try XCTUnwrap(try SafeTensors.read(path: ioIn).tensors["input"]))
        var options = Verifier.Options()
        options.flags = ["-O2"]
        do { options.cc = try Toolchain.findCompiler(flags: options.flags) } catch { throw XCTSkip("no C compiler: \(error)") }
        let report = try Verifier.verify(weights, input: input, reference: output, options: options)
        XCTAssertLessThan(report.vsInterpreter.maxAbs, 1e-4)
        XCTAssertLessThan(try XCTUnwrap(report.vsReference).maxAbs, 1e-4, "generated C vs PyTorch's output")
    }

    // MARK: - helpers

    /// Examples/.venv's python, else python3, if it imports numpy; else a skip.
    static func pythonWithNumpy() throws -> String {
        for candidate in [example(".venv/bin/python"), "python3"] where Toolchain.which(candidate) != nil {
            if (try? Toolchain.run(candidate, ["-c", "import numpy"]))?.status == 0 { return candidate }
        }
        throw XCTSkip("no python3 with numpy (make -C Examples venv)")
    }

    static func temporaryDirectory(_ testCase: XCTestCase) throws -> String {
        let dir = try Toolchain.temporaryDirectory()
        testCase.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// A binary PGM (P5) or PPM (P6) with maxval 255.
    static func readPNM(_ path: String) throws -> (width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw ToolError("\(path): cannot read") }
        let bytes = [UInt8](data)
        var pos = 2, fields: [Int] = []
        while fields.count < 3 {
            while pos < bytes.count, bytes[pos] == 0x23 || bytes[pos] <= 0x20 {
                if bytes[pos] == 0x23 { while pos < bytes.count, bytes[pos] != 0x0A { pos += 1 } }
                pos += 1
            }
            var value = 0
            while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { value = value * 10 + Int(bytes[pos] - 0x30); pos += 1 }
            fields.append(value)
        }
        pos += 1
        let channels = bytes.starts(with: Array("P5".utf8)) ? 1 : bytes.starts(with: Array("P6".utf8)) ? 3 : 0
        let count = fields[0] * fields[1] * channels
        guard channels > 0, fields[2] == 255, bytes.count - pos == count else {
            throw ToolError("\(path): not a binary PGM/PPM with maxval 255 and \(count) bytes of pixels")
        }
        return (fields[0], fields[1], channels, Array(bytes[pos...]))
    }

    /// Intersection over union of two masks (non-zero = object).
    static func iou(_ a: [UInt8], _ b: [UInt8]) -> Double {
        precondition(a.count == b.count)
        var both = 0, either = 0
        for i in a.indices {
            both += (a[i] != 0 && b[i] != 0) ? 1 : 0
            either += (a[i] != 0 || b[i] != 0) ? 1 : 0
        }
        return either == 0 ? 1 : Double(both) / Double(either)
    }
}
