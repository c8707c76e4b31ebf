import ArgumentParser
import Foundation
import UNetC

extension AlgorithmChoice: ExpressibleByArgument {}
extension MemoryMode: ExpressibleByArgument {}

/// The vector unit the C is arranged for: this machine's unless given (generate, verify, inspect, tune).
struct VectorOptions: ParsableArguments {
    @Option(help: "Floats per vector: 16 (AVX-512), 8 (AVX2), 4 (NEON, SSE). Default: this machine's (\(VectorUnit.host.width)).")
    var vectorWidth: Int?

    @Option(help: "Vector registers: 32 (AVX-512, NEON) or 16 (AVX2, SSE); the register tiles are sized to fit them. Default: this machine's (\(VectorUnit.host.registers)).")
    var vectorRegisters: Int?

    func validate() throws {
        do { try unit.check() } catch let error as GraphError { throw ValidationError(error.message) }
    }

    /// The vector unit: the options where given, else this machine's.
    var unit: VectorUnit {
        VectorUnit(width: vectorWidth ?? VectorUnit.host.width, registers: vectorRegisters ?? VectorUnit.host.registers)
    }
}

/// Options that shape the generated C.
struct CodegenOptions: ParsableArguments {
    @OptionGroup var vector: VectorOptions

    @Option(help: "Per-layer tiling from `unetc tune` (JSON).")
    var tuning: String?

    @Option(help: "Conv algorithm where the tuning file says nothing: direct, winograd (every 3x3 conv) or auto (winograd where it pays: 3x3 convs with 32 or more input channels).")
    var algorithm: AlgorithmChoice = .auto

    @Option(help: "Winograd output tile m of F(m x m, 3x3): 4 (4x fewer multiplies), 2 (2.25x fewer, more accurate) or 0 (per layer: 4 from 32x32 outputs up, 2 below).")
    var winogradTile = 0

    @Option(help: "speed (every layer stored whole) or min (the smallest arena: each conv streamed into the next a few rows at a time, pools and the final 1x1 fused, decoder outputs written over their skips; see inspect --memory).")
    var memoryMode: MemoryMode = .speed

    @Option(help: "Speed schedule: a direct 3x3 conv whose input (one image, every channel) is at least this many bytes, and which does at most 384 FLOPs per byte of it, computes the layers that feed it a band of rows at a time straight into its packed input, with its max pool in the same loop, each thread on rows of its own: those maps never go to memory. A group whose scratch would pass 4 MiB a thread (16 MiB in all) runs its layers on their own. Default 16 MiB, past this machine's L3 (the classic model's full-size levels; the decoder's from 512x512 up on its own); smaller for a smaller cache, larger than any map to turn it off.")
    var streamBytes = GeneratorOptions().streamBytes

    @Flag(help: "Write the weights to unet_weights.bin, given to unet_set_weights() at run time, instead of into unet.c (fast to compile; for large models).")
    var externalWeights = false

    func validate() throws {
        if streamBytes < 0 { throw ValidationError("--stream-bytes must be 0 or more") }
    }

    /// `input` (N, C, H, W), when known, is checked against the shape a tuning file was made for.
    func generatorOptions(source: String, input: Shape? = nil) throws -> GeneratorOptions {
        var o = GeneratorOptions()
        let unit = vector.unit
        o.vectorWidth = unit.width
        o.vectorRegisters = unit.registers
        o.externalWeights = externalWeights
        o.algorithm = algorithm
        o.winogradTile = winogradTile
        o.memory = memoryMode
        o.streamBytes = streamBytes
        o.sourceName = URL(fileURLWithPath: source).lastPathComponent
        if let path = tuning {
            let file = try TuningFile.read(path: path)
            for warning in file.mismatches(vectorWidth: o.vectorWidth, input: input) { warn("\(path): \(warning)") }
            o.tiling = file.tiling
        }
        return o
    }
}

/// The threads the generated C is arranged for (generate, inspect; verify takes its own --threads).
struct ThreadsOption: ParsableArguments {
    @Option(help: "Threads unet.c will run with (OMP_NUM_THREADS). Winograd convs with many bands and few weights give each of up to this many threads whole bands and a scratch of its own in the arena, direct convs with many rows (transposed convs with many rows and few weights) a run of rows and a panel of its own; with more threads at run time they share every band, as the other layers do. 1: none does.")
    var threads = 2

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate unet.h and unet.c: standalone C99, no malloc, OpenMP-parallel with -fopenmp.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var codegen: CodegenOptions
    @OptionGroup var threads: ThreadsOption

    @Option(help: "Directory to write unet.h and unet.c into (created if missing).")
    var outputDir: String

    func run() throws {
        let weights = try model.load()
        let (h, w) = try model.size()
        var options = try codegen.generatorOptions(source: model.weights,
                                                   input: Shape(n: model.batch, c: weights.config.inChannels, h: h, w: w))
        options.threads = threads.threads
        let program = try Generator.generate(weights, batch: model.batch, height: h, width: w, options: options)
        do {
            try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
        } catch {
            throw ToolError("\(outputDir): cannot create the output directory (\(String(cString: strerror(errno))))")
        }
        try program.write(to: outputDir)
        let out = program.graph.nodes[program.graph.outputIndex].shape
        note("wrote \(outputDir)/unet.h, \(outputDir)/unet.c\(program.externalWeights ? ", \(outputDir)/unet_weights.bin" : ""): input \(program.graph.input.shape), output \(out), "
             + "\(String(format: "%.2f", Double(program.flops) / 1e9)) GFLOP, arena \(program.plan.arenaBytes) bytes, "
             + "weights \(program.weights.count * 4) bytes")
    }
}
