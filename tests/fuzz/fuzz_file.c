/* libFuzzer target: the input is a whole .recur file (an LZ4 frame holding
 * a protobuf Model). Most mutations stop at the frame's checksums, so this
 * target works the frame decoder; fuzz_proto.c reaches past it.
 * Build and run: make fuzz (tests/fuzz/README.md). */
#include <stddef.h>
#include <stdint.h>

#include "exercise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    recur_load_options options = fuzz_options();
    recur_model *m = NULL;
    if (recur_model_load_memory_ex(data, size, &options, &m) == RECUR_OK) fuzz_exercise(m, data, size);
    else FUZZ_CHECK(m == NULL && recur_last_error()[0] != '\0', "a refused load leaves no model and says why");
    return 0;
}
