// Small pieces of `unetc tune`: robust statistics over repetitions, durations ("10m"), the
// Ctrl-C flag.

import Foundation

/// The median of repeated timings after rejecting outliers.
public struct RobustTime: Sendable, Equatable, CustomStringConvertible {
    /// The median of the samples kept, in seconds.
    public var median: Double
    /// The spread of the samples kept (1.4826 x the median absolute deviation), in seconds.
    public var spread: Double
    public var kept: Int
    public var samples: Int

    /// Rejects samples more than 3 spreads from the median (a preempted or interrupted run),
    /// then takes the median of the rest.
    public init(_ samples: [Double]) {
        precondition(!samples.isEmpty, "RobustTime of no samples")
        let m = Self.median(samples)
        let mad = 1.4826 * Self.median(samples.map { abs($0 - m) })
        let kept = mad > 0 ? samples.filter { abs($0 - m) <= 3 * mad } : samples
        let keptMedian = Self.median(kept)
        median = keptMedian
        spread = kept.count > 1 ? 1.4826 * Self.median(kept.map { abs($0 - keptMedian) }) : 0
        self.kept = kept.count
        self.samples = samples.count
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// The relative spread: spread / median.
    public var noise: Double { median > 0 ? spread / median : 0 }

    public var description: String {
        String(format: "%.3f ms +- %.1f%% (%d of %d kept)", median * 1e3, noise * 100, kept, samples)
    }
}

/// Two programs' timings of one thing, paired run by run (the harness runs them alternately):
/// the ratio of each pair cancels what drifts slower than a run, such as another process
/// taking a core for a few seconds.
public struct PairedComparison: Sendable, CustomStringConvertible {
    /// The median of candidate / baseline over the pairs, outliers rejected.
    public var ratio: Double
    /// The spread of the ratios (1.4826 x their median absolute deviation).
    public var spread: Double
    /// Pairs in which the candidate was faster.
    public var wins: Int
    public var pairs: Int

    public init(baseline: [Double], candidate: [Double]) {
        precondition(baseline.count == candidate.count && !baseline.isEmpty, "PairedComparison of \(baseline.count) and \(candidate.count) samples")
        let ratios = zip(candidate, baseline).map { $1 > 0 ? $0 / $1 : 1 }
        let r = RobustTime(ratios)
        ratio = r.median
        spread = r.spread
        wins = zip(candidate, baseline).filter { $0 < $1 }.count
        pairs = ratios.count
    }

    /// Whether the candidate is faster by more than `minGain` (a fraction) in the median, and
    /// in at least 70% of the pairs.
    public func clearlyFaster(minGain: Double) -> Bool {
        ratio < 1 - minGain && Double(wins) >= (0.7 * Double(pairs)).rounded(.up)
    }

    /// Whether the candidate is slower by more than the noise: the ratio above 1 by more than
    /// twice its standard error, and more than `floor`.
    public func slowerThanNoise(floor: Double = 0.01) -> Bool {
        ratio > 1 + max(floor, 2 * 1.2533 * spread / Double(pairs).squareRoot())
    }

    public var description: String {
        String(format: "%.3fx (%d of %d pairs faster)", ratio, wins, pairs)
    }
}

/// Durations as `unetc tune --budget` takes them: "90s", "10m", "1h", "1h30m", "2.5m", "45".
public enum TuneDuration {
    public static func parse(_ text: String) throws -> Double {
        let s = text.trimmingCharacters(in: .whitespaces).lowercased()
        var total = 0.0, number = "", sawUnit = false
        for ch in s {
            if ch.isNumber || ch == "." {
                number.append(ch)
                continue
            }
            let unit: Double
            switch ch {
            case "h": unit = 3600
            case "m": unit = 60
            case "s": unit = 1
            default: throw ToolError("budget '\(text)': '\(ch)' is not a unit (use s, m or h, e.g. 90s, 10m, 1h30m)")
            }
            guard let value = Double(number) else { throw ToolError("budget '\(text)': expected a number before '\(ch)'") }
            total += value * unit
            number = ""
            sawUnit = true
        }
        if !number.isEmpty {
            guard let value = Double(number), !sawUnit else {
                throw ToolError("budget '\(text)': a number without a unit must stand alone (seconds)")
            }
            total += value
        } else if !sawUnit {
            throw ToolError("budget '\(text)': expected a duration such as 90s, 10m or 1h")
        }
        guard total > 0, total.isFinite else { throw ToolError("budget '\(text)' must be positive") }
        return total
    }

    /// "4m05s", "12s", "1h02m".
    public static func format(_ seconds: Double) -> String {
        let s = max(0, Int(seconds.rounded()))
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, s / 60 % 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }
}

/// The flag a SIGINT handler sets: `unetc tune` finishes the measurement under way, keeps what
/// it measured and writes its results. A second Ctrl-C stops the process at once.
public enum Interruption {
    nonisolated(unsafe) static var flag: sig_atomic_t = 0

    /// Installs the handler.
    public static func install() {
        signal(SIGINT) { _ in
            Interruption.flag = 1
            signal(SIGINT, SIG_DFL)
        }
    }

    /// Whether Ctrl-C was pressed since `install()` (or `reset()`).
    public static var requested: Bool { flag != 0 }

    public static func reset() { flag = 0 }
}
