// The report of `unetc tune`: per layer the default's and the tuned tiling's median time and the
// speedup, and the whole model's, as a text table, as CSV and as an SVG bar chart.

import Foundation

extension TuneResult {
    /// The table `unetc tune` prints.
    public func table() -> String {
        let header = ["layer", "op", "output", "default tiling", "tuned tiling", "default ms", "tuned ms", "speedup"]
        let tiling = Self.compact
        var lines: [[String]] = [header]
        for row in rows {
            lines.append([row.name, row.op, "\(row.shape)", tiling(row.defaultTiling),
                          row.tunedTiling == row.defaultTiling ? "(default)" : tiling(row.tunedTiling),
                          Self.ms(row.defaultTime.median), Self.ms(row.tunedTime.median), String(format: "%.2fx", row.speedup)])
        }
        lines.append(["other layers", "", "", "", "", Self.ms(otherDefault), Self.ms(otherTuned),
                      otherTuned > 0 ? String(format: "%.2fx", otherDefault / otherTuned) : ""])
        lines.append(["model", "", "", "", "", Self.ms(modelDefault.median), Self.ms(modelTuned.median),
                      String(format: "%.2fx", modelSpeedup)])
        let widths = header.indices.map { c in lines.map { $0[c].count }.max()! }
        let numeric = Set([5, 6, 7])
        var out = ""
        for (i, line) in lines.enumerated() {
            if i == lines.count - 2 || i == 1 { out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
            let cells = line.enumerated().map { c, text in
                let pad = String(repeating: " ", count: widths[c] - text.count)
                return numeric.contains(c) ? pad + text : text + pad
            }
            out += cells.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) + "\n"
        }
        out += String(format: "whole model: default %.3f ms (+- %.1f%%), tuned %.3f ms (+- %.1f%%), speedup %.2fx; medians of %d interleaved runs\n",
                      modelDefault.median * 1e3, modelDefault.noise * 100, modelTuned.median * 1e3, modelTuned.noise * 100,
                      modelSpeedup, modelDefault.samples)
        out += "tilings: RxNRxNV rbB kcK = direct, R output channels x NR rows x NV vectors per register tile, B rows per band, K input channels per chunk; "
            + "flat RxNV rbB kcK = direct, R output channels x NV vectors of a band's pixels; "
            + "F<m> RxNV rbB = Winograd F(m x m, 3x3), an R x NV GEMM tile\n"
        return out
    }

    /// A tiling in a few characters: "6x1x4 rb5 kc64" (direct), "flat 12x2 rb18 kc256" (direct,
    /// flat tiles), "F4 8x3 rb16" (Winograd).
    static func compact(_ t: LayerTiling) -> String {
        if t.algorithm == .winograd { return "F\(t.nr) \(t.r)x\(t.nv) rb\(t.rb)" }
        return t.flat ? "flat \(t.r)x\(t.nv) rb\(t.rb) kc\(t.kc)" : "\(t.r)x\(t.nr)x\(t.nv) rb\(t.rb) kc\(t.kc)"
    }

