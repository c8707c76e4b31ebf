// A seeded mutation loop over the whole weight loader: bytes -> safetensors -> U-Net config ->
// checked weights -> graph. Every mutant must load or throw an error that says what is wrong;
// none may trap. The corpus is the committed fixtures (Data/*.weights.safetensors).

import Foundation
import XCTest
@testable import UNetC

final class WeightsFuzzTests: XCTestCase {
    func testMutatedWeightFilesLoadOrFailCleanly() throws {
        var rng = SplitMix64(seed: 2026)
        var outcomes = (loaded: 0, rejected: 0)
        for name in ["tiny", "batch"] {
            let path = TestPaths.dataDir.appendingPathComponent("\(name).weights.safetensors").path
            let original = [UInt8](FileManager.default.contents(atPath: path)!)
            let headerLength = Int(original[0]) | Int(original[1]) << 8
            for _ in 0..<400 {
                var bytes = original
                switch rng.next() % 4 {
                case 0:  // flip bits in the header, where the shapes, offsets and names are
                    for _ in 0..<(1 + Int(rng.next() % 4)) {
                        let i = 8 + Int(rng.next() % UInt64(headerLength))
                        bytes[i] ^= UInt8(1 << (rng.next() % 8))
                    }
                case 1:  // replace a digit in the header with another digit
                    let digits = (8..<(8 + headerLength)).filter { (48...57).contains(bytes[$0]) }
                    bytes[digits[Int(rng.next() % UInt64(digits.count))]] = UInt8(48 + rng.next() % 10)
                case 2:  // truncate
                    bytes.removeLast(Int(rng.next() % UInt64(bytes.count)))
                default: // overwrite data with NaN/Inf patterns or garbage
                    for _ in 0..<8 {
                        let i = 8 + headerLength + Int(rng.next() % UInt64(bytes.count - 8 - headerLength))
                        bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                    }
                }
                do {
                    let file = try SafeTensors.parse(bytes, path: name)
                    let config = try ModelWeights.inferConfig(file, path: name)
                    let weights = try ModelWeights(config: config, tensors: file.tensors, path: name)
                    _ = try weights.config.build(batch: 1, height: 1 << config.depth, width: 1 << config.depth)
                    outcomes.loaded += 1
                } catch let e as SafeTensorsError {
                    XCTAssertFalse(e.message.isEmpty); outcomes.rejected += 1
                } catch let e as WeightsError {
                    XCTAssertFalse(e.message.isEmpty); outcomes.rejected += 1
                } catch let e as GraphError {
                    XCTAssertFalse(e.message.isEmpty); outcomes.rejected += 1
                }
            }
        }
        // Both paths must be exercised, or the mutations are not reaching the loader.
        XCTAssertGreaterThan(outcomes.loaded, 20)
        XCTAssertGreaterThan(outcomes.rejected, 100)
    }
}
