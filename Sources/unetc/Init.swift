import ArgumentParser
import UNetC

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write deterministic U-Net weights (no trained model needed for benchmarks and demos).")

    @Option(help: "Input channels.") var inChannels = UNetConfig.classic.inChannels
    @Option(help: "Output channels.") var outChannels = UNetConfig.classic.outChannels
    @Option(help: "Channels of the first level; level k has base * 2^k.") var base = UNetConfig.classic.base
    @Option(help: "Number of poolings.") var depth = UNetConfig.classic.depth
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "variance-preserving (every layer shows in the output) or pytorch (PyTorch's defaults).")
    var initialization: WeightInit = .variancePreserving
    @Option(name: .shortAndLong, help: "Output safetensors file.") var output: String

    func run() throws {
        let config = UNetConfig(inChannels: inChannels, outChannels: outChannels, base: base, depth: depth)
        _ = try config.build(batch: 1, height: 1 << depth, width: 1 << depth)   // validates the config
        try config.initialWeightsFile(seed: seed, scheme: initialization).write(path: output)
        note("wrote \(output): U-Net \(config), \(config.parameterCount) parameters")
    }
}
