// The reference interpreter: the specification every generated program is checked against.
//
// One function per op, each a plain loop nest over NCHW float32 tensors that accumulates in
// Double. It runs any graph the pipeline produces: a view is read as the crop it stands for,
// a conv with several inputs reads them as their concatenation, a fused activation is
// applied after the sum. Work is split over (batch, output channel) across threads; each
// output element is computed by one thread in a fixed order, so results are deterministic.

import Dispatch

public enum Interpreter {
    /// Runs `graph` on `input` and returns the value of every node (nil where `keep` says not
    /// to keep it; the output node is always kept).
    public static func run(_ graph: Graph, weights: ModelWeights, input: Tensor,
                           keep: (Int) -> Bool = { _ in false }) throws -> [Tensor?] {
        let expected = graph.input.shape
        guard input.shape == [expected.n, expected.c, expected.h, expected.w] else {
            throw GraphError("input has shape \(input.shape), the model was built for \(expected)")
        }
        var values = [Tensor?](repeating: nil, count: graph.nodes.count)
        var lastUse = Array(0..<graph.nodes.count)
        for (i, node) in graph.nodes.enumerated() { for j in node.inputs { lastUse[j] = max(lastUse[j], i) } }
        for (i, node) in graph.nodes.enumerated() {
            let args = node.inputs.map { values[$0]! }
            values[i] = evaluate(node, args, input: input, weights: weights)
            for j in node.inputs where lastUse[j] == i && !keep(j) { values[j] = nil }
        }
        return values
    }

    /// Runs `graph` and returns its output.
    public static func output(_ graph: Graph, weights: ModelWeights, input: Tensor) throws -> Tensor {
        try run(graph, weights: weights, input: input)[graph.outputIndex]!
    }

    static func evaluate(_ node: Node, _ args: [Tensor], input: Tensor, weights: ModelWeights) -> Tensor {
        switch node.op {
        case .input:
            return input
        case .conv(let k, let p, let act):
            let x = args.count == 1 ? args[0] : concat(args)
            return conv(x, weights.weight(node.parameterName), weights.bias(node.parameterName), kernel: k, padding: p, activation: act)
        case .relu:
            return Tensor(shape: args[0].shape, data: args[0].data.map { $0 > 0 ? $0 : ($0.isNaN ? $0 : 0) })
        case .maxPool:
            return maxPool(args[0])
        case .convTranspose:
            return convTranspose(args[0], weights.weight(node.parameterName), weights.bias(node.parameterName))
        case .crop(let top, let left, let h, let w), .view(let top, let left, let h, let w):
            return crop(args[0], top: top, left: left, height: h, width: w)
        case .concat:
            return concat(args)
        case .output:
            return args[0]
        }
    }

    /// Runs `body(i)` for i in 0..<count across all cores.
    static func parallel(_ count: Int, _ body: (Int) -> Void) {
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }

