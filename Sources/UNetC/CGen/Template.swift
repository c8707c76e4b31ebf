// Fills the C templates of Templates/ (embedded in the binary by `make templates`, so the
// installed compiler never looks for files at run time).
//
// A template is C with `{{NAME}}` placeholders and no logic. Rendering checks both ways: a
// placeholder left unfilled, or a value the template never asks for, is a generator bug.

public enum Template {
    public static func render(_ name: String, _ values: [String: CustomStringConvertible]) -> String {
        render([name], values)
    }

    /// Several templates filled from one set of values (a kernel and the loop that runs it),
    /// concatenated; every value must be asked for by one of them or of `sharedWith` (the
    /// templates the same values fill elsewhere, not rendered here).
    public static func render(_ names: [String], _ values: [String: CustomStringConvertible],
                              sharedWith: [String] = []) -> String {
        var used = Set<String>()
        let out = names.map { fill($0, values, &used) }.joined()
        for name in sharedWith { _ = fill(name, values.mapValues { _ in "" }, &used) }
        let unused = Set(values.keys).subtracting(used)
        precondition(unused.isEmpty, "templates \(names) do not use \(unused.sorted())")
        return out
    }

    static func fill(_ name: String, _ values: [String: CustomStringConvertible], _ used: inout Set<String>) -> String {
        guard let text = embeddedTemplates[name] else { preconditionFailure("no template \(name)") }
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else { preconditionFailure("unclosed {{ in \(name)") }
            let key = String(rest[open.upperBound..<close.lowerBound])
            guard let value = values[key] else { preconditionFailure("template \(name): no value for {{\(key)}}") }
            out += value.description
            used.insert(key)
            rest = rest[close.upperBound...]
        }
        out += rest
        return out
    }
}
