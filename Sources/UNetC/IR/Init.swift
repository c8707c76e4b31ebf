// Deterministic weights for benchmarks and demos, so no trained model is needed.

import Foundation

/// SplitMix64: tiny, fast, and the same on every platform.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
    /// Uniform in [-bound, bound).
    public mutating func uniform(_ bound: Double) -> Double { (2 * unit() - 1) * bound }
    /// Standard normal (Box-Muller).
    public mutating func normal() -> Double {
        let u1 = 1 - unit(), u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

public enum WeightInit: String, Sendable, CaseIterable {
    /// Conv weights ~ N(0, 2/fan_in); transposed-conv and final 1x1 weights ~ N(0, 1/in_channels);
    /// biases ~ U(-0.1, 0.1). Every layer shows in the output, so comparisons catch broken layers.
    case variancePreserving = "variance-preserving"
    /// PyTorch's defaults: kaiming-uniform(a = sqrt 5), i.e. U(±1/sqrt(fan_in)), for weights and
    /// biases. The signal shrinks until the output is almost the last biases: for timing only.
    case pytorch
}

extension UNetConfig {
    /// Weights drawn from `seed`, tensor by tensor in `parameterShapes()` order.
    public func initialWeights(seed: UInt64, scheme: WeightInit = .variancePreserving) -> [String: Tensor] {
        var rng = SplitMix64(seed: seed)
        var out: [String: Tensor] = [:]
        var weightFanIn = 1
        for (key, shape) in parameterShapes() {
            let count = shape.reduce(1, *)
            var data = [Float](repeating: 0, count: count)
            if key.hasSuffix(".weight") {
                let transposed = key.hasPrefix("up_sample.")
                // PyTorch's fan_in is dim 1 times the kernel area: for ConvTranspose that is out*k*k.
                weightFanIn = shape[1] * shape[2] * shape[3]
                let inChannels = transposed ? shape[0] : shape[1]
                switch scheme {
                case .variancePreserving:
                    let variance = (transposed || key.hasPrefix("final_conv.")) ? 1 / Double(inChannels) : 2 / Double(weightFanIn)
                    let sd = variance.squareRoot()
                    for i in 0..<count { data[i] = Float(rng.normal() * sd) }
                case .pytorch:
                    let bound = 1 / Double(weightFanIn).squareRoot()
                    for i in 0..<count { data[i] = Float(rng.uniform(bound)) }
                }
            } else {
                let bound = scheme == .pytorch ? 1 / Double(weightFanIn).squareRoot() : 0.1
                for i in 0..<count { data[i] = Float(rng.uniform(bound)) }
            }
            out[key] = Tensor(shape: shape, data: data)
        }
        return out
    }

    /// The safetensors file `unetc init` writes: the weights plus the config as metadata.
    public func initialWeightsFile(seed: UInt64, scheme: WeightInit) -> SafeTensors {
        SafeTensors(tensors: initialWeights(seed: seed, scheme: scheme),
                    metadata: ["in_channels": "\(inChannels)", "out_channels": "\(outChannels)",
                               "base": "\(base)", "depth": "\(depth)",
                               "init": scheme.rawValue, "seed": "\(seed)"])
    }
}
