// The closed op vocabulary of unetc's graph IR.
//
// Every `switch` over `Op` is exhaustive with no `default:`, so adding a case makes the
// compiler list every place to touch: the shape rule (Graph+Shapes), the reference kernel
// (Interpreter), the C emission (CGen/Generator) and the printer.

/// An NCHW shape: batch, channels, height, width.
public struct Shape: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var n: Int
    public var c: Int
    public var h: Int
    public var w: Int

    public init(n: Int, c: Int, h: Int, w: Int) {
        self.n = n; self.c = c; self.h = h; self.w = w
    }

    public var count: Int { n * c * h * w }
    public var bytes: Int { count * MemoryLayout<Float>.size }
    public var description: String { "\(n)x\(c)x\(h)x\(w)" }
}

/// The activation a convolution applies to its result (set by the fusion pass).
public enum Activation: String, Equatable, Sendable {
    case none
    case relu
}

/// How a convolution computes: the generator's choice per layer.
public enum Algorithm: String, Equatable, Hashable, Sendable, CaseIterable, Codable {
    /// Direct convolution, register-tiled.
    case direct
    /// Winograd F(m x m, 3 x 3) for 3x3 pad-1 convs: the input transformed tile by tile,
    /// one GEMM per point of the (m+2) x (m+2) transform domain, the output transformed back
    /// (m is the tiling's `nr`: 2 or 4).
    case winograd
}

public enum Op: Equatable, Sendable {
    /// The network input, NCHW float32. No inputs.
    case input
    /// Conv2d with a square `kernel` (3 or 1), stride 1, zero `padding`, then `activation`.
    /// Weights `<name>.weight` [out, in, k, k] and `<name>.bias` [out]. With several inputs the
    /// conv reads their channels one after another, as if concatenated (see EliminateConcat).
    case conv(kernel: Int, padding: Int, activation: Activation)
    /// ReLU, elementwise.
    case relu
    /// MaxPool2d(2): 2x2 window, stride 2, floor for odd sizes.
    case maxPool
    /// ConvTranspose2d kernel 2 stride 2, weight `<name>.weight` [in, out, 2, 2], bias [out].
    case convTranspose
    /// Centre crop: rows [top, top+height), columns [left, left+width) of every channel, copied.
    case crop(top: Int, left: Int, height: Int, width: Int)
    /// The same window as `crop` but as a view into the source: no copy (see EliminateCrop).
    case view(top: Int, left: Int, height: Int, width: Int)
    /// Channel concatenation of the inputs, in order.
    case concat
    /// The network output; its one input is the result.
    case output
}

/// How a node is computed and where its value lives, beyond what its op says. The memory
/// passes (stream-rows, fuse-pool, write-in-place) set it; the C generator and the memory
/// planner read it; the interpreter ignores it, since none of it changes a value.
public enum Fusion: Equatable, Hashable, Sendable {
    /// Computed and stored on its own.
    case none
    /// Never stored whole: its one user, a conv, computes it a band of rows at a time into
    /// the rows of its packed panel, keeping the few rows the next band reads again.
    case streamed
    /// Computed by its producer, band by band, right after the producer writes those rows.
    case epilogue
    /// Stored in the window of the given view node (same shape), over rows of the view's
    /// source that no one reads again by the time they are written.
    case inPlace(Int)
}

extension Op {
    /// The op's name in the textual IR.
    public var mnemonic: String {
        switch self {
        case .input: return "input"
        case .conv(let k, _, let act): return act == .none ? "conv\(k)x\(k)" : "conv\(k)x\(k)+\(act.rawValue)"
        case .relu: return "relu"
        case .maxPool: return "maxpool2x2"
        case .convTranspose: return "convT2x2"
        case .crop: return "crop"
        case .view: return "view"
        case .concat: return "concat"
        case .output: return "output"
        }
    }

    /// Whether the op has trained parameters `<name>.weight` and `<name>.bias`.
    public var hasWeights: Bool {
        switch self {
        case .conv, .convTranspose: return true
        case .input, .relu, .maxPool, .crop, .view, .concat, .output: return false
        }
    }
}
