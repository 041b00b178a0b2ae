/* Malformed model files through the C API. Each load must return a non-OK
 * status with a detail message, must not crash, and must leave no memory
 * behind (allocated blocks minus freed blocks unchanged across the call).
 *
 *   test_bad_files BAD_DIR [good.recur ...]
 *
 * BAD_DIR/expected.txt lists crafted files (tests/fixtures/bad/generate.py)
 * with the status each must get and a word its message must contain. For
 * each good model: truncation at every 1/64 of its length, single-bit flips
 * at 300 positions, a wrong magic number, garbage bytes and trailing bytes. */
#include "alloc_counter.h"
#include "check.h"

#include <stdint.h>
#include <string.h>

#include <recur.h>

/* Generated from include/recur.h by the Makefile (out/gen). */
static const char *status_names[] = {
#include "status_names.h"
};

/* Loads `data` twice (the first call warms up one-time runtime caches) and
 * checks the second call fails cleanly without leaking. */
static recur_status refuse(const unsigned char *data, size_t size, const char *what) {
    recur_model *m = NULL;
    recur_status first = recur_model_load_memory(data, size, &m);
    recur_model_free(m);
    m = (recur_model *)1;
    long live = alloc_live;
    recur_status st = recur_model_load_memory(data, size, &m);
    long leaked = alloc_live - live;
    CHECK(st != RECUR_OK, "%s: accepted", what);
    CHECK(st == first, "%s: status changed between two loads (%d, %d)", what, first, st);
    CHECK(m == NULL, "%s: *out not NULL after failure", what);
    CHECK(leaked == 0, "%s: %ld blocks leaked", what, leaked);
    CHECK(recur_last_error()[0] != '\0', "%s: no detail message", what);
    if (st == RECUR_OK) recur_model_free(m);
    return st;
}

static void crafted(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/expected.txt", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    char line[512];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char file[256], status[64], word[256];
        if (sscanf(line, "%255s %63s %255[^\n]", file, status, word) != 3) continue;
        snprintf(path, sizeof path, "%s/%s", dir, file);
        size_t size = 0;
        unsigned char *data = read_all(path, &size);
        CHECK(data != NULL, "cannot read %s", path);
        if (!data) continue;
        recur_status st = refuse(data, size, file);
        const char *name = (unsigned)st < sizeof status_names / sizeof *status_names ? status_names[st] : "?";
        CHECK(strcmp(name, status) == 0, "%s: got %s, expected %s (%s)", file, name, status, recur_last_error());
        CHECK(strstr(recur_last_error(), word) != NULL, "%s: detail '%s' lacks '%s'", file, recur_last_error(), word);
        /* The same through the file path. */
        recur_model *m = NULL;
        CHECK(recur_model_load_file(path, &m) == st && m == NULL, "%s: load_file disagrees", file);
        free(data);
        cases++;
    }
    fclose(f);
    CHECK(cases >= 20, "only %d crafted cases in %s", cases, dir);
}

static void mutations(const char *path) {
    size_t size = 0;
    unsigned char *good = read_all(path, &size);
    CHECK(good != NULL && size > 64, "cannot read %s", path);
    if (!good) return;
    recur_model *m = NULL;
    CHECK(recur_model_load_memory(good, size, &m) == RECUR_OK, "%s: good file refused: %s", path, recur_last_error());
    recur_model_free(m);

    unsigned char *copy = malloc(size + 16);
    char what[256];
    for (int k = 0; k < 64; k++) {
        size_t cut = size * (size_t)k / 64;
        snprintf(what, sizeof what, "%s truncated to %zu of %zu bytes", path, cut, size);
        memcpy(copy, good, cut);
        refuse(copy, cut, what);
    }
    uint32_t seed = 2463534242u;
    for (int k = 0; k < 300; k++) {
        /* Positions spread over the whole file, header included. */
        size_t pos = (size_t)k * size / 300 + (seed % (size / 300 + 1));
        if (pos >= size) pos = size - 1;
        seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
        int bit = (int)(seed % 8);
        memcpy(copy, good, size);
        copy[pos] ^= (unsigned char)(1u << bit);
        snprintf(what, sizeof what, "%s with bit %d of byte %zu flipped", path, bit, pos);
        refuse(copy, size, what);
    }
    memcpy(copy, good, size);
    copy[0] ^= 0xFF;
    snprintf(what, sizeof what, "%s with a wrong magic number", path);
    CHECK(refuse(copy, size, what) == RECUR_ERROR_BAD_FRAME, "%s", what);
    for (size_t i = 0; i < size; i++) { seed = seed * 1103515245u + 12345u; copy[i] = (unsigned char)(seed >> 16); }
    snprintf(what, sizeof what, "%s replaced by garbage", path);
    refuse(copy, size, what);
    memcpy(copy, good, size);
    memset(copy + size, 0, 16);
    snprintf(what, sizeof what, "%s with 16 trailing bytes", path);
    refuse(copy, size + 16, what);
    free(copy);
    free(good);
}

int main(int argc, char **argv) {
    CHECK(argc >= 2, "usage: test_bad_files BAD_DIR [good.recur ...]");
    if (argc >= 2) crafted(argv[1]);
    for (int i = 2; i < argc; i++) mutations(argv[i]);
    recur_model *m = NULL;
    CHECK(recur_model_load_file("/nonexistent.recur", &m) == RECUR_ERROR_IO, "missing path");
    return check_summary("test_bad_files");
}
