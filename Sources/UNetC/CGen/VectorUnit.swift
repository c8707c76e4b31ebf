// The vector unit unet.c is arranged for: how many floats a vector holds and how many vector
// registers there are. The register tiles are sized by both: a tile's accumulators, its input
// vectors and a broadcast must fit the registers, or the compiler keeps the accumulators in
// memory and the conv runs at a third of the speed or less.

import Foundation

public struct VectorUnit: Equatable, Sendable {
    /// Floats per vector.
    public var width: Int
    /// Vector registers.
    public var registers: Int

    public init(width: Int, registers: Int) {
        self.width = width; self.registers = registers
    }

    /// x86-64 with AVX-512: 32 registers of 16 floats.
    public static let avx512 = VectorUnit(width: 16, registers: 32)
    /// x86-64 with AVX or AVX2 (Zen 1-3, Intel before AVX-512): 16 registers of 8 floats.
    public static let avx2 = VectorUnit(width: 8, registers: 16)
    /// x86-64 with SSE only: 16 registers of 4 floats.
    public static let sse = VectorUnit(width: 4, registers: 16)
    /// AArch64 NEON: 32 registers of 4 floats.
    public static let neon = VectorUnit(width: 4, registers: 32)

    /// Throws where unet.c cannot be arranged for this unit: a width other than 1, 2, 4, 8, 16
    /// or 32 floats, or fewer than 16 or more than 64 registers (the tiles are sized for 16 or 32).
    public func check() throws {
        guard [1, 2, 4, 8, 16, 32].contains(width) else { throw GraphError("vector width \(width) is not 1, 2, 4, 8, 16 or 32") }
        guard (16...64).contains(registers) else { throw GraphError("vector registers \(registers) is not 16 to 64") }
    }

    /// The vector unit of the machine described by `cpuinfo` (the text of /proc/cpuinfo), for
    /// `architecture` (as `uname -m` prints it): AVX-512's where the flags list avx512f, AVX2's
    /// where they list avx, SSE's on other x86-64, NEON's on AArch64. Nil where neither tells.
    public static func from(cpuinfo: String, architecture: String) -> VectorUnit? {
        switch architecture {
        case "aarch64", "arm64":
            return .neon
        case "x86_64", "amd64":
            let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }
                .map { Set($0.split(separator: ":", maxSplits: 1).last!.split(separator: " ").map(String.init)) }
            guard let flags else { return nil }
            if flags.contains("avx512f") { return .avx512 }
            if flags.contains("avx") { return .avx2 }
            return .sse
        default:
            return nil
        }
    }

    /// This machine's vector unit (what `-march=native` compiles for), or AVX-512's where
    /// /proc/cpuinfo and the architecture do not tell.
    public static let host: VectorUnit = {
        var u = utsname()
        uname(&u)
        let machine = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return from(cpuinfo: info, architecture: machine) ?? .avx512
    }()
}
