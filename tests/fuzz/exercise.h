/* What the fuzz targets do with bytes: load them under tight limits and,
 * when they load, use the model through every stepping call with fixed
 * inputs (extremes and a NaN among them), checking what must hold for any
 * model whatever its weights:
 *  - a stream the library allocates and one in caller memory, fed the same
 *    calls, give bit-identical outputs and state (uninitialised or shared
 *    memory would show here);
 *  - a call that suits the model succeeds; one that does not gets the
 *    status recur.h promises (UNSUPPORTED, OUT_OF_RANGE, BUFFER_TOO_SMALL);
 *  - state copied out of one stream and into the other makes them step alike;
 *  - reset gives back the state creation gave;
 *  - the layer records chain from the model's input to its output;
 *  - a snapshot of one stream restored into the other makes them agree; a
 *    damaged snapshot, and the fuzz input itself taken as a snapshot, are
 *    refused and leave the stream as it was;
 *  - attention layers get the same memory rows in both streams (after
 *    creation and after every reset).
 * A broken promise aborts, which libFuzzer reports as a crash. */
#ifndef RECUR_FUZZ_EXERCISE_H
#define RECUR_FUZZ_EXERCISE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <recur.h>

/* Limits that keep any file well inside libFuzzer's memory limit (1 GiB
 * here) and time limit (1 s per input, with ASan). */
static recur_load_options fuzz_options(void) {
    recur_load_options o = recur_load_options_default();
    o.max_file_bytes = 1 << 20;
    o.max_content_bytes = 4 << 20;
    o.max_model_bytes = 8 << 20;
    o.max_stream_bytes = 1 << 20;
    o.max_layers = 64;
    o.max_dimension = 1 << 16;
    return o;
}

#define FUZZ_STEPS 3
#define FUZZ_CHECK(cond, what) do { \
    if (!(cond)) { fprintf(stderr, "fuzz invariant broken: %s (%s; last error: %s)\n", what, #cond, \
                           recur_last_error()); abort(); } \
} while (0)

/* Fixed inputs: ordinary values, the extremes of float, a NaN. */
static float fuzz_input(size_t i) {
    switch (i % 11) {
    case 3: return 1e30f;
    case 5: return -3.4e38f;
    case 7: return i % 2 ? NAN : INFINITY;
    case 9: return 1e-40f;  /* subnormal */
    default: return sinf((float)i * 0.7f) * 2.0f;
    }
}

static int fuzz_same(const float *a, const float *b, size_t n) { return n == 0 || memcmp(a, b, n * sizeof *a) == 0; }

#define FUZZ_ROWS 3

/* Gives every attention layer of the stream FUZZ_ROWS rows of the fixed
 * inputs (extremes and NaNs among them); returns the floats set. */
static size_t fuzz_give_memory(const recur_model *m, recur_stream *s) {
    size_t total = 0;
    for (size_t l = 0; l < recur_model_layer_count(m); l++) {
        recur_layer_info info = {.struct_size = sizeof info};
        FUZZ_CHECK(recur_model_layer_info(m, l, &info) == RECUR_OK, "recur_model_layer_info");
        if (info.kind != RECUR_LAYER_ATTENTION) continue;
        size_t w = info.memory_size;
        float *rows = malloc(FUZZ_ROWS * w * sizeof *rows);
        FUZZ_CHECK(rows != NULL, "test memory");
        for (size_t i = 0; i < FUZZ_ROWS * w; i++) rows[i] = fuzz_input(i + l);
        FUZZ_CHECK(recur_stream_reserve_memory(s, FUZZ_ROWS) == RECUR_OK, "recur_stream_reserve_memory");
        FUZZ_CHECK(recur_stream_set_memory(s, l, rows, FUZZ_ROWS, w) == RECUR_OK, "set_memory within the room");
        free(rows);
        total += FUZZ_ROWS * w;
    }
    return total;
}

/* Compares the two streams' state, layer by layer. */
static void fuzz_same_state(const recur_model *m, recur_stream *a, recur_stream *b, float *s1, float *s2, size_t cap) {
    size_t layers = recur_model_layer_count(m);
    for (size_t l = 0; l < layers; l++) {
        size_t h = 0, c = 0;
        FUZZ_CHECK(recur_model_state_size(m, l, &h, &c) == RECUR_OK, "state size of a layer that exists");
        FUZZ_CHECK(h + c <= cap, "state fits the stream's size");
        FUZZ_CHECK(recur_stream_get_state(a, l, s1, h, s1 + h, c) == RECUR_OK, "get_state");
        FUZZ_CHECK(recur_stream_get_state(b, l, s2, h, s2 + h, c) == RECUR_OK, "get_state");
        FUZZ_CHECK(fuzz_same(s1, s2, h + c), "two streams fed alike hold the same state");
    }
    size_t h, c;
    FUZZ_CHECK(recur_model_state_size(m, layers, &h, &c) == RECUR_ERROR_OUT_OF_RANGE, "state size past the last layer");
}

