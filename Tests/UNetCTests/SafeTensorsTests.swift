import Foundation
import XCTest
@testable import UNetC

final class SafeTensorsTests: XCTestCase {
    static let dataDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Data")

    // MARK: Building files in memory

    /// A safetensors file from a header string (unpadded) and a data section.
    func makeFile(_ header: String, data: [UInt8] = [], headerLength: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        return le64(headerLength ?? UInt64(h.count)) + h + data
    }
    func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    func f32(_ xs: [Float]) -> [UInt8] { xs.flatMap { x in (0..<4).map { UInt8(truncatingIfNeeded: x.bitPattern >> (8 * $0)) } } }
    func u16(_ xs: [UInt16]) -> [UInt8] { xs.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)] } }
    func tensorJSON(_ dtype: String = "F32", _ shape: String, _ offsets: String) -> String {
        #"{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}"#
    }

    /// Parsing `bytes` must throw a SafeTensorsError whose message contains every fragment.
    func expectError(_ bytes: [UInt8], _ fragments: String..., file: StaticString = #filePath, line: UInt = #line) {
        do {
            let parsed = try SafeTensors.parse(bytes, path: "bad.safetensors")
            XCTFail("expected an error containing \(fragments), parsed \(parsed.tensors.keys.sorted())", file: file, line: line)
        } catch let error as SafeTensorsError {
            XCTAssertEqual(error.path, "bad.safetensors", file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix("bad.safetensors: "), file: file, line: line)
            for fragment in fragments where !error.message.contains(fragment) {
                XCTFail("message \"\(error.message)\" lacks \"\(fragment)\"", file: file, line: line)
            }
        } catch {
            XCTFail("unexpected error type \(type(of: error)): \(error)", file: file, line: line)
        }
    }

    // MARK: Errors

    func testTooShort() {
        expectError([1, 2, 3, 4, 5], "file is 5 bytes, too short for the 8-byte header length")
        expectError([], "file is 0 bytes")
    }

    func testHeaderLengthPastEnd() {
        expectError(le64(1000) + [UInt8](repeating: 0x20, count: 112), "header length 1000 exceeds file size 120 - 8")
        expectError(le64(.max), "header length 18446744073709551615 exceeds file size 8 - 8")
    }

    func testHeaderNotUTF8() {
        expectError(le64(4) + [0x7B, 0x22, 0xFF, 0x7D], "header is not valid UTF-8", "0xff", "offset 2")
    }

    func testHeaderNotJSON() {
        expectError(makeFile(#"{"x":"#), "header is not valid JSON")
        expectError(makeFile(""), "header is not valid JSON")
    }

    func testHeaderNotObject() {
        expectError(makeFile("[1, 2]"), "header must be a JSON object, found an array of 2")
        expectError(makeFile("42"), "header must be a JSON object, found number 42")
        expectError(makeFile(#""hi""#), "header must be a JSON object, found string \"hi\"")
    }

    func testEntryNotObject() {
        expectError(makeFile(#"{"x": 3}"#), "tensor 'x' must be an object with dtype, shape and data_offsets, found number 3")
        expectError(makeFile(#"{"x": null}"#), "tensor 'x'", "found null")
    }

    func testMissingFields() {
        expectError(makeFile(#"{"x":{"shape":[1],"data_offsets":[0,4]}}"#), "tensor 'x' is missing 'dtype'")
        expectError(makeFile(#"{"x":{"dtype":"F32","data_offsets":[0,4]}}"#), "tensor 'x' is missing 'shape'")
        expectError(makeFile(#"{"x":{"dtype":"F32","shape":[1]}}"#), "tensor 'x' is missing 'data_offsets'")
    }

    func testWrongJSONTypes() {
        expectError(makeFile(#"{"x":{"dtype":3,"shape":[1],"data_offsets":[0,4]}}"#), "tensor 'x': dtype must be a string, found number 3")
        expectError(makeFile(#"{"x":\#(tensorJSON("F32", #""abc""#, "[0,4]"))}"#), "tensor 'x': shape must be an array of integers, found string \"abc\"")
        expectError(makeFile(#"{"x":\#(tensorJSON("F32", "[1.5]", "[0,4]"))}"#), "tensor 'x': shape[0] must be a non-negative integer, found number 1.5")
        expectError(makeFile(#"{"x":\#(tensorJSON("F32", "[true]", "[0,4]"))}"#), "tensor 'x': shape[0] must be a non-negative integer, found boolean true")
        expectError(makeFile(#"{"x":\#(tensorJSON("F32", "[1]", "{}"))}"#), "tensor 'x': data_offsets must be an array of integers, found an object")
        expectError(makeFile(#"{"x":\#(tensorJSON("F32", "[1]", #"[0,"4"]"#))}"#), "tensor 'x': data_offsets[1] must be a non-negative integer, found string \"4\"")
        expectError(makeFile(#"{"x":\#(tensorJSON("F32", "[1]", "[0]"))}"#), "tensor 'x': data_offsets must be [begin, end], found 1 numbers [0]")
        expectError(makeFile(#"{"x":\#(tensorJSON("F32", "[1]", "[0,4,8]"))}"#), "found 3 numbers [0, 4, 8]")
        expectError(makeFile(#"{"x":\#(tensorJSON("F32", "[1]", "[0,1e30]"))}"#), "tensor 'x': data_offsets[1] must be a non-negative integer, found number 1e+30")
    }

    func testNegativeDims() {
        expectError(makeFile(#"{"x":\#(tensorJSON("F32", "[2,-3]", "[0,24]"))}"#), "tensor 'x': shape[1] is -3, must be non-negative")
        expectError(makeFile(#"{"x":\#(tensorJSON("F32", "[1]", "[-4,0]"))}"#), "tensor 'x': data_offsets[0] is -4")
    }

    func testUnsupportedDType() {
        expectError(makeFile(#"{"x":\#(tensorJSON("I64", "[1]", "[0,8]"))}"#, data: [UInt8](repeating: 0, count: 8)),
                    "tensor 'x': dtype I64 is not supported (expected F32, F16 or BF16)")
    }

    func testOffsetsOutOfOrderOrPastEnd() {
        let data = [UInt8](repeating: 0, count: 120)
        expectError(makeFile(#"{"x":\#(tensorJSON("F32", "[1]", "[20,10]"))}"#, data: data), "tensor 'x': data_offsets [20, 10] end before they begin")
        expectError(makeFile(#"{"x":\#(tensorJSON("F32", "[100]", "[0,400]"))}"#, data: data),
                    "tensor 'x': data_offsets [0, 400] run past the end of the data section (120 bytes)")
    }

    func testByteCountMismatch() {
        expectError(makeFile(#"{"x":\#(tensorJSON("F32", "[2,3]", "[0,20]"))}"#, data: [UInt8](repeating: 0, count: 24)),
                    "tensor 'x': shape [2, 3] of F32 needs 24 bytes, data_offsets give 20")
        expectError(makeFile(#"{"x":\#(tensorJSON("BF16", "[3]", "[0,4]"))}"#, data: [UInt8](repeating: 0, count: 8)),
                    "tensor 'x': shape [3] of BF16 needs 6 bytes, data_offsets give 4")
    }

    func testOverlap() {
        let header = #"{"b":\#(tensorJSON("F32", "[4]", "[8,24]")),"a":\#(tensorJSON("F32", "[4]", "[0,16]"))}"#
        expectError(makeFile(header, data: [UInt8](repeating: 0, count: 24)), "tensors 'a' and 'b' overlap: bytes [0, 16) and [8, 24)")
        // Nested inside a longer range, and an empty tensor inside another's range is fine.
        let nested = #"{"big":\#(tensorJSON("F32", "[8]", "[0,32]")),"small":\#(tensorJSON("F32", "[1]", "[20,24]")),"e":\#(tensorJSON("F32", "[0]", "[4,4]"))}"#
        expectError(makeFile(nested, data: [UInt8](repeating: 0, count: 32)), "tensors 'big' and 'small' overlap: bytes [0, 32) and [20, 24)")
    }

    func testBadMetadata() {
        expectError(makeFile(#"{"__metadata__":"x"}"#), "__metadata__ must be an object of strings, found string \"x\"")
        expectError(makeFile(#"{"__metadata__":[1]}"#), "__metadata__ must be an object of strings, found an array of 1")
        expectError(makeFile(#"{"__metadata__":{"depth":4}}"#), "__metadata__ 'depth' must be a string, found number 4")
    }

    func testHugeDims() throws {
        let big = "4611686018427387904" // 2^62
        expectError(makeFile(#"{"x":\#(tensorJSON("F32", "[\(big),4]", "[0,0]"))}"#), "tensor 'x': shape [\(big), 4] has too many elements (the product overflows Int)")
        expectError(makeFile(#"{"x":\#(tensorJSON("F32", "[\(big)]", "[0,0]"))}"#), "needs more than \(Int.max) bytes, data_offsets give 0")
        // A zero dimension makes the product 0 however big the others are.
        let empty = try SafeTensors.parse(makeFile(#"{"x":\#(tensorJSON("F32", "[\(big),\(big),0]", "[0,0]"))}"#), path: "e")
        XCTAssertEqual(empty.tensors["x"]?.count, 0)
    }

    func testFileErrors() {
        XCTAssertThrowsError(try SafeTensors.read(path: "/nonexistent/x.safetensors")) { error in
            XCTAssertEqual(error as? SafeTensorsError,
                           SafeTensorsError(path: "/nonexistent/x.safetensors", message: "cannot open for reading: No such file or directory"))
        }
        XCTAssertThrowsError(try SafeTensors.read(path: Self.dataDir.path)) { error in
            XCTAssertEqual((error as? SafeTensorsError)?.message, "cannot read: Is a directory")
        }
    }

    // MARK: Reading and writing

    func testReadTinyAndRoundTrip() throws {
        let path = Self.dataDir.appendingPathComponent("tiny.weights.safetensors").path
        let tiny = try SafeTensors.read(path: path)
        XCTAssertEqual(tiny.tensors["down_conv.0.first.weight"]?.shape, [4, 3, 3, 3])
        XCTAssertEqual(tiny.tensors["down_conv.0.first.weight"]?.count, 108)
        XCTAssertEqual(tiny.metadata, ["depth": "4", "base": "4", "in_channels": "3", "out_channels": "1"])
        XCTAssertEqual(Set(tiny.dtypes.values), [.f32])

        let bytes = tiny.serialized()
        let again = try SafeTensors.parse(bytes, path: "memory")
        XCTAssertEqual(again, tiny)
        XCTAssertEqual(again.serialized(), bytes)
        // Same layout as the Python writer: identical data section, data starting at a multiple of 8.
        let original = try SafeTensors.readBytes(path: path)
        func dataStart(_ b: [UInt8]) -> Int { 8 + Int(b[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }) }
        XCTAssertEqual(dataStart(bytes) % 8, 0)
        XCTAssertEqual(Array(bytes[dataStart(bytes)...]), Array(original[dataStart(original)...]))
    }

    func testHeaderLayout() throws {
        let st = SafeTensors(tensors: ["b": Tensor(shape: [2], data: [1, 2]), "a/\"é\"": Tensor(shape: [], data: [3]),
                                       "A": Tensor(zeros: [0, 3])],
                             metadata: ["z": "1", "a": "x/y"])
        let bytes = st.serialized()
        let n = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        XCTAssertEqual(n % 8, 0)
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        XCTAssertEqual(header.trimmingCharacters(in: .whitespaces),
                       #"{"__metadata__":{"a":"x/y","z":"1"},"A":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"#
                       + #""a/\"é\"":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#)
        XCTAssertEqual(Array(bytes[(8 + n)...]), f32([3, 1, 2]))
        XCTAssertEqual(try SafeTensors.parse(bytes, path: "m"), st)

        let empty = SafeTensors().serialized()
        XCTAssertEqual(empty, le64(8) + Array("{}      ".utf8))
        XCTAssertEqual(try SafeTensors.parse(empty, path: "m"), SafeTensors())
    }

    func testHalfAndBFloat16() throws {
        let half: [UInt16] = [0x3C00, 0xC100, 0x7BFF, 0x0001, 0x83FF, 0x7C00, 0xFC00, 0x8000]
        let bf16: [UInt16] = [0x3F80, 0xC020, 0x477F, 0x0001, 0x7F80, 0xFF80]
        let header = #"{"h":\#(tensorJSON("F16", "[2,4]", "[0,16]")),"b":\#(tensorJSON("BF16", "[6]", "[16,28]")),"n":\#(tensorJSON("F16", "[1]", "[28,30]"))}"#
        let st = try SafeTensors.parse(makeFile(header, data: u16(half) + u16(bf16) + u16([0x7E00])), path: "m")
        XCTAssertEqual(st.tensors["h"], Tensor(shape: [2, 4], data: [1.0, -2.5, 65504, 0x1p-24, -1023 * 0x1p-24, .infinity, -.infinity, -0.0]))
        XCTAssertEqual(st.tensors["h"]?.data.last?.sign, .minus)
        XCTAssertEqual(st.tensors["b"], Tensor(shape: [6], data: [1.0, -2.5, 65280, 0x1p-133, .infinity, -.infinity]))
        XCTAssertEqual(st.tensors["n"]?.data[0].isNaN, true)
        XCTAssertEqual(st.dtypes, ["h": .f16, "b": .bf16, "n": .f16])
        // Written back as F32, exactly.
        let back = try SafeTensors.parse(st.serialized(), path: "m")
        XCTAssertEqual(back.tensors["b"], st.tensors["b"])
        XCTAssertEqual(back.dtypes["h"], .f32)
    }

    #if !(os(macOS) && arch(x86_64))
    func testHalfMatchesFloat16Exhaustively() {
        for bits in UInt16.min...UInt16.max {
            let mine = SafeTensors.floatFromHalf(bits), reference = Float(Float16(bitPattern: bits))
            if reference.isNaN { XCTAssertTrue(mine.isNaN, "\(bits)") } else { XCTAssertEqual(mine.bitPattern, reference.bitPattern, "\(bits)") }
        }
    }
    #endif

    func testAtomicWrite() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        let missing = dir.appendingPathComponent("nope/out.safetensors").path
        XCTAssertThrowsError(try SafeTensors().write(path: missing)) { error in
            let e = error as? SafeTensorsError
            XCTAssertEqual(e?.path, missing)
            XCTAssertEqual(e?.message.contains("No such file or directory"), true, "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("nope").path))

        let target = dir.appendingPathComponent("out.safetensors").path
        try writeFileAtomically(Array("old contents that are longer".utf8), to: target)
        let st = SafeTensors(tensors: ["w": Tensor(shape: [2, 2], data: [1, 2, 3, 4])], metadata: ["k": "v"])
        try st.write(path: target)
        XCTAssertEqual(try SafeTensors.read(path: target), st)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out.safetensors"])

        // A directory in the way: rename fails, the directory is untouched and the temp file removed.
        let blocker = dir.appendingPathComponent("blocker")
        try FileManager.default.createDirectory(at: blocker.appendingPathComponent("child"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try writeFileAtomically([1, 2, 3], to: blocker.path)) { error in
            XCTAssertEqual((error as? SafeTensorsError)?.message.contains("cannot rename"), true, "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["blocker", "out.safetensors"])
        XCTAssertThrowsError(try writeFileAtomically([], to: dir.path + "/"))

        // The same check ahead of time (unetc tune, before its search): nothing left behind.
        XCTAssertNoThrow(try checkCanWrite(target))
        XCTAssertThrowsError(try checkCanWrite(missing)) { error in
            XCTAssertEqual((error as? SafeTensorsError)?.message.contains("No such file or directory"), true, "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["blocker", "out.safetensors"])
    }

    // MARK: Robustness

    struct XorShift { var state: UInt64; mutating func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
                      mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) } }

    func testFuzzedInputsNeverCrash() throws {
        let st = SafeTensors(tensors: ["a.weight": Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6]), "b": Tensor(shape: [1], data: [7])],
                             metadata: ["depth": "1"])
        var seeds = [st.serialized()]
        seeds.append(makeFile(#"{"h":\#(tensorJSON("F16", "[2]", "[0,4]")),"g":\#(tensorJSON("BF16", "[1,1]", "[4,6]"))}"#, data: u16([0x3C00, 0x7C00, 0x3F80])))
        var rng = XorShift(state: 0x9E37_79B9_7F4A_7C15)
        var parsed = 0, rejected = 0
        for round in 0..<2000 {
            var bytes = seeds[round % seeds.count]
            for _ in 0...rng.below(3) {
                switch rng.below(6) {
                case 0: // flip a bit
                    if !bytes.isEmpty { bytes[rng.below(bytes.count)] ^= 1 << UInt8(rng.below(8)) }
                case 1: // truncate
                    bytes.removeLast(rng.below(bytes.count + 1))
                case 2: // insert random bytes
                    bytes.insert(contentsOf: (0...rng.below(4)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: rng.below(bytes.count + 1))
                case 3: // overwrite with a JSON-significant character
                    let chars = Array("{}[]\",:-019e.tn ".utf8)
                    if !bytes.isEmpty { bytes[rng.below(bytes.count)] = chars[rng.below(chars.count)] }
                case 4: // fix up the header length so the JSON gets parsed
                    if bytes.count >= 8, let close = bytes.lastIndex(of: UInt8(ascii: "}")) { bytes.replaceSubrange(0..<8, with: le64(UInt64(close - 7))) }
                default: // duplicate a slice
                    if !bytes.isEmpty { let i = rng.below(bytes.count); bytes.insert(contentsOf: bytes[i..<min(bytes.count, i + rng.below(16))], at: rng.below(bytes.count)) }
                }
            }
            do {
                _ = try SafeTensors.parse(bytes, path: "fuzz")
                parsed += 1
            } catch is SafeTensorsError {
                rejected += 1
            } catch {
                XCTFail("round \(round): unexpected error \(error)")
            }
        }
        XCTAssertEqual(parsed + rejected, 2000)
        XCTAssertGreaterThan(parsed, 0)
        XCTAssertGreaterThan(rejected, 0)
    }
}
