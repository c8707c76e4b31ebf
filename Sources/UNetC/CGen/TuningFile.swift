// tuning.json: per-layer tiling found by `unetc tune`, with what it was measured on.

import Foundation

public struct TuningFile: Codable, Sendable {
    public static let currentVersion = 1

    public var version: Int
    public var machine: String
    public var compiler: String
    public var flags: [String]
    public var vectorWidth: Int
    public var tiling: [String: LayerTiling]

    public init(machine: String, compiler: String, flags: [String], vectorWidth: Int, tiling: [String: LayerTiling]) {
        self.version = Self.currentVersion
        self.machine = machine; self.compiler = compiler; self.flags = flags
        self.vectorWidth = vectorWidth; self.tiling = tiling
    }

    public static func read(path: String) throws -> TuningFile {
        guard let data = FileManager.default.contents(atPath: path) else { throw ToolError("\(path): cannot read") }
        let file: TuningFile
        do { file = try JSONDecoder().decode(TuningFile.self, from: data) } catch {
            throw ToolError("\(path): not a tuning file: \(error)")
        }
        guard file.version == currentVersion else {
            throw ToolError("\(path): tuning file version \(file.version), this unetc reads version \(currentVersion)")
        }
        return file
    }

    public func write(path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeFileAtomically(Array(try encoder.encode(self)) + [10], to: path)
    }

    /// What differs between this file's machine and this one.
    public func mismatches(vectorWidth: Int) -> [String] {
        var out: [String] = []
        if machine != Self.thisMachine() { out.append("tuned on '\(machine)', this is '\(Self.thisMachine())'") }
        if vectorWidth != self.vectorWidth { out.append("tuned for vector width \(self.vectorWidth), generating for \(vectorWidth)") }
        return out
    }

    /// The CPU model and core count, from /proc/cpuinfo where there is one.
    public static func thisMachine() -> String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = info.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        return "\(model), \(ProcessInfo.processInfo.activeProcessorCount) cores"
    }
}