/* Copies every layer's state from `from` into `to`, and back into `from`:
 * a cell that runs backwards starts its runs from what set_state gave it,
 * so both streams must have been given it. */
static void fuzz_copy_state(const recur_model *m, recur_stream *from, recur_stream *to, float *s, size_t cap) {
    for (size_t l = 0; l < recur_model_layer_count(m); l++) {
        size_t h = 0, c = 0;
        recur_model_state_size(m, l, &h, &c);
        FUZZ_CHECK(h + c <= cap, "state fits the stream's size");
        FUZZ_CHECK(recur_stream_get_state(from, l, s, h, s + h, c) == RECUR_OK, "get_state");
        FUZZ_CHECK(recur_stream_set_state(to, l, s, h, s + h, c) == RECUR_OK, "set_state");
        FUZZ_CHECK(recur_stream_set_state(from, l, s, h, s + h, c) == RECUR_OK, "set_state");
    }
}

/* Feeds both streams the same calls and compares outputs and state. */
static void fuzz_steps(const recur_model *m, recur_stream *a, recur_stream *b, float *x, float *y1, float *y2,
                       float *s1, float *s2, size_t cap) {
    size_t in = recur_model_input_size(m), out = recur_model_output_size(m), vocab = recur_model_vocab_size(m);
    recur_status st;
    if (vocab) {
        /* Token models: step tokens (the first, the last, and one too far). */
        int32_t tokens[FUZZ_STEPS] = {0, (int32_t)(vocab - 1), (int32_t)(vocab / 2)};
        st = recur_step_token(a, tokens[1], y1, out);
        FUZZ_CHECK(st == RECUR_OK || st == RECUR_ERROR_UNSUPPORTED, "step_token on a token model");
        if (st == RECUR_OK) {
            FUZZ_CHECK(recur_step_token(b, tokens[1], y2, out) == RECUR_OK, "step_token on the second stream");
            FUZZ_CHECK(fuzz_same(y1, y2, out), "step_token outputs agree");
        }
        FUZZ_CHECK(recur_step_token(a, (int32_t)vocab, y1, out) ==
                   (st == RECUR_OK ? RECUR_ERROR_OUT_OF_RANGE : RECUR_ERROR_UNSUPPORTED), "a token past the vocabulary");
        FUZZ_CHECK(recur_step(a, x, in, y1, out) == RECUR_ERROR_UNSUPPORTED, "recur_step on a token model");
        st = recur_run_tokens(a, FUZZ_STEPS, tokens, FUZZ_STEPS, y1, FUZZ_STEPS * out);
        FUZZ_CHECK(st == RECUR_OK || st == RECUR_ERROR_BUFFER_TOO_SMALL, "run_tokens");
        if (st == RECUR_OK) {
            FUZZ_CHECK(recur_run_tokens(b, FUZZ_STEPS, tokens, FUZZ_STEPS, y2, FUZZ_STEPS * out) == RECUR_OK, "run_tokens");
            FUZZ_CHECK(fuzz_same(y1, y2, FUZZ_STEPS * out), "run_tokens outputs agree");
        }
    } else {
        for (size_t i = 0; i < FUZZ_STEPS * in; i++) x[i] = fuzz_input(i);
        st = recur_step(a, x, in, y1, out);
        FUZZ_CHECK(st == RECUR_OK || st == RECUR_ERROR_UNSUPPORTED, "recur_step on a model of vectors");
        if (st == RECUR_OK) {
            FUZZ_CHECK(recur_step(b, x, in, y2, out) == RECUR_OK, "recur_step on the second stream");
            FUZZ_CHECK(fuzz_same(y1, y2, out), "recur_step outputs agree");
        }
        FUZZ_CHECK(recur_step_token(a, 0, y1, out) == RECUR_ERROR_UNSUPPORTED, "step_token on a model of vectors");
        st = recur_run(a, FUZZ_STEPS, x, FUZZ_STEPS * in, y1, FUZZ_STEPS * out);
        FUZZ_CHECK(st == RECUR_OK || st == RECUR_ERROR_BUFFER_TOO_SMALL, "recur_run");
        if (st == RECUR_OK) {
            FUZZ_CHECK(recur_run(b, FUZZ_STEPS, x, FUZZ_STEPS * in, y2, FUZZ_STEPS * out) == RECUR_OK, "recur_run");
            FUZZ_CHECK(fuzz_same(y1, y2, FUZZ_STEPS * out), "recur_run outputs agree");
        }
    }
    fuzz_same_state(m, a, b, s1, s2, cap);
}

