// The generated C under AddressSanitizer + UndefinedBehaviorSanitizer and valgrind memcheck,
// on every golden fixture, in both memory modes (`make sanitize` runs just these).

import Foundation
import XCTest
@testable import UNetC

final class SanitizerTests: XCTestCase {
    /// Builds `fixture`'s program with `flags`, runs it (optionally under `wrapper`), and
    /// checks the output against PyTorch's float64 result.
    func check(_ fixture: Fixture, cc: String, flags: [String], wrapper: [String] = [], threads: Int = 1,
               memory: MemoryMode = .speed, flat: Bool = false) throws {
        var options = GeneratorOptions()
        if memory == .min { options.passes = Pipeline.minimumMemory }    // streamed even where it does not pay
        options.memory = memory
        if flat {
            // Every conv and transposed conv with flat tiles (the last ones read past their band)
            // in bands of 3 rows.
            options.algorithm = .direct
            for node in try Pipeline.run(try fixture.graph()).nodes {
                switch node.op {
                case .conv, .convTranspose: options.tiling[node.name] = LayerTiling(r: 4, nv: 1, rb: 3, flat: true)
                default: break
                }
            }
        }
        let program = try Generator.generate(fixture.weights, batch: fixture.batch, height: fixture.height,
                                             width: fixture.width, options: options)
        let built = try Verifier.build(program, cc: cc, flags: flags)
        defer { try? FileManager.default.removeItem(atPath: built.directory) }
        let dir = built.directory
        try floatBytes(fixture.input.data).write(to: dir + "/input.f32")
        let args = wrapper + [built.binary, dir + "/input.f32", dir + "/output.f32"]
        let result = try Toolchain.run(args[0], Array(args.dropFirst()),
                                       environment: ["OMP_NUM_THREADS": "\(threads)",
                                                     "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"])
        XCTAssertEqual(result.status, 0, "\(fixture.name) (memory \(memory)) under \(wrapper.first ?? flags.joined(separator: " ")):\n\(result.output)")
        let output = try readFloats(dir + "/output.f32")
        XCTAssertLessThan(maxAbsDiff(output, fixture.outputF64.data), 5e-5, "\(fixture.name) (memory \(memory))")
    }

    func testAddressAndUndefinedBehaviourSanitizers() throws {
        let cc = try TestToolchain.compiler()
        for fixture in try Fixture.all() {
            for memory in MemoryMode.allCases {
                try check(fixture, cc: cc, flags: ["-O1", "-g", "-fno-omit-frame-pointer",
                                                   "-fsanitize=address,undefined", "-fno-sanitize-recover=all"], memory: memory)
            }
        }
    }

    func testAddressSanitizerWithOpenMP() throws {
        let cc = try TestToolchain.compiler()
        for memory in MemoryMode.allCases {
            try check(try Fixture.load("odd"), cc: cc, flags: ["-O1", "-g", "-fopenmp", "-fsanitize=address,undefined",
                                                               "-fno-sanitize-recover=all"], threads: 2, memory: memory)
        }
    }

    func testFlatTilesUnderSanitizersAndValgrind() throws {
        let cc = try TestToolchain.compiler(), valgrind = try TestToolchain.require("valgrind")
        let odd = try Fixture.load("odd")
        try check(odd, cc: cc, flags: ["-O1", "-g", "-fopenmp", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"],
                  threads: 2, flat: true)
        try check(odd, cc: cc, flags: ["-O2", "-g"], wrapper: [valgrind, "--error-exitcode=99", "--leak-check=no", "-q"],
                  flat: true)
    }

    func testValgrindMemcheck() throws {
        let cc = try TestToolchain.compiler()
        let valgrind = try TestToolchain.require("valgrind")
        for fixture in try Fixture.all() {
            for memory in MemoryMode.allCases {
                try check(fixture, cc: cc, flags: ["-O2", "-g"],
                          wrapper: [valgrind, "--error-exitcode=99", "--leak-check=no", "-q"], memory: memory)
            }
        }
    }
}
