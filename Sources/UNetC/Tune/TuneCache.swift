// The tune cache: what `unetc tune` measured, so that a later run (after Ctrl-C, or with a
// larger budget, or for another model with layers of the same shape) starts where it stopped.
//
// Keyed first by the environment a timing depends on (CPU, compiler and its version, flags,
// vector width, threads, the kernels' templates), then by the layer's shape. A trial records
// the tiling, whether it computed the right values, and its median beside the incumbent's in
// the same run (only the ratio carries over between runs: the machine's speed drifts).

import Foundation

public struct TuneTrial: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        /// Computed the interpreter's values; timed.
        case ok
        /// Computed different values: never chosen.
        case wrong
        /// Did not build or run.
        case failed
    }
    public var tiling: LayerTiling
    public var status: Status
    /// Median seconds, and the incumbent's (`baseline`) in the same run.
    public var seconds: Double?
    public var baseline: LayerTiling?
    public var baselineSeconds: Double?

    public init(tiling: LayerTiling, status: Status, seconds: Double? = nil, baseline: LayerTiling? = nil, baselineSeconds: Double? = nil) {
        self.tiling = tiling; self.status = status; self.seconds = seconds
        self.baseline = baseline; self.baselineSeconds = baselineSeconds
    }
}

public struct TuneCacheEntry: Codable, Sendable, Equatable {
    /// The best verified tiling so far.
    public var best: LayerTiling?
    public var trials: [TuneTrial] = []

    public init(best: LayerTiling? = nil, trials: [TuneTrial] = []) { self.best = best; self.trials = trials }

    public mutating func record(_ trial: TuneTrial) {
        trials.removeAll { $0.tiling == trial.tiling }
        trials.append(trial)
    }
}

public struct TuneCache: Codable, Sendable {
    public static let currentVersion = 1
    public var version = TuneCache.currentVersion
    /// environment key -> layer key -> entry.
    public var environments: [String: [String: TuneCacheEntry]] = [:]

    public init() {}

    /// ~/.cache/unetc/tune-cache.json, or under $XDG_CACHE_HOME.
    public static func defaultPath() -> String {
        let env = ProcessInfo.processInfo.environment
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/unetc/tune-cache.json" }
        return (env["HOME"] ?? NSHomeDirectory()) + "/.cache/unetc/tune-cache.json"
    }

    /// The cache at `path`; an empty one when there is no file. A file that is not a cache of
    /// this version is an error (delete it, or pass another --cache).
    public static func read(path: String) throws -> TuneCache {
        guard FileManager.default.fileExists(atPath: path) else { return TuneCache() }
        guard let data = FileManager.default.contents(atPath: path) else { throw ToolError("\(path): cannot read the tune cache") }
        let cache: TuneCache
        do { cache = try JSONDecoder().decode(TuneCache.self, from: data) } catch {
            throw ToolError("\(path): not a unetc tune cache (\(error)); delete it or pass another --cache")
        }
        guard cache.version == currentVersion else {
            throw ToolError("\(path): tune cache version \(cache.version), this unetc reads version \(currentVersion); delete it or pass another --cache")
        }
        return cache
    }

    /// Writes `entries` for `environment` into the file at `path`, merged with what the file
    /// holds now (another run may have written it meanwhile); creates the directory.
    public static func merge(_ entries: [String: TuneCacheEntry], environment: String, into path: String) throws {
        var cache = (try? read(path: path)) ?? TuneCache()
        var env = cache.environments[environment] ?? [:]
        for (key, entry) in entries {
            var merged = env[key] ?? TuneCacheEntry()
            for t in entry.trials { merged.record(t) }
            if let b = entry.best { merged.best = b }
            env[key] = merged
        }
        cache.environments[environment] = env
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeFileAtomically(Array(try encoder.encode(cache)) + [10], to: path)
    }

    /// The environment key: what a layer's timing depends on besides its shape.
    public static func environmentKey(machine: String, compiler: String, flags: [String], vectorWidth: Int,
                                      registers: Int = 32, threads: Int?) -> String {
        "\(machine) | \(compiler) | \(flags.joined(separator: " ")) | v\(vectorWidth)\(registers == 32 ? "" : " r\(registers)") | threads \(threads.map(String.init) ?? "default") | kernels \(kernelFingerprint())"
    }

    /// A hash of the templates the kernels come from: a change to them invalidates the timings.
    public static func kernelFingerprint() -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for name in embeddedTemplates.keys.sorted() where name != "tune_main.c" && name != "verify_main.c" {
            for byte in (name + "\0" + embeddedTemplates[name]!).utf8 {
                h ^= UInt64(byte)
                h = h &* 0x100_0000_01b3
            }
        }
        return String(h, radix: 16)
    }
}
