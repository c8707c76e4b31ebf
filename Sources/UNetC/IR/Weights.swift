// A U-Net's trained parameters, checked against the architecture they imply.

public struct WeightsError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

/// A model's configuration and its parameters, keyed by PyTorch `state_dict` names.
public struct ModelWeights: Sendable {
    public var config: UNetConfig
    public var tensors: [String: Tensor]
    /// Keys whose values hold NaN or infinity (a warning, not an error).
    public var nonFiniteKeys: [String]

    /// Checks every expected key and shape; `path` names the source in errors.
    public init(config: UNetConfig, tensors: [String: Tensor], path: String = "weights") throws {
        try Self.check(tensors, against: config, path: path)
        self.config = config
        self.tensors = tensors
        self.nonFiniteKeys = tensors.filter { !$0.value.data.allSatisfy(\.isFinite) }.keys.sorted()
    }

    /// Reads a safetensors file and infers the configuration from the weight shapes.
    public static func load(path: String) throws -> ModelWeights {
        let file = try SafeTensors.read(path: path)
        return try ModelWeights(config: inferConfig(file, path: path), tensors: file.tensors, path: path)
    }

    public func weight(_ node: String) -> Tensor { tensors["\(node).weight"]! }
    public func bias(_ node: String) -> Tensor { tensors["\(node).bias"]! }

    /// in, out and base from the first and last layers; depth from the `down_conv.k` count.
    static func inferConfig(_ file: SafeTensors, path: String) throws -> UNetConfig {
        func shape(_ key: String, rank: Int) throws -> [Int] {
            guard let t = file.tensors[key] else {
                throw WeightsError(path: path, message: "missing key '\(key)': is this a U-Net state_dict? (found \(file.tensors.count) tensors\(file.tensors.keys.sorted().prefix(3).map { ", '\($0)'" }.joined()))")
            }
            guard t.shape.count == rank else {
                throw WeightsError(path: path, message: "tensor '\(key)': expected \(rank) dimensions, found shape \(t.shape)")
            }
            return t.shape
        }
        let first = try shape("down_conv.0.first.weight", rank: 4)
        let final = try shape("final_conv.weight", rank: 4)
        var depth = 0
        while file.tensors["down_conv.\(depth).first.weight"] != nil { depth += 1 }
        let config = UNetConfig(inChannels: first[1], outChannels: final[0], base: first[0], depth: depth)
        do { try config.validate() } catch let e as GraphError { throw WeightsError(path: path, message: e.message) }
        // The metadata the fixtures and `unetc init` write must agree with the shapes.
        let stated = [("in_channels", config.inChannels), ("out_channels", config.outChannels),
                      ("base", config.base), ("depth", config.depth)]
        for (key, inferred) in stated {
            if let text = file.metadata[key], let value = Int(text), value != inferred {
                throw WeightsError(path: path, message: "metadata says \(key) = \(value), but the weight shapes give \(inferred)")
            }
        }
        return config
    }

    static func check(_ tensors: [String: Tensor], against config: UNetConfig, path: String) throws {
        let expected = config.parameterShapes()
        for (key, shape) in expected {
            guard let t = tensors[key] else {
                throw WeightsError(path: path, message: "missing key '\(key)' (expected shape \(shape) for a U-Net with \(config))")
            }
            guard t.shape == shape else {
                throw WeightsError(path: path, message: "tensor '\(key)': expected shape \(shape), found \(t.shape) (model inferred as \(config))")
            }
        }
        let known = Set(expected.map(\.key))
        if let extra = tensors.keys.sorted().first(where: { !known.contains($0) }) {
            throw WeightsError(path: path, message: "unexpected key '\(extra)' with shape \(tensors[extra]!.shape): not a parameter of a U-Net with \(config)")
        }
    }
}
