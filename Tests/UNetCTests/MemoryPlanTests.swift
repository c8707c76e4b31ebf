// The memory planner: no two live buffers share a byte, offsets are aligned, the arena is
// between the lower bound and the naive sum, and the requests follow the graph's lifetimes.

import Foundation
import XCTest
@testable import UNetC

final class MemoryPlanTests: XCTestCase {
    func aligned(_ bytes: Int) -> Int { (bytes + 63) / 64 * 64 }

    /// The most aligned bytes live at any step, computed step by step (independently of the planner).
    func bruteForceLowerBound(_ buffers: [BufferRequest]) -> Int {
        guard let end = buffers.map(\.last).max() else { return 0 }
        var best = 0
        for step in 0...end {
            let live = buffers.filter { $0.first <= step && step <= $0.last }.reduce(0) { $0 + aligned($1.bytes) }
            best = max(best, live)
        }
        return best
    }

    /// An independent overlap check: every pair live at a common step occupies disjoint aligned ranges.
    func assertValid(_ plan: MemoryPlan, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNil(MemoryPlanner.overlaps(plan), file: file, line: line)
        let b = plan.buffers
        XCTAssertEqual(plan.offsets.count, b.count, file: file, line: line)
        for i in b.indices {
            XCTAssertEqual(plan.offsets[i] % MemoryPlanner.alignment, 0, "\(b[i].name) offset \(plan.offsets[i])", file: file, line: line)
            XCTAssertGreaterThanOrEqual(plan.offsets[i], 0, file: file, line: line)
            XCTAssertLessThanOrEqual(plan.offsets[i] + b[i].bytes, plan.arenaBytes, b[i].name, file: file, line: line)
            for j in b.indices where j > i && b[i].first <= b[j].last && b[j].first <= b[i].last {
                let disjoint = plan.offsets[i] + aligned(b[i].bytes) <= plan.offsets[j]
                    || plan.offsets[j] + aligned(b[j].bytes) <= plan.offsets[i]
                XCTAssertTrue(disjoint, "\(b[i].name) and \(b[j].name) overlap", file: file, line: line)
            }
        }
        XCTAssertEqual(plan.lowerBound, bruteForceLowerBound(b), file: file, line: line)
        XCTAssertGreaterThanOrEqual(plan.arenaBytes, plan.lowerBound, file: file, line: line)
        XCTAssertLessThanOrEqual(plan.arenaBytes, plan.naiveBytes, file: file, line: line)
        XCTAssertEqual(plan.naiveBytes, b.reduce(0) { $0 + aligned($1.bytes) }, file: file, line: line)
    }

    func randomBuffers(seed: UInt64) -> [BufferRequest] {
        var rng = SplitMix64(seed: seed)
        let count = 50 + Int(rng.next() % 151)                 // 50...200
        let steps = 20 + Int(rng.next() % 200)
        return (0..<count).map { i in
            let first = Int(rng.next() % UInt64(steps))
            let last = min(steps - 1, first + Int(rng.next() % 30))
            // Mostly small, some large, a few exact multiples of 64 and some 1-byte ones.
            let bytes: Int
            switch rng.next() % 4 {
            case 0: bytes = 1 + Int(rng.next() % 64)
            case 1: bytes = 64 * (1 + Int(rng.next() % 100))
            default: bytes = 1 + Int(rng.next() % 200_000)
            }
            return BufferRequest(name: "b\(i)", bytes: bytes, first: first, last: last)
        }
    }

    func testRandomLifetimes() {
        for seed in UInt64(1)...40 {
            let buffers = randomBuffers(seed: seed)
            XCTAssertTrue((50...200).contains(buffers.count))
            let plan = MemoryPlanner.plan(buffers)
            XCTAssertEqual(plan.buffers, buffers, "the plan keeps the request order")
            assertValid(plan)
            XCTAssertEqual(MemoryPlanner.lowerBound(buffers), bruteForceLowerBound(buffers), "seed \(seed)")
            for (i, b) in buffers.enumerated() { XCTAssertEqual(plan.offset(of: b.name), plan.offsets[i]) }
            // Deterministic: the same requests give the same plan.
            XCTAssertEqual(MemoryPlanner.plan(buffers), plan)
        }
    }

