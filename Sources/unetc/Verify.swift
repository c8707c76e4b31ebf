import ArgumentParser
import Foundation
import UNetC

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate and compile the C, run it and the reference interpreter on one input, compare.",
        discussion: "Exits 1 when the C's output differs from the interpreter's by more than --atol.")

    @Option(help: "Weights file (safetensors) holding a U-Net state_dict.") var weights: String
    @Option(help: "Safetensors file with 'input' (and optionally 'output', e.g. from PyTorch, to compare against too).")
    var input: String?
    @Flag(help: "Use a deterministic random input in [0, 1) instead of --input.") var random = false
    @Option(help: "Input height (with --random).") var height: Int?
    @Option(help: "Input width (with --random).") var width: Int?
    @Option(help: "Batch (with --random).") var batch = 1
    @Option(help: "OMP_NUM_THREADS for the compiled program (default: OpenMP's); unet.c is generated for that many threads, as by generate --threads (for 2 without it).") var threads: Int?
    @Flag(help: "Print every layer's error and the first layer where the C and the interpreter diverge.") var layers = false
    @Option(help: "Tolerance on the max absolute error against the interpreter.") var atol = 1e-4
    @Option(help: "C compiler (default: the first of $CC, clang, clang-14..19, gcc that builds OpenMP).") var cc: String?
    @Option(help: "Compiler flags, one string.") var cflags = Toolchain.defaultFlags.joined(separator: " ")
    @OptionGroup var codegen: CodegenOptions

    func validate() throws {
        guard (input != nil) != random else {
            throw ValidationError("give either --input FILE or --random")
        }
        if random && (height == nil || width == nil) { throw ValidationError("--random needs --height and --width") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let model = try ModelOptions.parse(["--weights", weights]).load()
        var x: Tensor
        var reference: Tensor?
        if let path = input {
            x = try readInput(path)
            reference = try SafeTensors.read(path: path).tensors["output"]
        } else {
            x = Verifier.randomInput(Shape(n: batch, c: model.config.inChannels, h: height!, w: width!))
        }
        guard x.shape[1] == model.config.inChannels else {
            throw ValidationError("input has \(x.shape[1]) channels, the model takes \(model.config.inChannels)")
        }
        var options = Verifier.Options()
        options.cc = cc
        options.flags = cflags.split(separator: " ").map(String.init)
        options.threads = threads
        options.layers = layers
        options.generator = try codegen.generatorOptions(source: weights,
                                                          input: Shape(n: x.shape[0], c: x.shape[1], h: x.shape[2], w: x.shape[3]))
        // unet.c arranged for the threads it runs with (as `generate --threads`; 2 by default).
        options.generator.threads = threads ?? options.generator.threads
        let report = try Verifier.verify(model, input: x, reference: reference, options: options)
        print("compiled with \(report.compiler) \(options.flags.joined(separator: " ")) in \(String(format: "%.1f", report.compileSeconds)) s")
        if layers {
            var firstBad: String?
            for (name, ref, e) in report.layers {
                let bad = !(e.maxAbs <= atol)
                if bad && firstBad == nil { firstBad = name }
                print("  \(name.padding(toLength: 24, withPad: " ", startingAt: 0)) vs \(ref.padding(toLength: 26, withPad: " ", startingAt: 0)) \(e)\(bad ? "  <-- above tolerance" : "")")
            }
            print(firstBad.map { "first layer above tolerance: \($0)" } ?? "no layer above tolerance")
        }
        print("C vs interpreter: \(report.vsInterpreter)")
        if let r = report.vsReference { print("C vs the file's 'output': \(r)") }
        guard report.vsInterpreter.maxAbs <= atol else {
            print("FAIL: max abs error \(report.vsInterpreter.maxAbs) > --atol \(atol)")
            throw ExitCode(1)
        }
        print("OK (atol \(atol))")
    }
}
