// The classic U-Net (Ronneberger et al.) as PyTorch users write it, built as a graph.

/// What defines a U-Net's architecture.
public struct UNetConfig: Equatable, Sendable, CustomStringConvertible {
    public var inChannels: Int
    public var outChannels: Int
    public var base: Int
    public var depth: Int

    public init(inChannels: Int, outChannels: Int, base: Int, depth: Int) {
        self.inChannels = inChannels; self.outChannels = outChannels; self.base = base; self.depth = depth
    }

    /// The model of the paper: 3 -> 1, base 64, depth 4.
    public static let classic = UNetConfig(inChannels: 3, outChannels: 1, base: 64, depth: 4)

    /// Channels of level k (k == depth is the bottom).
    public func width(_ k: Int) -> Int { base << k }

    public var description: String { "in \(inChannels), out \(outChannels), base \(base), depth \(depth)" }

    /// Every parameter tensor the model has, with its shape, in PyTorch's state_dict names.
    public func parameterShapes() -> [(key: String, shape: [Int])] {
        var out: [(String, [Int])] = []
        func double(_ prefix: String, _ cin: Int, _ cout: Int) {
            out += [("\(prefix).first.weight", [cout, cin, 3, 3]), ("\(prefix).first.bias", [cout]),
                    ("\(prefix).second.weight", [cout, cout, 3, 3]), ("\(prefix).second.bias", [cout])]
        }
        for k in 0..<depth { double("down_conv.\(k)", k == 0 ? inChannels : width(k - 1), width(k)) }
        double("middle_conv", width(depth - 1), width(depth))
        for j in 0..<depth {
            let cin = width(depth - j), cout = width(depth - j - 1)
            out += [("up_sample.\(j).up.weight", [cin, cout, 2, 2]), ("up_sample.\(j).up.bias", [cout])]
            double("up_conv.\(j)", 2 * cout, cout)
        }
        out += [("final_conv.weight", [outChannels, base, 1, 1]), ("final_conv.bias", [outChannels])]
        return out
    }

    public var parameterCount: Int { parameterShapes().reduce(0) { $0 + $1.shape.reduce(1, *) } }

    func validate() throws {
        for (name, v) in [("in channels", inChannels), ("out channels", outChannels), ("base", base), ("depth", depth)] where v < 1 {
            throw GraphError("\(name) must be at least 1, got \(v)")
        }
        guard depth <= 12, base <= 1 << 16, inChannels <= 1 << 16, outChannels <= 1 << 16,
              base.multipliedReportingOverflow(by: 1 << depth).partialValue <= 1 << 20 else {
            throw GraphError("model too large: \(self)")
        }
    }
}

/// torchvision's `center_crop` offset: round((size - target) / 2), halves to even.
public func centerCropOffset(size: Int, target: Int) -> Int {
    let twice = size - target            // offset = twice / 2, rounded half to even
    let half = twice / 2
    return (twice % 2 == 1 && half % 2 == 1) ? half + 1 : half
}

/// The largest input side (rows or columns) that the generated C's index arithmetic and
/// a sane arena can take.
public let maxSide = 1 << 15

extension UNetConfig {
    /// Builds the U-Net for a `batch x inChannels x height x width` input, checking that the
    /// sizes survive `depth` poolings.
    public func build(batch: Int, height: Int, width: Int) throws -> Graph {
        try validate()
        for (name, v) in [("batch", batch), ("height", height), ("width", width)] {
            guard v >= 1 else { throw GraphError("\(name) must be at least 1, got \(v)") }
        }
        guard height <= maxSide, width <= maxSide, batch <= 1 << 16 else {
            throw GraphError("input \(batch)x\(inChannels)x\(height)x\(width) is too large: height and width are limited to \(maxSide)")
        }
        let minSide = 1 << depth
        for (name, v, unit) in [("height", height, "rows"), ("width", width, "columns")] where v < minSide {
            var level = 0, s = v
            while s / 2 >= 1 && level < depth { s /= 2; level += 1 }
            throw GraphError("\(name) \(v) is too small for depth \(depth): level \(level + 1) would have 0 \(unit) (the smallest \(name) is \(minSide))")
        }

        var nodes: [Node] = []
        @discardableResult
        func add(_ name: String, _ op: Op, _ inputs: [Int], channels: Int? = nil) throws -> Int {
            let shape = try op.inferShape(inputs.map { nodes[$0].shape }, channelsOut: channels)
            nodes.append(Node(name: name, op: op, inputs: inputs, shape: shape))
            return nodes.count - 1
        }
        func double(_ prefix: String, _ x: Int, _ cout: Int) throws -> Int {
            let a = try add("\(prefix).first", .conv(kernel: 3, padding: 1, activation: .none), [x], channels: cout)
            let b = try add("\(prefix).first.relu", .relu, [a])
            let c = try add("\(prefix).second", .conv(kernel: 3, padding: 1, activation: .none), [b], channels: cout)
            return try add("\(prefix).second.relu", .relu, [c])
        }

        nodes.append(Node(name: "input", op: .input, inputs: [],
                          shape: Shape(n: batch, c: inChannels, h: height, w: width)))
        var x = 0
        var skips: [Int] = []
        for k in 0..<depth {
            let skip = try double("down_conv.\(k)", x, self.width(k))
            skips.append(skip)
            x = try add("down_conv.\(k).pool", .maxPool, [skip])
        }
        x = try double("middle_conv", x, self.width(depth))
        for j in 0..<depth {
            let up = try add("up_sample.\(j).up", .convTranspose, [x], channels: self.width(depth - j - 1))
            let skip = skips[depth - 1 - j]
            let s = nodes[skip].shape, u = nodes[up].shape
            let crop = try add("up_conv.\(j).crop",
                               .crop(top: centerCropOffset(size: s.h, target: u.h),
                                     left: centerCropOffset(size: s.w, target: u.w), height: u.h, width: u.w),
                               [skip])
            let cat = try add("up_conv.\(j).concat", .concat, [up, crop])
            x = try double("up_conv.\(j)", cat, self.width(depth - j - 1))
        }
        x = try add("final_conv", .conv(kernel: 1, padding: 0, activation: .none), [x], channels: outChannels)
        try add("output", .output, [x])
        let graph = Graph(nodes: nodes)
        try graph.verify()
        return graph
    }
}
