// Fills the C templates of Templates/ (embedded in the binary by `make templates`, so the
// installed compiler never looks for files at run time).
//
// A template is C with `{{NAME}}` placeholders and no logic. Rendering checks both ways: a
// placeholder left unfilled, or a value the template never asks for, is a generator bug.

public enum Template {
    public static func render(_ name: String, _ values: [String: CustomStringConvertible]) -> String {
        guard let text = embeddedTemplates[name] else { preconditionFailure("no template \(name)") }
        var out = ""
        var used = Set<String>()
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
        let unused = Set(values.keys).subtracting(used)
        precondition(unused.isEmpty, "template \(name) does not use \(unused.sorted())")
        return out
    }
}
