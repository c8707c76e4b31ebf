// `unetc verify`: compile the generated C, run it and the reference interpreter on the same
// input, and compare, layer by layer when asked.

import Foundation

public struct ErrorStats: Sendable, CustomStringConvertible {
    public var maxAbs: Double = 0
    /// max |a - b| / max(|b|, 1e-3 * max|b|): relative error, guarded near zero.
    public var maxRel: Double = 0

    public init(_ a: [Float], _ b: [Float]) {
        precondition(a.count == b.count)
        let scale = max(b.reduce(0) { max($0, abs(Double($1))) } * 1e-3, 1e-30)
        for i in a.indices {
            if a[i].isNaN && b[i].isNaN { continue }          // both NaN: they agree
            let d = abs(Double(a[i]) - Double(b[i]))
            if d.isNaN || a[i].isNaN != b[i].isNaN { maxAbs = .nan; maxRel = .nan; return }
            maxAbs = max(maxAbs, d)
            maxRel = max(maxRel, d / max(abs(Double(b[i])), scale))
        }
    }

    public var description: String { String(format: "max abs %.3e, max rel %.3e", maxAbs, maxRel) }
}

/// A built program: its directory, the binary, and how long clang took.
public struct BuiltProgram {
    public var directory: String
    public var binary: String
    public var compileSeconds: Double
}

public enum Verifier {
    public struct Options {
        public var cc: String?
        public var flags = Toolchain.defaultFlags
        public var threads: Int?
        public var layers = false
        public var generator = GeneratorOptions()
        public init() {}
    }

    public struct Report {
        public var program: CProgram
        public var vsInterpreter: ErrorStats
        public var vsReference: ErrorStats?
        /// Per traced layer: the optimised node's name, the interpreter node it is compared
        /// with, and the error.
        public var layers: [(name: String, reference: String, error: ErrorStats)]
        public var compileSeconds: Double
        public var compiler: String
    }

    /// Writes `program` and the harness into a new temporary directory and compiles them.
    public static func build(_ program: CProgram, cc: String, flags: [String]) throws -> BuiltProgram {
        let dir = try Toolchain.temporaryDirectory()
        try program.write(to: dir)
        try Array(Template.render("verify_main.c", [:]).utf8).write(to: dir + "/main.c")
        let start = Date()
        try Toolchain.compile(cc: cc, flags: flags, sources: [dir + "/main.c"], output: dir + "/unet", include: dir)
        return BuiltProgram(directory: dir, binary: dir + "/unet", compileSeconds: Date().timeIntervalSince(start))
    }

    /// Runs a built program on `input`; returns the output and, with `trace`, every layer.
    public static func execute(_ built: BuiltProgram, input: Tensor, outputCount: Int, threads: Int?, trace: Bool)
        throws -> (output: [Float], layers: [(String, [Float])]) {
        let dir = built.directory
        try floatBytes(input.data).write(to: dir + "/input.f32")
        var args = [dir + "/input.f32", dir + "/output.f32"]
        if trace { args.append(dir + "/trace.bin") }
        var env = ["UNET_WEIGHTS_FILE": dir + "/unet_weights.bin"]
        if let t = threads { env["OMP_NUM_THREADS"] = "\(t)" }
        let result = try Toolchain.run(built.binary, args, environment: env)
        guard result.status == 0 else { throw ToolError("the compiled program failed (exit \(result.status)): \(result.output)") }
        let output = try readFloats(dir + "/output.f32")
        guard output.count == outputCount else { throw ToolError("the compiled program wrote \(output.count) floats, expected \(outputCount)") }
        return (output, trace ? try readTrace(dir + "/trace.bin") : [])
    }

    public static func verify(_ weights: ModelWeights, input: Tensor, reference: Tensor?, options: Options) throws -> Report {
        let (n, h, w) = (input.shape[0], input.shape[2], input.shape[3])
        let program = try Generator.generate(weights, batch: n, height: h, width: w, options: options.generator)
        let cc = try options.cc ?? Toolchain.findCompiler(flags: options.flags)
        let built = try build(program, cc: cc, flags: options.flags)
        defer { try? FileManager.default.removeItem(atPath: built.directory) }
        let outShape = program.graph.nodes[program.graph.outputIndex].shape
        let (output, traced) = try execute(built, input: input, outputCount: outShape.count,
                                           threads: options.threads, trace: options.layers)

        let plain = try weights.config.build(batch: n, height: h, width: w)
        var keep = Set<Int>()
        if options.layers { keep = Set(plain.nodes.indices) }
        let values = try Interpreter.run(plain, weights: weights, input: input, keep: { keep.contains($0) })
        let expected = values[plain.outputIndex]!
        var layers: [(String, String, ErrorStats)] = []
        for (name, data) in traced {
            guard let ref = referenceNode(for: name, optimised: program.graph, plain: plain), let value = values[ref] else { continue }
            layers.append((name, plain.nodes[ref].name, ErrorStats(data, value.data)))
        }
        let vsReference: ErrorStats?
        if let r = reference {
            guard r.shape == [outShape.n, outShape.c, outShape.h, outShape.w] else {
                throw ToolError("the reference output has shape \(r.shape), the model gives \(outShape)")
            }
            vsReference = ErrorStats(output, r.data)
        } else { vsReference = nil }
        return Report(program: program, vsInterpreter: ErrorStats(output, expected.data), vsReference: vsReference,
                      layers: layers, compileSeconds: built.compileSeconds, compiler: cc)
    }

    /// The unoptimised node whose value a traced, optimised node must equal: itself, or for a
    /// conv with a fused activation the activation node that read it.
    static func referenceNode(for name: String, optimised: Graph, plain: Graph) -> Int? {
        guard let i = plain.index(of: name), let o = optimised.index(of: name) else { return nil }
        if case .conv(_, _, let act) = optimised.nodes[o].op, act != .none {
            return plain.users()[i].first { plain.nodes[$0].op == .relu }
        }
        return i
    }

    /// Deterministic input, uniform in [0, 1), like the fixtures'.
    public static func randomInput(_ shape: Shape, seed: UInt64 = 1) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: [shape.n, shape.c, shape.h, shape.w], data: (0..<shape.count).map { _ in Float(rng.unit()) })
    }
}

func floatBytes(_ values: [Float]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
}

func readFloats(_ path: String) throws -> [Float] {
    guard let data = FileManager.default.contents(atPath: path) else { throw ToolError("\(path): cannot read") }
    return decodeFloats([UInt8](data)[...])
}

/// Native-endian float32 values from raw bytes (what the harnesses write).
func decodeFloats(_ bytes: ArraySlice<UInt8>) -> [Float] {
    bytes.withUnsafeBytes { raw in (0..<(bytes.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
}

func readTrace(_ path: String) throws -> [(String, [Float])] {
    guard let data = FileManager.default.contents(atPath: path) else { throw ToolError("\(path): cannot read") }
    let bytes = [UInt8](data)
    var out: [(String, [Float])] = []
    var i = 0
    while i < bytes.count {
        guard let nl = bytes[i...].firstIndex(of: 10) else { break }
        let fields = String(decoding: bytes[i..<nl], as: UTF8.self).split(separator: " ")
        guard fields.count == 2, let count = Int(fields[1]), nl + 1 + count * 4 <= bytes.count else {
            throw ToolError("\(path): malformed trace record")
        }
        let values = decodeFloats(bytes[(nl + 1)..<(nl + 1 + count * 4)])
        out.append((String(fields[0]), values))
        i = nl + 1 + count * 4
    }
    return out
}
