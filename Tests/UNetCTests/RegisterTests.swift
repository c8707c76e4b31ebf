// The conv register tiles keep their accumulators in registers in the compiled unet.c.
//
// clang 14 kept them in memory in some files, depending on which layers shared a tile (the
// classic model's direct path ran 1.8x slower at 96x96 and 128x128, with results still right),
// until the tiles were inlined into their band functions (UNET_TILE). No result check can see
// that: this test reads the machine code. x86-64 only (the signature is an FMA with a stack
// operand: an accumulator read back from memory), with the test compiler and objdump.

import Foundation
import XCTest
@testable import UNetC

final class RegisterTests: XCTestCase {
    func testConvTilesKeepTheirAccumulatorsInRegisters() throws {
        #if arch(x86_64)
        let cc = try TestToolchain.compiler()
        let objdump = try TestToolchain.require("objdump")
        let config = UNetConfig(inChannels: 3, outChannels: 1, base: 64, depth: 4)
        let weights = try ModelWeights(config: config, tensors: config.initialWeights(seed: 0))
        for size in [96, 128] {
            var options = GeneratorOptions()
            options.algorithm = .direct
            options.externalWeights = true
            let program = try Generator.generate(weights, batch: 1, height: size, width: size, options: options)
            let dir = try makeTemporaryDirectory(self)
            try program.write(to: dir)
            let compiled = try Toolchain.run(cc, Toolchain.defaultFlags + ["-c", dir + "/unet.c", "-o", dir + "/unet.o"])
            XCTAssertEqual(compiled.status, 0, compiled.output)
            let listing = try Toolchain.run(objdump, ["-d", "--no-show-raw-insn", dir + "/unet.o"])
            XCTAssertEqual(listing.status, 0, listing.output)
            var function = "", spilled: [String: Int] = [:]
            for line in listing.output.split(separator: "\n") {
                if line.hasSuffix(">:"), let name = line.split(separator: " ").last { function = String(name) }
                if line.contains("vfmadd"), line.contains("(%rsp)") { spilled[function, default: 0] += 1 }
            }
            XCTAssertEqual(spilled, [:], "\(size)x\(size): FMAs reading an accumulator from the stack, per function")
        }
        #else
        throw XCTSkip("reads x86-64 machine code")
        #endif
    }
}
