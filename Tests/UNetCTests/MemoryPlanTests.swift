// The memory planner: no two live buffers share a byte, offsets are aligned, the arena is
// between the lower bound and the naive sum, and the requests follow the graph's lifetimes.
// `plan` reaches the lower bound on real and U-Net-like schedules where the greedy-by-size
// baseline fragments, and is never worse than it.

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
        var clash: String? = nil
        for i in b.indices {
            XCTAssertEqual(plan.offsets[i] % MemoryPlanner.alignment, 0, "\(b[i].name) offset \(plan.offsets[i])", file: file, line: line)
            XCTAssertGreaterThanOrEqual(plan.offsets[i], 0, file: file, line: line)
            XCTAssertLessThanOrEqual(plan.offsets[i] + b[i].bytes, plan.arenaBytes, b[i].name, file: file, line: line)
            for j in b.indices where j > i && b[i].first <= b[j].last && b[j].first <= b[i].last {
                let disjoint = plan.offsets[i] + aligned(b[i].bytes) <= plan.offsets[j]
                    || plan.offsets[j] + aligned(b[j].bytes) <= plan.offsets[i]
                if !disjoint && clash == nil { clash = "\(b[i].name) and \(b[j].name) overlap" }
            }
        }
        XCTAssertNil(clash, file: file, line: line)
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
            XCTAssertEqual(MemoryPlanner.lowerBound(buffers), bruteForceLowerBound(buffers), "seed \(seed)")
            let greedy = MemoryPlanner.greedyBySize(buffers)
            let plan = MemoryPlanner.plan(buffers)
            for p in [greedy, plan] {
                XCTAssertEqual(p.buffers, buffers, "the plan keeps the request order")
                assertValid(p)
                for (i, b) in buffers.enumerated() { XCTAssertEqual(p.offset(of: b.name), p.offsets[i]) }
            }
            XCTAssertEqual(greedy.strategy, "greedy-by-size")
            XCTAssertLessThanOrEqual(plan.arenaBytes, greedy.arenaBytes, "seed \(seed): never worse than the baseline")
            // Deterministic: the same requests give the same plan.
            if seed <= 10 {
                XCTAssertEqual(MemoryPlanner.plan(buffers), plan)
                XCTAssertEqual(MemoryPlanner.greedyBySize(buffers), greedy)
            }
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
        let plan = MemoryPlanner.greedyBySize(buffers)
        assertValid(plan)
        XCTAssertEqual(plan.offsets, [0, 0, 768, 0, 512, 640])
        XCTAssertEqual(plan.offset(of: "N"), 640)
        XCTAssertEqual(plan.lowerBound, 1024)
        XCTAssertEqual(plan.arenaBytes, 1024)
        XCTAssertEqual(MemoryPlanner.plan(buffers), plan, "the baseline's plan when it reaches the bound")
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

    // MARK: Against greedy by size

    func testGreedyBySizeFragmentsWherePlanDoesNot() {
        // At most 192 bytes live at once (steps 0 and 2). Greedy by size puts A and B, the large
        // ones, both at 0; C (over A) goes to 128 and D, live with C and B, above both at 192.
        let buffers = [BufferRequest(name: "A", bytes: 128, first: 0, last: 0),
                       BufferRequest(name: "B", bytes: 128, first: 2, last: 3),
                       BufferRequest(name: "C", bytes: 64, first: 0, last: 1),
                       BufferRequest(name: "D", bytes: 64, first: 1, last: 2)]
        let greedy = MemoryPlanner.greedyBySize(buffers)
        assertValid(greedy)
        XCTAssertEqual(greedy.offsets, [0, 0, 128, 192])
        XCTAssertEqual(greedy.arenaBytes, 256)
        XCTAssertEqual(greedy.lowerBound, 192)
        let plan = MemoryPlanner.plan(buffers)
        assertValid(plan)
        XCTAssertEqual(plan.arenaBytes, 192)
        XCTAssertEqual(plan.lowerBound, 192)
        XCTAssertNotEqual(plan.strategy, "greedy-by-size")
        // C under A at step 0, D over B at step 2, and C and D apart at step 1.
        XCTAssertEqual(plan.offsets, [64, 0, 0, 128])
    }

    /// The requests `unetc inspect --memory --json` printed for two models (names b0, b1, ...).
    func requests(_ list: [(bytes: Int, first: Int, last: Int)]) -> [BufferRequest] {
        list.enumerated().map { BufferRequest(name: "b\($0.offset)", bytes: $0.element.bytes, first: $0.element.first, last: $0.element.last) }
    }

    /// The `small` test model (8 channels, 3 levels) at 96x96, `--algorithm direct`: greedy by size is 24% over.
    let small96Direct = [
        (38416, 1, 1), (294912, 1, 2), (307328, 2, 2), (294912, 2, 22), (73728, 3, 4), (80000, 4, 4),
        (147456, 4, 5), (160000, 5, 5), (147456, 5, 18), (36864, 6, 7), (56576, 7, 7), (73728, 7, 8),
        (113152, 8, 8), (73728, 8, 14), (18432, 9, 10), (32256, 10, 10), (36864, 10, 11), (64512, 11, 11),
        (36864, 11, 12), (49152, 12, 12), (73728, 12, 14), (226304, 14, 14), (73728, 14, 15), (113152, 15, 15),
        (73728, 15, 16), (98304, 16, 16), (147456, 16, 18), (320000, 18, 18), (147456, 18, 19), (160000, 19, 19),
        (147456, 19, 20), (147456, 20, 20), (294912, 20, 22), (313600, 22, 22), (294912, 22, 23), (307328, 23, 23),
        (294912, 23, 24), (393216, 24, 24)]

    /// The classic model at 128x128 with the default algorithms: greedy by size is 1.4% over.
    let classic128Auto = [
        (204360, 1, 1), (4194304, 1, 2), (1350656, 2, 2), (4194304, 2, 29), (1048576, 3, 4), (1754112, 4, 4),
        (2097152, 4, 5), (3508224, 5, 5), (2097152, 5, 25), (524288, 6, 7), (2689024, 7, 7), (1048576, 7, 8),
        (5378048, 8, 8), (1048576, 8, 21), (262144, 9, 10), (1380352, 10, 10), (524288, 10, 11), (2760704, 11, 11),
        (524288, 11, 17), (131072, 12, 13), (729088, 13, 13), (262144, 13, 14), (1458176, 14, 14),
        (262144, 14, 15), (262144, 15, 15), (524288, 15, 17), (5521408, 17, 17), (524288, 17, 18),
        (2760704, 18, 18), (524288, 18, 19), (262144, 19, 19), (1048576, 19, 21), (5447680, 21, 21),
        (1048576, 21, 22), (5378048, 22, 22), (1048576, 22, 23), (262144, 23, 23), (2097152, 23, 25),
        (5296128, 25, 25), (2097152, 25, 26), (3508224, 26, 26), (2097152, 26, 27), (262144, 27, 27),
        (4194304, 27, 29), (1845248, 29, 29), (4194304, 29, 30), (1350656, 30, 30), (4194304, 30, 31),
        (524288, 31, 31)]

    func testRealSchedulesReachTheBound() {
        for (list, bound, greedyBytes) in [(small96Direct, 1_198_336, 1_486_976), (classic128Auto, 15_781_888, 16_007_168)] {
            let buffers = requests(list)
            let greedy = MemoryPlanner.greedyBySize(buffers), plan = MemoryPlanner.plan(buffers)
            assertValid(greedy)
            assertValid(plan)
            XCTAssertEqual(greedy.lowerBound, bound)
            XCTAssertEqual(greedy.arenaBytes, greedyBytes)
            XCTAssertEqual(plan.arenaBytes, bound)
        }
    }

    /// A U-Net-like schedule, one layer per step: each map is read by the next step, the last map
    /// of each level on the way down also by that level's first conv on the way up, and each conv
    /// has up to 3 scratch buffers of its own step. `structured`: a map of level l holds
    /// base * 2^l channels of (side / 2^l)^2 floats; otherwise every size is random.
    func unetSchedule(seed: UInt64, structured: Bool) -> [BufferRequest] {
        var rng = SplitMix64(seed: seed)
        func random(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        let depth = 2 + random(3), side = 32 << random(3), base = 4 << random(3), convs = 1 + random(2)
        func bytes(_ level: Int) -> Int {
            structured ? 4 * (base << level) * (side >> level) * (side >> level) : 1 + random(1 << 18)
        }
        var layers: [(level: Int, conv: Bool)] = []             // in step order
        var skips: [Int] = [], skipReader: [Int: Int] = [:]     // steps writing skips, and their readers
        for level in 0..<depth {
            layers += Array(repeating: (level, true), count: convs)
            skips.append(layers.count - 1)
            layers.append((level + 1, false))                   // pool
        }
        layers += Array(repeating: (depth, true), count: convs)
        for level in (0..<depth).reversed() {
            layers.append((level, false))                       // upsample
            skipReader[skips[level]] = layers.count             // the next conv reads the skip too
            layers += Array(repeating: (level, true), count: convs)
        }
        var out: [BufferRequest] = []
        for (step, layer) in layers.enumerated() {
            for _ in 0..<(layer.conv ? random(4) : 0) {
                out.append(BufferRequest(name: "s\(out.count)", bytes: bytes(layer.level) / (1 + random(4)), first: step, last: step))
            }
            out.append(BufferRequest(name: "m\(step)", bytes: bytes(layer.level), first: step, last: skipReader[step] ?? step + 1))
        }
        return out
    }

    func testUNetLikeSchedulesReachTheBound() {
        var greedyFragments = 0, searched = 0
        for structured in [true, false] {
            for seed in UInt64(1)...100 {
                let buffers = unetSchedule(seed: seed, structured: structured)
                let plan = MemoryPlanner.plan(buffers), greedy = MemoryPlanner.greedyBySize(buffers)
                assertValid(plan)
                XCTAssertEqual(plan.arenaBytes, plan.lowerBound, "seed \(seed), structured: \(structured)")
                if greedy.arenaBytes > greedy.lowerBound { greedyFragments += 1 }
                if plan.strategy == "search" { searched += 1 }
            }
        }
        XCTAssertEqual(greedyFragments, 4 + 56, "greedy by size is over the bound on 4 structured and 56 random-size schedules")
        XCTAssertGreaterThan(searched, 0, "on some, no order reaches the bound but the search does")
    }

    func testSearchAloneReachesTheBound() {
        // The search, without the orders before it, on the real schedules: its first way down
        // (which costs 1 + 2 + ... + n) reaches the bound.
        for buffers in [requests(small96Direct), requests(classic128Auto)] {
            let bound = MemoryPlanner.lowerBound(buffers)
            let offsets = MemoryPlanner.search(buffers, bound: bound, budget: buffers.count * (buffers.count + 1) / 2)
            XCTAssertNotNil(offsets)
            let plan = MemoryPlan(buffers: buffers, offsets: offsets ?? [], arenaBytes: bound, lowerBound: bound,
                                  naiveBytes: buffers.reduce(0) { $0 + aligned($1.bytes) }, strategy: "search")
            if offsets != nil { assertValid(plan) }
        }
        // Below the bound it finds nothing.
        XCTAssertNil(MemoryPlanner.search(requests(small96Direct), bound: 1_198_336 - 64, budget: 1000))
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
        XCTAssertEqual(plan.arenaBytes, plan.lowerBound)
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
            XCTAssertEqual(plan.arenaBytes, plan.lowerBound, "\(f.name): the arena is the most bytes live at once")
            let scratch = plan.buffers.filter { $0.name.hasSuffix(".scratch") }
            let tiled = program.graph.nodes.filter { $0.op.hasWeights }
            // Every layer with weights has a scratch but the 1x1 convs that read their input
            // in place (the final conv, where its tiles divide its rows).
            let without = Set(tiled.map(\.name)).subtracting(scratch.map { String($0.name.dropLast(".scratch".count)) })
            XCTAssertTrue(tiled.allSatisfy { node in
                if case .conv(1, _, _) = node.op { return true }
                return !without.contains(node.name)
            }, "\(f.name): \(without.sorted())")
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
        XCTAssertEqual(lines.count, 1 + 3 + 4)
        XCTAssertTrue(lines[1].hasPrefix("A "))
        XCTAssertEqual(lines.last, "strategy                   greedy-by-size")
        let json = try JSONSerialization.jsonObject(with: Data(plan.json().utf8)) as! [String: Any]
        XCTAssertEqual(json["arena_bytes"] as? Int, 192)
        XCTAssertEqual(json["lower_bound_bytes"] as? Int, 192)
        XCTAssertEqual(json["naive_bytes"] as? Int, 320)
        XCTAssertEqual(json["strategy"] as? String, "greedy-by-size")
        let rows = json["buffers"] as! [[String: Any]]
        XCTAssertEqual(rows.map { $0["name"] as? String }, ["A", "B", "C"])
        XCTAssertEqual(rows.map { $0["offset"] as? Int }, [0, 128, 0])
    }
}
