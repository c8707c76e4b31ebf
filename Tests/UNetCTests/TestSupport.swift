// Shared helpers for the UNetC tests: the golden fixtures, a cached C compiler lookup,
// temporary directories and small tensor utilities.

import Foundation
import XCTest
@testable import UNetC

/// The package's test directory and the things next to it.
enum TestPaths {
    static let testsDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    /// Tests/UNetCTests/Data: the golden fixtures made with PyTorch.
    static let dataDir = testsDir.appendingPathComponent("Data")
    /// The package root (two levels above this file's directory).
    static let packageRoot = testsDir.deletingLastPathComponent().deletingLastPathComponent()
    static let templatesDir = packageRoot.appendingPathComponent("Templates")
}

/// One golden case: weights and the input/output PyTorch computed.
struct Fixture {
    var name: String
    var weightsPath: String
    var weights: ModelWeights
    var input: Tensor
    /// PyTorch's float32 output.
    var output: Tensor
    /// PyTorch's float64 output, rounded to float32.
    var outputF64: Tensor
    var metadata: [String: String]

    var batch: Int { input.shape[0] }
    var height: Int { input.shape[2] }
    var width: Int { input.shape[3] }

    /// The unoptimised graph for this fixture's input.
    func graph() throws -> Graph {
        try weights.config.build(batch: batch, height: height, width: width)
    }

    static let names = ["tiny", "odd", "batch", "small"]

    private static let lock = NSLock()
    private static var cache: [String: Fixture] = [:]

    /// Loads (once per test process) `Data/<name>.weights.safetensors` and `<name>.io.safetensors`.
    static func load(_ name: String) throws -> Fixture {
        lock.lock()
        defer { lock.unlock() }
        if let f = cache[name] { return f }
        let weightsPath = TestPaths.dataDir.appendingPathComponent("\(name).weights.safetensors").path
        let ioPath = TestPaths.dataDir.appendingPathComponent("\(name).io.safetensors").path
        let weights = try ModelWeights.load(path: weightsPath)
        let io = try SafeTensors.read(path: ioPath)
        guard let input = io.tensors["input"], let output = io.tensors["output"], let f64 = io.tensors["output_f64"] else {
            throw ToolError("\(ioPath): missing input, output or output_f64")
        }
        let f = Fixture(name: name, weightsPath: weightsPath, weights: weights, input: input,
                        output: output, outputF64: f64, metadata: io.metadata)
        cache[name] = f
        return f
    }

    static func all() throws -> [Fixture] { try names.map(load) }
}

/// The C compiler the generated code is built with, looked up once per test process.
enum TestToolchain {
    private static let found: Result<String, Error> = Result { try Toolchain.findCompiler() }

    /// `Toolchain.findCompiler()` with the default flags, cached; skips the test when there is
    /// no C compiler with OpenMP on this machine.
    static func compiler() throws -> String {
        switch found {
        case .success(let cc): return cc
        case .failure(let error):
            // In CI the compiler is installed by .ci/run: its absence is a failure, not a skip.
            if ProcessInfo.processInfo.environment["CI"] != nil { throw error }
            throw XCTSkip("no C compiler: \(error)")
        }
    }

    /// The full path of `program`, or a skip when it is not installed.
    static func require(_ program: String) throws -> String {
        guard let path = Toolchain.which(program) else {
            if ProcessInfo.processInfo.environment["CI"] != nil { throw ToolError("\(program) is not installed") }
            throw XCTSkip("\(program) is not installed")
        }
        return path
    }
}

/// A fresh temporary directory, removed when the test ends.
func makeTemporaryDirectory(_ testCase: XCTestCase) throws -> String {
    let dir = try Toolchain.temporaryDirectory()
    testCase.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
    return dir
}

/// The largest absolute difference between two equally long float arrays (NaN if either has one).
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "maxAbsDiff: \(a.count) vs \(b.count) elements")
    var m = 0.0
    for i in a.indices {
        let d = abs(Double(a[i]) - Double(b[i]))
        if d.isNaN { return .nan }
        m = max(m, d)
    }
    return m
}

/// Whether two float arrays are bit-for-bit equal.
func bitIdentical(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
}

/// Runs `body` for every element of `items` across the cores and returns the results in order.
func concurrentMap<T, R>(_ items: [T], _ body: (T) -> R) -> [R] {
    var results = [R?](repeating: nil, count: items.count)
    let lock = NSLock()
    DispatchQueue.concurrentPerform(iterations: items.count) { i in
        let r = body(items[i])
        lock.lock(); results[i] = r; lock.unlock()
    }
    return results.map { $0! }
}

/// Asserts that `expression` throws an error whose description contains every fragment.
func assertThrows<T>(_ expression: @autoclosure () throws -> T, containing fragments: [String],
                     file: StaticString = #filePath, line: UInt = #line) {
    do {
        let value = try expression()
        XCTFail("expected an error containing \(fragments), got \(value)", file: file, line: line)
    } catch {
        let text = "\(error)"
        for fragment in fragments where !text.contains(fragment) {
            XCTFail("error \"\(text)\" lacks \"\(fragment)\"", file: file, line: line)
        }
    }
}

/// Weights for hand-built graphs: `tensors` as they are, without the U-Net shape checks.
func uncheckedWeights(_ tensors: [String: Tensor] = [:]) -> ModelWeights {
    let config = UNetConfig(inChannels: 1, outChannels: 1, base: 1, depth: 1)
    var w = try! ModelWeights(config: config, tensors: config.initialWeights(seed: 0))
    w.tensors = tensors
    return w
}
