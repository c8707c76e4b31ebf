import ArgumentParser
import Foundation
import UNetC

struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search each conv's algorithm and tiling on this machine; write tuning.json for `generate --tuning`.",
        discussion: """
        Every candidate is generated from the same templates as unet.c, compiled, checked layer by \
        layer against the reference interpreter (a wrong one is never chosen) and timed on this \
        machine: the median of --repetitions runs, outliers rejected, interleaved with the best so \
        far. A candidate replaces the default only when it beats it by more than 3%; at the end \
        the tuned model runs interleaved against the default, and a layer that no longer wins \
        clearly keeps its default. Ctrl-C stops after the measurement under way and keeps what was \
        measured. Measurements go to a cache keyed by layer shape, compiler, flags and CPU, so a \
        second run resumes where the first stopped.

        Example:
          unetc tune --weights unet.safetensors --height 256 --width 256 --budget 10m --output tuning.json
          unetc generate --weights unet.safetensors --height 256 --width 256 --tuning tuning.json --output-dir out
        """)

    @OptionGroup var model: ModelOptions

    @Option(help: "OMP_NUM_THREADS for the timed runs (default: OpenMP's, all cores). Tune with the thread count you will run with.")
    var threads: Int?

    @Option(help: "Time for the search, e.g. 90s, 10m, 1h30m; no new candidates start once it is spent.")
    var budget = "10m"

    @Option(name: .shortAndLong, help: "The tuning file to write (JSON).")
    var output: String

    @Option(help: "The tune cache (default: ~/.cache/unetc/tune-cache.json).")
    var cache: String?

    @Flag(help: "Neither read nor write the tune cache.")
    var noCache = false

    @Option(help: "Directory for report.csv and report.svg (created if missing).")
    var reportDir: String?

    @Option(help: "Timed runs of each program per candidate.")
    var repetitions = 5

    @Option(help: "Timed runs of each program in the final check, default vs tuned.")
    var finalRepetitions = 9

    @OptionGroup var vector: VectorOptions

    @Option(help: "The algorithm of the defaults tuned against, as `generate` takes it: direct (only direct tilings are searched: the tighter error bound stays), winograd or auto (candidates of both are searched).")
    var algorithm: AlgorithmChoice = .auto

    @Option(help: "The Winograd output tile of the defaults, as `generate` takes it: 4, 2 or 0 (per layer).")
    var winogradTile = 0

    @Option(help: "C compiler (default: the first of $CC, clang, clang-14..19, gcc that builds OpenMP).")
    var cc: String?

    @Option(help: "Compiler flags, one string: tune with the flags you will build with.")
    var cflags = Toolchain.defaultFlags.joined(separator: " ")

    func validate() throws {
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
        if repetitions < 1 || finalRepetitions < 1 { throw ValidationError("--repetitions and --final-repetitions must be at least 1") }
        if noCache && cache != nil { throw ValidationError("--cache and --no-cache exclude each other") }
        _ = try TuneDuration.parse(budget)
    }

    func run() throws {
        try checkCanWrite(output)   // now, not after a search that may take an hour
        let weights = try model.load()
        let (h, w) = try model.size()
        var options = TuneOptions()
        options.budget = try TuneDuration.parse(budget)
        options.threads = threads
        options.repetitions = repetitions
        options.finalRepetitions = finalRepetitions
        let unit = vector.unit
        options.vectorWidth = unit.width
        options.vectorRegisters = unit.registers
        options.algorithm = algorithm
        options.winogradTile = winogradTile
        options.cc = cc
        options.flags = cflags.split(separator: " ").map(String.init)
        options.cachePath = noCache ? nil : (cache ?? TuneCache.defaultPath())
        let interactive = isatty(STDERR_FILENO) != 0
        var pending = false
        options.log = { message in
            switch message {
            case .status(let line):
                if interactive {
                    // One line, rewritten: cut to the terminal's width.
                    var ws = winsize()
                    let columns = ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &ws) == 0 && ws.ws_col > 0 ? Int(ws.ws_col) : 160
                    FileHandle.standardError.write(Data(("\r\u{1B}[K" + String(line.prefix(columns - 1))).utf8))
                    pending = true
                } else {
                    note(line)
                }
            case .note(let line):
                if pending { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)); pending = false }
                note(line)
            }
        }
        Interruption.install()
        let tuner = try Tuner(weights: weights, batch: model.batch, height: h, width: w, options: options)
        let result = try tuner.run()
        if pending { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        try result.file.write(path: output)
        print(result.table(), terminator: "")
        if let dir = reportDir {
            try result.writeReport(to: dir)
            note("wrote \(dir)/report.csv, \(dir)/report.svg")
        }
        note("wrote \(output): \(result.rounds) rounds, \(result.candidatesTried) candidates measured, \(result.rejected) rejected, "
             + "\(TuneDuration.format(result.seconds))\(result.interrupted ? " (interrupted)" : "")")
    }
}
