// The C API's promises: errors for bad arguments, and concurrent calls with separate
// workspaces giving the same result as one call.

import Foundation
import XCTest
@testable import UNetC

final class CAPITests: XCTestCase {
    static let harness = """
    #include <pthread.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include "unet.h"

    #define IN_COUNT ((size_t)UNET_BATCH * UNET_IN_CHANNELS * UNET_IN_HEIGHT * UNET_IN_WIDTH)
    #define OUT_COUNT ((size_t)UNET_BATCH * UNET_OUT_CHANNELS * UNET_OUT_HEIGHT * UNET_OUT_WIDTH)
    #define THREADS 4

    static float input[IN_COUNT];
    static float outputs[THREADS][OUT_COUNT];
    static float reference[OUT_COUNT];

    static void *work(void *arg)
    {
        size_t i = (size_t)arg;
        void *ws = NULL;
        int k;
        if (posix_memalign(&ws, 64, UNET_WORKSPACE_BYTES) != 0) return (void *)1;
        for (k = 0; k < 3; k++)
            if (unet_run(input, outputs[i], ws) != 0) return (void *)2;
        free(ws);
        return NULL;
    }

    int main(void)
    {
        pthread_t t[THREADS];
        size_t i;
        static unsigned char misaligned[UNET_WORKSPACE_BYTES + 64] __attribute__((aligned(64)));
        for (i = 0; i < IN_COUNT; i++) input[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
        if (unet_run(NULL, reference, NULL) != 1) { puts("NULL input accepted"); return 1; }
        if (unet_run(input, NULL, NULL) != 1) { puts("NULL output accepted"); return 1; }
        if (unet_run(input, reference, misaligned + 4) != 2) { puts("misaligned workspace accepted"); return 1; }
        if (unet_run(input, reference, NULL) != 0) { puts("static arena run failed"); return 1; }
        for (i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, work, (void *)i);
        for (i = 0; i < THREADS; i++) {
            void *r;
            pthread_join(t[i], &r);
            if (r != NULL) { puts("thread failed"); return 1; }
            if (memcmp(outputs[i], reference, sizeof reference) != 0) { printf("thread %zu differs\\n", i); return 1; }
        }
        puts("ok");
        return 0;
    }
    """

    func testArgumentErrorsAndConcurrentCalls() throws {
        let cc = try TestToolchain.compiler()
        let f = try Fixture.load("odd")
        let program = try Generator.generate(f.weights, batch: f.batch, height: f.height, width: f.width)
        let dir = try makeTemporaryDirectory(self)
        try program.write(to: dir)
        try Array(Self.harness.utf8).write(to: dir + "/main.c")
        try Toolchain.compile(cc: cc, flags: ["-O2", "-fopenmp", "-pthread", "-fsanitize=thread"],
                              sources: [dir + "/main.c", dir + "/unet.c"], output: dir + "/api", include: dir)
        // ThreadSanitizer does not understand libomp's own synchronisation: one OpenMP thread.
        let result = try Toolchain.run(dir + "/api", [], environment: ["OMP_NUM_THREADS": "1"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("ok"), result.output)
    }
}
