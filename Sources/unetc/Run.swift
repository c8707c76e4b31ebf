import ArgumentParser
import UNetC

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the Swift reference interpreter: reads tensor 'input' (NCHW float32), writes 'output'.")

    @Option(help: "Weights file (safetensors) holding a U-Net state_dict.") var weights: String
    @Option(help: "Safetensors file with a tensor named 'input'.") var input: String
    @Option(name: .shortAndLong, help: "Safetensors file to write, with a tensor named 'output'.") var output: String

    func run() throws {
        let model = try ModelOptions.parse(["--weights", weights]).load()
        let x = try readInput(input)
        let graph = try model.config.build(batch: x.shape[0], height: x.shape[2], width: x.shape[3])
        let y = try Interpreter.output(graph, weights: model, input: x)
        try SafeTensors(tensors: ["output": y]).write(path: output)
        note("wrote \(output): output \(y.shape)")
    }
}

/// The tensor named `input` of a safetensors file, which must be NCHW.
func readInput(_ path: String) throws -> Tensor {
    let file = try SafeTensors.read(path: path)
    guard let x = file.tensors["input"] else {
        throw ValidationError("\(path): no tensor named 'input' (found \(file.tensors.keys.sorted()))")
    }
    guard x.shape.count == 4 else {
        throw ValidationError("\(path): tensor 'input' must be NCHW (4 dimensions), found shape \(x.shape)")
    }
    return x
}