/* Snapshot of `a` restored into `b`; damaged copies and `raw` refused. */
static void fuzz_snapshots(recur_model *m, recur_stream *a, recur_stream *b, const uint8_t *raw, size_t raw_size,
                           float *s1, float *s2, size_t cap) {
    size_t n = 0, again = 0;
    FUZZ_CHECK(recur_stream_snapshot(a, NULL, 0, &n) == RECUR_ERROR_BUFFER_TOO_SMALL, "snapshot size query");
    size_t memory = 0;
    for (size_t l = 0; l < recur_model_layer_count(m); l++) {
        recur_layer_info info = {.struct_size = sizeof info};
        recur_model_layer_info(m, l, &info);
        if (info.kind == RECUR_LAYER_ATTENTION) memory += FUZZ_ROWS * info.memory_size;
    }
    FUZZ_CHECK(n == recur_stream_snapshot_size(m) + 4 * memory, "the stream's snapshot size is the model's and its rows'");
    unsigned char *snap = malloc(n + 1), *before = malloc(n), *after = malloc(n);
    FUZZ_CHECK(snap && before && after, "test memory");
    FUZZ_CHECK(recur_stream_snapshot(a, snap, n, &again) == RECUR_OK && again == n, "recur_stream_snapshot");
    FUZZ_CHECK(recur_stream_snapshot(b, before, n, NULL) == RECUR_OK, "recur_stream_snapshot");
    /* Damage: a flipped bit (where depends on the size), one byte short, the raw input. */
    snap[(n * 7 + 3) % n] ^= 0x10;
    FUZZ_CHECK(recur_stream_restore(b, snap, n) != RECUR_OK, "a flipped bit is refused");
    snap[(n * 7 + 3) % n] ^= 0x10;
    FUZZ_CHECK(recur_stream_restore(b, snap, n - 1) == RECUR_ERROR_BAD_SNAPSHOT, "a truncated snapshot is refused");
    if (recur_stream_restore(b, raw, raw_size) != RECUR_OK) {
        FUZZ_CHECK(recur_stream_snapshot(b, after, n, NULL) == RECUR_OK && memcmp(before, after, n) == 0,
                   "a refused restore leaves the stream unchanged");
    }
    FUZZ_CHECK(recur_stream_restore(b, snap, n) == RECUR_OK, "recur_stream_restore of a fresh snapshot");
    fuzz_same_state(m, a, b, s1, s2, cap);
    free(snap), free(before), free(after);
}

/* What the model says about itself: every layer's record chains from the
 * model's input to its output; every string is readable. */
static void fuzz_inspect(recur_model *m) {
    size_t layers = recur_model_layer_count(m), width = recur_model_input_size(m), total = strlen(recur_model_producer(m));
    for (size_t l = 0; l < layers; l++) {
        recur_layer_info info = {.struct_size = sizeof info};
        FUZZ_CHECK(recur_model_layer_info(m, l, &info) == RECUR_OK && info.name != NULL, "recur_model_layer_info");
        FUZZ_CHECK(info.input_size == (info.kind == RECUR_LAYER_EMBEDDING ? 1 : width), "layers chain");
        FUZZ_CHECK((unsigned)info.kind <= RECUR_LAYER_ATTENTION &&
                   (info.element_type == 1 || info.element_type == 3 || info.element_type == 4), "a known kind and type");
        FUZZ_CHECK(info.kind != RECUR_LAYER_ATTENTION || info.output_size == info.memory_size + info.input_size,
                   "an attention layer gives [context, query]");
        total += strlen(info.name);
        width = info.output_size;
    }
    FUZZ_CHECK(width == recur_model_output_size(m), "the last layer gives the model's output");
    recur_layer_info info = {.struct_size = sizeof info};
    FUZZ_CHECK(recur_model_layer_info(m, layers, &info) == RECUR_ERROR_OUT_OF_RANGE, "a layer past the last");
    size_t entries = recur_model_metadata_count(m);
    for (size_t k = 0; k < entries; k++) {
        const char *key = NULL, *value = NULL;
        FUZZ_CHECK(recur_model_metadata(m, k, &key, &value) == RECUR_OK && key && value, "recur_model_metadata");
        total += strlen(key) + strlen(value);
    }
    FUZZ_CHECK(recur_model_metadata(m, entries, NULL, NULL) == RECUR_ERROR_OUT_OF_RANGE, "an entry past the last");
    FUZZ_CHECK(total < ((size_t)64 << 20), "strings within the limits");
}