    func testPlanReachesTheBoundExactly() {
        // A (100 bytes, steps 0-1), B (64, 1-2), C (128, 2-3): at most 192 aligned bytes live at once.
        let buffers = [BufferRequest(name: "A", bytes: 100, first: 0, last: 1),
                       BufferRequest(name: "B", bytes: 64, first: 1, last: 2),
                       BufferRequest(name: "C", bytes: 128, first: 2, last: 3)]
        let plan = MemoryPlanner.plan(buffers)
        assertValid(plan)
        XCTAssertEqual(plan.lowerBound, 192)
        XCTAssertEqual(plan.arenaBytes, 192)
        XCTAssertEqual(plan.naiveBytes, 320)
        XCTAssertEqual(plan.offsets, [0, 128, 0])    // A and C reuse the same bytes
    }

    func testChainReusesTwoSlots() {
        // A chain x0 -> x1 -> ... where each buffer lives for its step and the next: two slots suffice.
        let buffers = (0..<10).map { BufferRequest(name: "x\($0)", bytes: 1000, first: $0, last: $0 + 1) }
        let plan = MemoryPlanner.plan(buffers)
        assertValid(plan)
        XCTAssertEqual(plan.lowerBound, 2 * 1024)
        XCTAssertEqual(plan.arenaBytes, 2 * 1024)
    }

    func testBestFitPicksTheSmallestGap() {
        // Placed largest first: Q [0, 768) at step 4; C [768, 1024) at 4-5; A [0, 256) at 5;
        // P [0, 512) at 6; B [512, 640) at 5-6. At step 5 that leaves gaps of 256 bytes at 256 and
        // 128 bytes at 640: N (100 bytes) goes into the smaller one (first fit would take 256).
        let buffers = [BufferRequest(name: "Q", bytes: 768, first: 4, last: 4),
                       BufferRequest(name: "P", bytes: 512, first: 6, last: 6),
                       BufferRequest(name: "C", bytes: 256, first: 4, last: 5),
                       BufferRequest(name: "A", bytes: 256, first: 5, last: 5),
                       BufferRequest(name: "B", bytes: 128, first: 5, last: 6),
                       BufferRequest(name: "N", bytes: 100, first: 5, last: 5)]
        let plan = MemoryPlanner.plan(buffers)
        assertValid(plan)
        XCTAssertEqual(plan.offsets, [0, 0, 768, 0, 512, 640])
        XCTAssertEqual(plan.offset(of: "N"), 640)
        XCTAssertEqual(plan.lowerBound, 1024)
        XCTAssertEqual(plan.arenaBytes, 1024)
    }

    func testEmptyAndSingle() {
        let empty = MemoryPlanner.plan([])
        XCTAssertEqual(empty.arenaBytes, 0)
        XCTAssertEqual(empty.lowerBound, 0)
        XCTAssertEqual(empty.naiveBytes, 0)
        let one = MemoryPlanner.plan([BufferRequest(name: "x", bytes: 1, first: 3, last: 3)])
        XCTAssertEqual(one.offsets, [0])
        XCTAssertEqual(one.arenaBytes, 64)
        XCTAssertEqual(one.lowerBound, 64)
    }

    // MARK: Requests from graphs

