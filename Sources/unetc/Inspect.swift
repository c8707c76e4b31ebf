import ArgumentParser
import UNetC

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the graph IR (one node per line with its output shape), or the memory plan.",
        discussion: "Passes: \(Pipeline.standard.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ")).")

    @OptionGroup var model: ModelOptions
    @OptionGroup var codegen: CodegenOptions

    @Option(help: "Print the IR after this pass (or 'all' for after every pass).")
    var dumpAfter: String?

    @Flag(help: "Print the memory plan: every buffer with its bytes, first and last use, offset; and the totals.")
    var memory = false

    @Flag(help: "With --memory: as JSON.")
    var json = false

    func validate() throws {
        if let name = dumpAfter, name != "all", Pipeline.pass(named: name) == nil {
            throw ValidationError("no pass named '\(name)'; the passes are \(Pipeline.standard.map(\.name).joined(separator: ", "))")
        }
        if json && !memory { throw ValidationError("--json goes with --memory") }
    }

    func run() throws {
        let weights = try model.load()
        let (h, w) = try model.size()
        let graph = try weights.config.build(batch: model.batch, height: h, width: w)
        if memory {
            let program = try Generator.generate(weights, batch: model.batch, height: h, width: w,
                                                 options: codegen.generatorOptions(source: model.weights))
            print(json ? program.plan.json() : program.plan.report(), terminator: "")
            return
        }
        print("# U-Net \(weights.config), \(weights.config.parameterCount) parameters")
        guard let name = dumpAfter else {
            print(graph.text(), terminator: "")
            return
        }
        _ = try Pipeline.run(graph) { pass, g in
            if name == "all" || pass.name == name {
                print("# after \(pass.name)")
                print(g.text(), terminator: "")
            }
        }
    }
}
