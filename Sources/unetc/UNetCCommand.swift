// The `unetc` command line: a thin layer that parses arguments and calls the UNetC library.

import ArgumentParser
import Foundation
import UNetC

@main
struct UNetCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unetc",
        abstract: "Compile a U-Net and its trained weights to standalone, OpenMP-parallel C.",
        discussion: """
        Weights are a safetensors file holding a PyTorch U-Net state_dict (down_conv.{k}.first.weight, \
        up_sample.{k}.up.weight, final_conv.bias, ...); the architecture is inferred from its shapes.

        Typical use:
          unetc init --output unet.safetensors
          unetc generate --weights unet.safetensors --height 256 --width 256 --output-dir out
          unetc verify --weights unet.safetensors --random --height 256 --width 256
        """,
        subcommands: [Init.self, Inspect.self, Run.self, Generate.self, Verify.self, Tune.self]
    )
}

/// Options every command that builds a graph shares.
struct ModelOptions: ParsableArguments {
    @Option(help: "Weights file (safetensors) holding a U-Net state_dict.")
    var weights: String

    @Option(help: "Input height in pixels.")
    var height: Int?

    @Option(help: "Input width in pixels.")
    var width: Int?

    @Option(help: "Batch size.")
    var batch: Int = 1

    func load() throws -> ModelWeights {
        let weights = try ModelWeights.load(path: self.weights)
        for key in weights.nonFiniteKeys {
            warn("\(self.weights): tensor '\(key)' holds NaN or infinity")
        }
        return weights
    }

    /// Height and width from the options, or else from `fallback` (an input tensor's shape).
    func size(fallback: [Int]? = nil) throws -> (h: Int, w: Int) {
        if let h = height, let w = width { return (h, w) }
        if let s = fallback, s.count == 4 { return (height ?? s[2], width ?? s[3]) }
        throw ValidationError("give --height and --width")
    }
}

func warn(_ message: String) {
    FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
}

func note(_ message: String) {
    FileHandle.standardError.write(Data("\(message)\n".utf8))
}

extension WeightInit: ExpressibleByArgument {}