    func testRequestsFollowTheGraph() throws {
        let plain = try UNetConfig(inChannels: 3, outChannels: 1, base: 2, depth: 2).build(batch: 1, height: 11, width: 13)
        let g = try Pipeline.run(plain)
        let requests = MemoryPlanner.requests(for: g)
        let names = Set(requests.map(\.name))
        // Not the input, the output, views, or final_conv (which writes straight into the output).
        XCTAssertFalse(names.contains("input"))
        XCTAssertFalse(names.contains("output"))
        XCTAssertFalse(names.contains("final_conv"))
        XCTAssertFalse(names.contains("up_conv.0.crop"))
        XCTAssertFalse(names.contains("up_conv.1.crop"))
        XCTAssertEqual(requests.count, g.nodes.count - 5)
        func request(_ name: String) -> BufferRequest { requests.first { $0.name == name }! }
        // The skip lives until the conv that reads it through the view.
        let skip = request("down_conv.0.second")
        XCTAssertEqual(skip.first, g.index(of: "down_conv.0.second"))
        XCTAssertEqual(skip.last, g.index(of: "up_conv.1.first"))
        XCTAssertEqual(skip.bytes, 2 * 11 * 13 * 4)
        XCTAssertEqual(request("down_conv.1.second").last, g.index(of: "up_conv.0.first"))
        XCTAssertEqual(request("up_sample.1.up").last, g.index(of: "up_conv.1.first"))
        XCTAssertEqual(request("middle_conv.first").last, g.index(of: "middle_conv.second"))
        // Scratch is live at its own step only.
        let withScratch = MemoryPlanner.requests(for: g) { $0 == 1 ? 4096 : 0 }
        XCTAssertEqual(withScratch.count, requests.count + 1)
        XCTAssertEqual(withScratch.first { $0.name == "down_conv.0.first.scratch" },
                       BufferRequest(name: "down_conv.0.first.scratch", bytes: 4096, first: 1, last: 1))
        assertValid(MemoryPlanner.plan(withScratch))
    }

    func testClassicModelAt256IsBelowTheNaiveSum() throws {
        let g = try Pipeline.run(try UNetConfig.classic.build(batch: 1, height: 256, width: 256))
        let plan = MemoryPlanner.plan(MemoryPlanner.requests(for: g))
        assertValid(plan)
        XCTAssertLessThan(plan.arenaBytes, plan.naiveBytes)
        // Reuse is substantial: the arena is under half of the naive sum.
        XCTAssertLessThan(plan.arenaBytes * 2, plan.naiveBytes)
        // The largest map (64 x 256 x 256 floats, 16 MiB) plus the level-0 skip must fit at once.
        XCTAssertGreaterThanOrEqual(plan.lowerBound, 2 * 64 * 256 * 256 * 4)
        // Without the passes the naive sum is larger still.
        let plainPlan = MemoryPlanner.plan(MemoryPlanner.requests(for: try UNetConfig.classic.build(batch: 1, height: 256, width: 256)))
        assertValid(plainPlan)
        XCTAssertLessThan(plan.naiveBytes, plainPlan.naiveBytes)
        XCTAssertLessThanOrEqual(plan.lowerBound, plainPlan.lowerBound)
    }

    func testGeneratedProgramsPlanScratchAndOutputs() throws {
        for f in try Fixture.all() {
            let program = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width)
            let plan = program.plan
            assertValid(plan)
            let scratch = plan.buffers.filter { $0.name.hasSuffix(".scratch") }
            let tiled = program.graph.nodes.filter { $0.op.hasWeights }
            XCTAssertEqual(scratch.count, tiled.count, f.name)
            XCTAssertTrue(scratch.allSatisfy { $0.first == $0.last && $0.bytes > 0 }, f.name)
            XCTAssertEqual(Set(program.tilings.keys), Set(tiled.map(\.name)), f.name)
        }
    }

    // MARK: Reports

    func testReportAndJSON() throws {
        let plan = MemoryPlanner.plan([BufferRequest(name: "A", bytes: 100, first: 0, last: 1),
                                       BufferRequest(name: "B", bytes: 64, first: 1, last: 2),
                                       BufferRequest(name: "C", bytes: 128, first: 2, last: 3)])
        let text = plan.report()
        XCTAssertTrue(text.contains("planned arena"))
        XCTAssertTrue(text.contains("             192 bytes"))
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 1 + 3 + 3)
        XCTAssertTrue(lines[1].hasPrefix("A "))
        let json = try JSONSerialization.jsonObject(with: Data(plan.json().utf8)) as! [String: Any]
        XCTAssertEqual(json["arena_bytes"] as? Int, 192)
        XCTAssertEqual(json["lower_bound_bytes"] as? Int, 192)
        XCTAssertEqual(json["naive_bytes"] as? Int, 320)
        let rows = json["buffers"] as! [[String: Any]]
        XCTAssertEqual(rows.map { $0["name"] as? String }, ["A", "B", "C"])
        XCTAssertEqual(rows.map { $0["offset"] as? Int }, [0, 128, 0])
    }
}
