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
    /// OMP_NUM_THREADS of the timed runs (nil: OpenMP's default, or not recorded).
    public var threads: Int?
    /// The input shape tuned for, e.g. "1x3x256x256".
    public var input: String?
    /// The U-Net configuration tuned, e.g. "in 3, out 1, base 64, depth 4".
    public var model: String?
    /// What `unetc tune`'s final check measured. Optional, like the three above: files without
    /// them read as before.
    public var measured: TuningMeasurements?

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

    /// The file's text: sorted keys, one field per line, a final newline.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    public func write(path: String) throws {
        try writeFileAtomically(Array(try json().utf8), to: path)
    }

    /// What differs between this file's machine and this one.
    public func mismatches(vectorWidth: Int, input shape: Shape? = nil) -> [String] {
        var out: [String] = []
        if machine != Self.thisMachine() { out.append("tuned on '\(machine)', this is '\(Self.thisMachine())'") }
        if vectorWidth != self.vectorWidth { out.append("tuned for vector width \(self.vectorWidth), generating for \(vectorWidth)") }
        if let shape, let input, input != "\(shape)" { out.append("tuned for input \(input), generating for \(shape)") }
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

/// The final check of `unetc tune`: the default and the tuned model run interleaved, medians.
public struct TuningMeasurements: Codable, Sendable, Equatable {
    public var defaultMs: Double
    public var tunedMs: Double
    public var layers: [String: LayerMeasurement]

    public init(defaultMs: Double, tunedMs: Double, layers: [String: LayerMeasurement]) {
        self.defaultMs = defaultMs; self.tunedMs = tunedMs; self.layers = layers
    }
}

public struct LayerMeasurement: Codable, Sendable, Equatable {
    /// The generator's default tiling when this was tuned.
    public var defaultTiling: LayerTiling
    public var defaultMs: Double
    public var tunedMs: Double

    public init(defaultTiling: LayerTiling, defaultMs: Double, tunedMs: Double) {
        self.defaultTiling = defaultTiling; self.defaultMs = defaultMs; self.tunedMs = tunedMs
    }
}
