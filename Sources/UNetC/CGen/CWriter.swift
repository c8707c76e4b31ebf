import Foundation

// A small writer for the C that is not a template (call sequences, data): it owns
// indentation, so no emission code counts spaces by hand.

struct CWriter {
    private(set) var text = ""
    private var depth = 0

    mutating func line(_ s: String = "") {
        text += s.isEmpty ? "\n" : String(repeating: "    ", count: depth) + s + "\n"
    }

    mutating func indented(_ body: (inout CWriter) -> Void) {
        depth += 1
        body(&self)
        depth -= 1
    }
}

/// Unique C identifiers derived from node names: `down_conv.0.first` -> `down0_conv1`.
struct NameSupply {
    private var taken = Set<String>()

    mutating func name(for node: String) -> String {
        var s = node
        for (from, to) in [("down_conv.", "down"), ("up_conv.", "up"), ("up_sample.", "up"), ("middle_conv", "middle"),
                           (".first", "_conv1"), (".second", "_conv2"), (".up", "_convT"), (".relu", "_relu"),
                           (".pool", "_pool"), (".crop", "_crop"), (".concat", "_concat")] {
            s = s.replacingOccurrences(of: from, with: to)
        }
        s = String(s.map { $0.isLetter || $0.isNumber ? $0 : "_" })
        var candidate = s, k = 2
        while taken.contains(candidate) { candidate = "\(s)_\(k)"; k += 1 }
        taken.insert(candidate)
        return candidate
    }
}