    /// out[n][co][y][x] = bias[co] + sum over ci, ky, kx of w[co][ci][ky][kx] * x[n][ci][y+ky-p][x+kx-p]
    /// (zero outside the input).
    public static func conv(_ x: Tensor, _ weight: Tensor, _ bias: Tensor, kernel k: Int, padding p: Int,
                            activation: Activation) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let co = weight.shape[0]
        let (oh, ow) = (h + 2 * p - k + 1, w + 2 * p - k + 1)
        var out = Tensor(zeros: [n, co, oh, ow])
        x.data.withUnsafeBufferPointer { input in
        weight.data.withUnsafeBufferPointer { wt in
        out.data.withUnsafeMutableBufferPointer { output in
            let output = output
            parallel(n * co) { job in
                let (b, o) = job.quotientAndRemainder(dividingBy: co)
                var accumulators = [Double](repeating: Double(bias.data[o]), count: oh * ow)
                accumulators.withUnsafeMutableBufferPointer { acc in   // no bounds checks in the hot loop
                for ci in 0..<c {
                    for ky in 0..<k {
                        for kx in 0..<k {
                            let wv = Double(wt[((o * c + ci) * k + ky) * k + kx])
                            // Output (y, x) reads input (y + ky - p, x + kx - p) where that is inside.
                            let (y0, y1) = (max(0, p - ky), min(oh, h + p - ky))
                            let (x0, x1) = (max(0, p - kx), min(ow, w + p - kx))
                            guard y0 < y1, x0 < x1 else { continue }
                            for y in y0..<y1 {
                                let row = ((b * c + ci) * h + y + ky - p) * w + kx - p
                                for xx in x0..<x1 { acc[y * ow + xx] += wv * Double(input[row + xx]) }
                            }
                        }
                    }
                }
                }
                let base = (b * co + o) * oh * ow
                for i in 0..<(oh * ow) {
                    let v = Float(accumulators[i])
                    output[base + i] = activation == .relu && v <= 0 ? 0 : v
                }
            }
        }}}
        return out
    }

    /// out[n][co][2y+dy][2x+dx] = bias[co] + sum over ci of x[n][ci][y][x] * w[ci][co][dy][dx]
    public static func convTranspose(_ x: Tensor, _ weight: Tensor, _ bias: Tensor) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let co = weight.shape[1]
        var out = Tensor(zeros: [n, co, 2 * h, 2 * w])
        x.data.withUnsafeBufferPointer { input in
        weight.data.withUnsafeBufferPointer { wt in
        out.data.withUnsafeMutableBufferPointer { output in
            let output = output
            parallel(n * co) { job in
                let (b, o) = job.quotientAndRemainder(dividingBy: co)
                var acc = [Double](repeating: Double(bias.data[o]), count: 4 * h * w)
                for ci in 0..<c {
                    for dy in 0..<2 {
                        for dx in 0..<2 {
                            let wv = Double(wt[((ci * co + o) * 2 + dy) * 2 + dx])
                            for y in 0..<h {
                                let row = ((b * c + ci) * h + y) * w
                                for xx in 0..<w { acc[(2 * y + dy) * 2 * w + 2 * xx + dx] += wv * Double(input[row + xx]) }
                            }
                        }
                    }
                }
                let base = (b * co + o) * 4 * h * w
                for i in 0..<(4 * h * w) { output[base + i] = Float(acc[i]) }
            }
        }}}
        return out
    }

    /// out[n][c][y][x] = max of x[n][c][2y+i][2x+j] for i, j in {0, 1}; a NaN wins, as in PyTorch.
    public static func maxPool(_ x: Tensor) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = (h / 2, w / 2)
        var out = Tensor(zeros: [n, c, oh, ow])
        for plane in 0..<(n * c) {
            for y in 0..<oh {
                for xx in 0..<ow {
                    var m = -Float.infinity
                    for i in 0..<2 {
                        for j in 0..<2 {
                            let v = x.data[(plane * h + 2 * y + i) * w + 2 * xx + j]
                            if v > m || v.isNaN { m = v }
                        }
                    }
                    out.data[(plane * oh + y) * ow + xx] = m
                }
            }
        }
        return out
    }

    /// out[n][c][y][x] = x[n][c][top+y][left+x]
    public static func crop(_ x: Tensor, top: Int, left: Int, height: Int, width: Int) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var out = Tensor(zeros: [n, c, height, width])
        for plane in 0..<(n * c) {
            for y in 0..<height {
                for xx in 0..<width {
                    out.data[(plane * height + y) * width + xx] = x.data[(plane * h + top + y) * w + left + xx]
                }
            }
        }
        return out
    }

    /// The inputs' channels one after another, per batch item.
    public static func concat(_ xs: [Tensor]) -> Tensor {
        let (n, h, w) = (xs[0].shape[0], xs[0].shape[2], xs[0].shape[3])
        let c = xs.reduce(0) { $0 + $1.shape[1] }
        var data: [Float] = []
        data.reserveCapacity(n * c * h * w)
        for b in 0..<n {
            for x in xs {
                let size = x.shape[1] * h * w
                data += x.data[(b * size)..<((b + 1) * size)]
            }
        }
        return Tensor(shape: [n, c, h, w], data: data)
    }
}
