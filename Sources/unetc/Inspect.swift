import ArgumentParser
import UNetC

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the graph IR (one node per line with its output shape), or the memory plan.",
        discussion: "Passes: \(Pipeline.standard.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ")); with --memory-mode min also \(Pipeline.memory.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ")).")

    @OptionGroup var model: ModelOptions
    @OptionGroup var codegen: CodegenOptions
    @OptionGroup var threads: ThreadsOption

    @Option(help: "Print the IR after this pass (or 'all' for after every pass).")
    var dumpAfter: String?

    @Flag(help: "Print the memory plan of --memory-mode (every buffer with its bytes, first and last use, offset; the totals), then the arena of both modes beside the greedy-by-size baseline and the lower bounds.")
    var memory = false

    @Flag(help: "Print each conv's tiling and algorithm (the tuning file's where it has one, else the defaults), and which layers give each thread bands or rows of its own (--threads): the starting point for a hand-written tuning file.")
    var tiling = false

    @Flag(help: "With --memory: the plan as JSON. With --tiling: a tuning file that `generate --tuning` reads.")
    var json = false

    func validate() throws {
        if let name = dumpAfter, name != "all", Pipeline.pass(named: name) == nil {
            throw ValidationError("no pass named '\(name)'; the passes are \(Pipeline.minimumMemory.map(\.name).joined(separator: ", ")) (the last \(Pipeline.memory.count) with --memory-mode min)")
        }
        if json && !memory && !tiling { throw ValidationError("--json goes with --memory or --tiling") }
        if memory && tiling { throw ValidationError("--memory and --tiling print different reports: give one") }
    }

    func run() throws {
        let weights = try model.load()
        let (h, w) = try model.size()
        let graph = try weights.config.build(batch: model.batch, height: h, width: w)
        if tiling {
            let input = Shape(n: model.batch, c: weights.config.inChannels, h: h, w: w)
            var options = try codegen.generatorOptions(source: model.weights, input: input)
            options.threads = threads.threads
            let program = try Generator.generate(weights, batch: model.batch, height: h, width: w, options: options)
            let layers = program.graph.nodes.filter { program.tilings[$0.name] != nil }
            if json {
                var file = TuningFile(machine: TuningFile.thisMachine(), compiler: "", flags: [],
                                      vectorWidth: codegen.vector.unit.width, tiling: program.tilings)
                file.input = "\(input)"
                file.model = "\(weights.config)"
                print(try file.json(), terminator: "")
            } else {
                let width = layers.map(\.name.count).max() ?? 0
                for node in layers {
                    let own = program.ownThreads[node.name].map { "  (\($0) of its own per thread)" } ?? ""
                    print(node.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + program.tilings[node.name]!.description + own)
                }
            }
            return
        }
        if memory {
            var options = try codegen.generatorOptions(source: model.weights)
            options.threads = threads.threads
            var plans: [MemoryMode: MemoryPlan] = [:]
            for mode in MemoryMode.allCases {
                options.memory = mode
                plans[mode] = try Generator.generate(weights, batch: model.batch, height: h, width: w, options: options).plan
            }
            let chosen = plans[codegen.memoryMode]!
            if json {
                print(chosen.json(modes: MemoryMode.allCases.map { ($0.rawValue, plans[$0]!) }), terminator: "")
            } else {
                print(chosen.report(), terminator: "")
                print(MemoryPlan.compare(MemoryMode.allCases.map { ($0.rawValue, plans[$0]!) }), terminator: "")
            }
            return
        }
        print("# U-Net \(weights.config), \(weights.config.parameterCount) parameters")
        guard let name = dumpAfter else {
            print(graph.text(), terminator: "")
            return
        }
        let passes = codegen.memoryMode == .min ? Pipeline.minimumMemory : Pipeline.standard
        _ = try Pipeline.run(graph, passes: passes) { pass, g in
            if name == "all" || pass.name == name {
                print("# after \(pass.name)")
                print(g.text(), terminator: "")
            }
        }
    }
}
