// Finding and running a C compiler, and running the programs it builds.

import Foundation

public struct ToolError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public enum Toolchain {
    /// The default flags of `verify`, `tune` and the benchmarks.
    public static let defaultFlags = ["-O3", "-march=native", "-fopenmp"]

    /// The first compiler, in the order $CC, clang, clang-19 ... clang-14, gcc, cc, that compiles
    /// an OpenMP program with `flags` (flags without -fopenmp accept any C compiler).
    public static func findCompiler(flags: [String] = defaultFlags) throws -> String {
        var candidates: [String] = []
        if let cc = ProcessInfo.processInfo.environment["CC"], !cc.isEmpty { candidates.append(cc) }
        candidates += ["clang"] + (14...19).reversed().map { "clang-\($0)" } + ["gcc", "cc"]
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let probe = dir + "/probe.c"
        try Array("#ifdef _OPENMP\n#include <omp.h>\n#endif\nint main(void) { return 0; }\n".utf8).write(to: probe)
        for cc in candidates where which(cc) != nil {
            if (try? run(cc, flags + [probe, "-o", dir + "/probe"]))?.status == 0 { return cc }
        }
        throw ToolError("no C compiler found that builds with \(flags.joined(separator: " ")) (tried \(candidates.joined(separator: ", "))); install clang and libomp-dev, or pass --cc and --cflags")
    }

    /// The full path of `program` on PATH, or nil.
    public static func which(_ program: String) -> String? {
        if program.contains("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(program)") {
            return "\(dir)/\(program)"
        }
        return nil
    }

    /// Runs `program` with `arguments`; returns its exit status and its output (stdout and stderr).
    @discardableResult
    public static func run(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        guard let path = which(program) else { throw ToolError("\(program): not found on PATH") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Compiles `sources` into `output`; throws with the compiler's messages on failure.
    public static func compile(cc: String, flags: [String], sources: [String], output: String, include: String) throws {
        try invokeCompiler(cc, flags + ["-I", include] + sources + ["-o", output, "-lm"])
    }

    /// Runs the compiler `cc` with `arguments`; throws with its first 30 lines of messages on failure.
    public static func invokeCompiler(_ cc: String, _ arguments: [String]) throws {
        let result = try run(cc, arguments)
        guard result.status == 0 else {
            throw ToolError("\(cc) failed (exit \(result.status)):\n\(result.output.split(separator: "\n").prefix(30).joined(separator: "\n"))")
        }
    }

    /// A new private directory under the system's temporary directory.
    public static func temporaryDirectory() throws -> String {
        var template = Array((NSTemporaryDirectory() + "/unetc.XXXXXX").utf8CString)
        guard let p = mkdtemp(&template) else { throw ToolError("cannot create a temporary directory: \(String(cString: strerror(errno)))") }
        return String(cString: p)
    }
}

extension Array where Element == UInt8 {
    func write(to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(self)) else {
            throw ToolError("\(path): cannot write: \(String(cString: strerror(errno)))")
        }
    }
}
