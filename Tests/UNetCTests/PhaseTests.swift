// UNET_PHASE: every thread marks the phases of each direct conv's bands in order (start, then
// pack, wait, compute, wait per band), so a harness can time them (bench/layers.c does).

import Foundation
import XCTest
@testable import UNetC

final class PhaseTests: XCTestCase {
    static let harness = """
    #include <omp.h>
    #include <stdio.h>
    #include <string.h>

    /* Per thread and layer: the next phase expected (0 start, then pack, wait, compute, wait)
     * and the bands computed. */
    #define LAYERS 64
    #define THREADS 8
    static const char *layers[LAYERS];
    static int next[THREADS][LAYERS], bands[THREADS][LAYERS], errors;
    static const char *expected[] = {"start", "pack", "wait", "compute", "wait"};

    static void phase(const char *layer, const char *name)
    {
        int t = omp_get_thread_num(), i, want;
        #pragma omp critical
        {
            for (i = 0; i < LAYERS && layers[i] != NULL && strcmp(layers[i], layer) != 0; i++) {}
            if (i < LAYERS && layers[i] == NULL) layers[i] = layer;
        }
        if (i == LAYERS || t >= THREADS) { errors++; return; }
        want = next[t][i];
        if (strcmp(name, expected[want]) != 0) {
            printf("thread %d, %s: %s where %s was due\\n", t, layer, name, expected[want]);
            errors++;
        }
        if (want == 3) bands[t][i]++;
        next[t][i] = want == 4 ? 1 : want + 1;
    }

    #define UNET_PHASE(layer, name) phase(layer, name)
    #include "unet.c"

    static float input[(size_t)UNET_BATCH * UNET_IN_CHANNELS * UNET_IN_HEIGHT * UNET_IN_WIDTH];
    static float output[(size_t)UNET_BATCH * UNET_OUT_CHANNELS * UNET_OUT_HEIGHT * UNET_OUT_WIDTH];

    int main(void)
    {
        int i, t;
        if (unet_run(input, output, NULL) != 0) return 1;
        for (i = 0; i < LAYERS && layers[i] != NULL; i++) {
            printf("%s", layers[i]);
            for (t = 0; t < omp_get_max_threads() && t < THREADS; t++) {
                if (next[t][i] != 1) { printf(" (thread %d stopped mid-band)", t); errors++; }
                printf(" %d", bands[t][i]);
            }
            printf("\\n");
        }
        return errors != 0;
    }
    """

    func testEveryThreadMarksEveryBandOfEveryDirectConv() throws {
        try check("odd", tiling: [:])
    }

    /// Tiles one row high and bands of 5 rows: the 64-row maps of "small" have rows of tiles
    /// enough for each thread to take rows of its own, in bands the last of which is cut short.
    func testEveryThreadMarksTheBandsOfItsOwnRows() throws {
        let graph = try Pipeline.run(try Fixture.load("small").graph())
        var tiling: [String: LayerTiling] = [:]
        for node in graph.nodes {
            if case .conv(3, _, _) = node.op { tiling[node.name] = LayerTiling(r: 4, nv: 1, rb: 5, nr: 1) }
        }
        try check("small", tiling: tiling)
    }

    func check(_ fixture: String, tiling: [String: LayerTiling]) throws {
        let cc = try TestToolchain.compiler()
        let f = try Fixture.load(fixture)
        var options = GeneratorOptions()
        options.algorithm = .direct
        options.tiling = tiling
        let program = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width, options: options)
        let dir = try makeTemporaryDirectory(self)
        try program.write(to: dir)
        try Array(Self.harness.utf8).write(to: dir + "/main.c")
        try Toolchain.compile(cc: cc, flags: ["-O1", "-fopenmp"], sources: [dir + "/main.c"], output: dir + "/phases", include: dir)
        let result = try Toolchain.run(dir + "/phases", [], environment: ["OMP_NUM_THREADS": "2"])
        XCTAssertEqual(result.status, 0, result.output)

        // Each conv, with each of the 2 threads' band count: batch x ceil(height / rb) where the
        // threads share every band. Where they claim bands of rows of their own (unet_claim),
        // which thread takes which depends on their speed: the two counts add up to the claims.
        var expected: [String] = [], own = 0
        let lines = result.output.split(separator: "\n").map(String.init)
        for node in program.graph.nodes {
            guard case .conv = node.op, let t = program.tilings[node.name] else { continue }
            let h = node.shape.h, bands = node.shape.n * ((h + t.rb - 1) / t.rb)
            if Tiling.threadRows(node, in: program.graph, t, threads: 2) {
                let groups = (h + t.nr - 1) / t.nr
                let claims = Self.claims(perImage: groups, images: node.shape.n, most: max(1, t.rb / t.nr), threads: 2)
                XCTAssertGreaterThan(claims.count, node.shape.n * ((h + t.rb - 1) / t.rb), node.name)
                XCTAssertEqual(claims.reduce(0, +), node.shape.n * groups, node.name)
                // The line as printed when the sum is right.
                let counts = lines.first { $0.hasPrefix(node.name + " ") }?.split(separator: " ").dropFirst().compactMap { Int($0) } ?? []
                XCTAssertEqual(counts.count, 2, node.name)
                XCTAssertEqual(counts.reduce(0, +), claims.count, node.name)
                expected.append("\(node.name) " + counts.map(String.init).joined(separator: " "))
                own += 1
            } else {
                expected.append("\(node.name) \(bands) \(bands)")
            }
        }
        XCTAssertGreaterThan(expected.count, 4)
        XCTAssertEqual(own > 0, !tiling.isEmpty)
        XCTAssertEqual(lines, expected)
    }

    /// The rows of tiles each claim takes, in order, as unet_claim hands them out: up to `most`
    /// in one image, at least one, and no more than 1 / (2 threads) of those left.
    static func claims(perImage: Int, images: Int, most: Int, threads: Int) -> [Int] {
        var first = 0, sizes: [Int] = []
        let total = perImage * images
        while first < total {
            let n = min((total - first + 2 * threads - 1) / (2 * threads), most, perImage - first % perImage)
            sizes.append(n)
            first += n
        }
        return sizes
    }
}
