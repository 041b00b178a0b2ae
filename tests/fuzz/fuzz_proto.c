/* libFuzzer target: the input is the protobuf content of a .recur file,
 * which the harness wraps in a valid LZ4 frame with a fresh content
 * checksum, so that every mutation reaches the protobuf decoder and the
 * model's validation. The frame's options (block checksums, linked or
 * independent blocks, compression level) follow the input's size, so the
 * frame decoder sees valid frames of every kind too.
 * Build and run: make fuzz (tests/fuzz/README.md). */
#include <stddef.h>
#include <stdint.h>

#include <lz4frame.h>
#include <lz4hc.h>

#include "exercise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.contentSize = size;
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockChecksumFlag = (size & 1) ? LZ4F_blockChecksumEnabled : LZ4F_noBlockChecksum;
    prefs.frameInfo.blockMode = (size & 2) ? LZ4F_blockIndependent : LZ4F_blockLinked;
    prefs.compressionLevel = (size & 4) ? LZ4HC_CLEVEL_MIN : 0;
    size_t bound = LZ4F_compressFrameBound(size, &prefs);
    void *frame = malloc(bound);
    FUZZ_CHECK(frame != NULL, "frame memory");
    size_t framed = LZ4F_compressFrame(frame, bound, data, size, &prefs);
    FUZZ_CHECK(!LZ4F_isError(framed), "LZ4F_compressFrame");

    recur_load_options options = fuzz_options();
    recur_model *m = NULL;
    recur_status st = recur_model_load_memory_ex(frame, framed, &options, &m);
    free(frame);
    if (st == RECUR_OK) fuzz_exercise(m, data, size);
    else FUZZ_CHECK(m == NULL && recur_last_error()[0] != '\0', "a refused load leaves no model and says why");
    /* A valid frame never fails as a frame; content of 0 bytes is refused as such. */
    FUZZ_CHECK(st != RECUR_ERROR_BAD_FRAME || size == 0, "a valid LZ4 frame is refused as a frame");
    return 0;
}