    /// report.csv: one row per tuned layer, then "other" and "model".
    public func csv() -> String {
        // With " winograd" or " flat" after the numbers where the tiling is.
        func tiling(_ t: LayerTiling) -> String { t.description }
        func q(_ s: String) -> String { s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
        var out = "layer,op,output_shape,default_tiling,tuned_tiling,default_ms,tuned_ms,speedup\n"
        for row in rows {
            out += [row.name, row.op, "\(row.shape)", tiling(row.defaultTiling), tiling(row.tunedTiling),
                    String(format: "%.6f", row.defaultTime.median * 1e3), String(format: "%.6f", row.tunedTime.median * 1e3),
                    String(format: "%.4f", row.speedup)].map(q).joined(separator: ",") + "\n"
        }
        out += "other,,,,,\(String(format: "%.6f", otherDefault * 1e3)),\(String(format: "%.6f", otherTuned * 1e3)),"
            + (otherTuned > 0 ? String(format: "%.4f", otherDefault / otherTuned) : "") + "\n"
        out += "model,,,,,\(String(format: "%.6f", modelDefault.median * 1e3)),\(String(format: "%.6f", modelTuned.median * 1e3)),"
            + String(format: "%.4f", modelSpeedup) + "\n"
        return out
    }

    /// report.svg: per layer a bar for the default and one for the tuned time, to scale.
    public func svg() -> String {
        let labelWidth = 170.0, barArea = 560.0, valueWidth = 150.0, rowHeight = 26.0, top = 56.0
        let width = labelWidth + barArea + valueWidth + 20
        let height = top + rowHeight * Double(rows.count) + 40
        let peak = max(rows.map { max($0.defaultTime.median, $0.tunedTime.median) }.max() ?? 0, 1e-12)
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        func f(_ x: Double) -> String { String(format: "%.1f", x) }
        var out = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="sans-serif" font-size="11">
        <rect width="100%" height="100%" fill="white"/>
        <text x="10" y="20" font-size="14" font-weight="bold">\(esc(String(format: "unetc tune: per-layer time, default vs tuned (model %.2f ms -> %.2f ms, %.2fx)", modelDefault.median * 1e3, modelTuned.median * 1e3, modelSpeedup)))</text>
        <rect x="\(f(labelWidth))" y="30" width="12" height="10" fill="#9e9e9e"/><text x="\(f(labelWidth + 16))" y="39">default</text>
        <rect x="\(f(labelWidth + 80))" y="30" width="12" height="10" fill="#1f77b4"/><text x="\(f(labelWidth + 96))" y="39">tuned</text>

        """
        for (i, row) in rows.enumerated() {
            let y = top + rowHeight * Double(i)
            let d = barArea * row.defaultTime.median / peak, t = barArea * row.tunedTime.median / peak
            out += "<text x=\"\(f(labelWidth - 6))\" y=\"\(f(y + 15))\" text-anchor=\"end\">\(esc(row.name))</text>\n"
            out += "<rect x=\"\(f(labelWidth))\" y=\"\(f(y + 2))\" width=\"\(f(max(d, 0.5)))\" height=\"10\" fill=\"#9e9e9e\"><title>\(esc(row.name)) default \(esc(row.defaultTiling.description)): \(Self.ms(row.defaultTime.median)) ms</title></rect>\n"
            out += "<rect x=\"\(f(labelWidth))\" y=\"\(f(y + 13))\" width=\"\(f(max(t, 0.5)))\" height=\"10\" fill=\"#1f77b4\"><title>\(esc(row.name)) tuned \(esc(row.tunedTiling.description)): \(Self.ms(row.tunedTime.median)) ms</title></rect>\n"
            out += "<text x=\"\(f(labelWidth + max(d, t) + 6))\" y=\"\(f(y + 16))\">\(Self.ms(row.defaultTime.median)) -&gt; \(Self.ms(row.tunedTime.median)) ms (\(String(format: "%.2fx", row.speedup)))</text>\n"
        }
        let axisY = top + rowHeight * Double(rows.count) + 4
        out += "<line x1=\"\(f(labelWidth))\" y1=\"\(f(axisY))\" x2=\"\(f(labelWidth + barArea))\" y2=\"\(f(axisY))\" stroke=\"black\"/>\n"
        for k in 0...4 {
            let x = labelWidth + barArea * Double(k) / 4
            out += "<line x1=\"\(f(x))\" y1=\"\(f(axisY))\" x2=\"\(f(x))\" y2=\"\(f(axisY + 4))\" stroke=\"black\"/>"
            out += "<text x=\"\(f(x))\" y=\"\(f(axisY + 16))\" text-anchor=\"middle\">\(Self.ms(peak * Double(k) / 4)) ms</text>\n"
        }
        out += "</svg>\n"
        return out
    }

    /// Writes DIR/report.csv and DIR/report.svg (creating DIR).
    public func writeReport(to directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ToolError("\(directory): cannot create the report directory (\(error.localizedDescription))")
        }
        try writeFileAtomically(Array(csv().utf8), to: directory + "/report.csv")
        try writeFileAtomically(Array(svg().utf8), to: directory + "/report.svg")
    }

    static func ms(_ seconds: Double) -> String {
        let m = seconds * 1e3
        return m >= 100 ? String(format: "%.1f", m) : m >= 1 ? String(format: "%.3f", m) : String(format: "%.4f", m)
    }
}