/* Uses a loaded model (the input was `raw`); frees it. */
static void fuzz_exercise(recur_model *m, const uint8_t *raw, size_t raw_size) {
    size_t in = recur_model_input_size(m), out = recur_model_output_size(m);
    size_t bytes = recur_stream_size(m), align = recur_stream_alignment();
    FUZZ_CHECK(in > 0 && out > 0 && recur_model_layer_count(m) > 0 && bytes > 0, "a loaded model has sizes");
    fuzz_inspect(m);
    /* State never exceeds the stream's memory, which the limits bound. */
    size_t cap = bytes / sizeof(float);
    float *x = calloc(FUZZ_STEPS * in + 1, sizeof *x), *y1 = calloc(FUZZ_STEPS * out, sizeof *y1),
          *y2 = calloc(FUZZ_STEPS * out, sizeof *y2), *s1 = calloc(cap, sizeof *s1), *s2 = calloc(cap, sizeof *s2);
    void *memory = aligned_alloc(align, (bytes + align - 1) / align * align);
    recur_stream *a = NULL, *b = NULL;
    FUZZ_CHECK(x && y1 && y2 && s1 && s2 && memory, "test memory");
    FUZZ_CHECK(recur_stream_create(m, &a) == RECUR_OK, "recur_stream_create");
    FUZZ_CHECK(recur_stream_init(m, memory, bytes, &b) == RECUR_OK, "recur_stream_init");
    fuzz_give_memory(m, a);
    fuzz_give_memory(m, b);
    fuzz_same_state(m, a, b, s1, s2, cap);

    /* Models of streaming layers step as they are; others need buffers. */
    fuzz_steps(m, a, b, x, y1, y2, s1, s2, cap);
    recur_status ra = recur_stream_reserve(a, FUZZ_STEPS), rb = recur_stream_reserve(b, FUZZ_STEPS);
    FUZZ_CHECK(ra == RECUR_OK && rb == RECUR_OK, "recur_stream_reserve of a few steps");
    fuzz_steps(m, a, b, x, y1, y2, s1, s2, cap);

    /* State out of one stream and into the other (reset first). */
    recur_stream_reset(b);
    fuzz_give_memory(m, b);
    fuzz_copy_state(m, a, b, s1, cap);
    fuzz_steps(m, a, b, x, y1, y2, s1, s2, cap);

    /* The state as bytes, from one stream into the other. */
    fuzz_steps(m, a, b, x, y1, y2, s1, s2, cap);
    fuzz_snapshots(m, a, b, raw, raw_size, s1, s2, cap);
    fuzz_steps(m, a, b, x, y1, y2, s1, s2, cap);

    /* Reset both: the state creation gave, so they agree again. */
    recur_stream_reset(a);
    recur_stream_reset(b);
    fuzz_same_state(m, a, b, s1, s2, cap);
    fuzz_give_memory(m, a);
    fuzz_give_memory(m, b);

    /* The streams keep the weights of a freed model. */
    size_t vocab = recur_model_vocab_size(m);
    recur_model_free(m);
    FUZZ_CHECK(recur_model_input_size(m) == 0, "a freed model's handle is dead");
    recur_status st = vocab ? recur_step_token(a, 0, y1, out) : recur_run(a, FUZZ_STEPS, x, FUZZ_STEPS * in, y1, FUZZ_STEPS * out);
    FUZZ_CHECK(st == RECUR_OK || st == RECUR_ERROR_UNSUPPORTED, "a stream of a freed model steps");
    if (st == RECUR_OK) {
        st = vocab ? recur_step_token(b, 0, y2, out) : recur_run(b, FUZZ_STEPS, x, FUZZ_STEPS * in, y2, FUZZ_STEPS * out);
        FUZZ_CHECK(st == RECUR_OK && fuzz_same(y1, y2, vocab ? out : FUZZ_STEPS * out), "after the model is freed");
    }
    recur_stream_free(a);
    recur_stream_free(b);
    free(memory);
    free(x), free(y1), free(y2), free(s1), free(s2);
}

#endif
