import ArgumentParser
import UNetC

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the graph IR (one node per line with its output shape), optionally after a pass.")

    @OptionGroup var model: ModelOptions

    func run() throws {
        let weights = try model.load()
        let (h, w) = try model.size()
        let graph = try weights.config.build(batch: model.batch, height: h, width: w)
        print("# U-Net \(weights.config), \(weights.config.parameterCount) parameters")
        print(graph.text(), terminator: "")
    }
}
