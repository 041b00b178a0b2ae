/* Attention memory (include/recur.h, "Attention memory"), for each model
 * given (models with attention layers; models without them only check that
 * reserving memory is a no-op):
 *  - every stepping call refuses a stream whose attention layers have no
 *    memory (NO_MEMORY_SET, naming the layer), and recur_stream_reset
 *    clears the memory again;
 *  - recur_stream_set_memory's refusals, each leaving the stream as it was;
 *  - zero allocations in set_memory and while stepping with memory set:
 *    recur_step / recur_step_token, recur_run / recur_run_tokens,
 *    recur_step_streams(_tokens);
 *  - growing the room keeps the rows (bit-identical steps after);
 *  - snapshots carry the rows: their size, a restore into a stream without
 *    room refused (TOO_LARGE, the stream unchanged), and bit-identical
 *    steps after a restore;
 *  - a stream in caller memory with reserved memory frees it with the
 *    stream (no block left behind).
 *
 *   test_attention model.recur ...
 * Runs on the tier the process picks (RECUR_ISA lowers it). */
#define _GNU_SOURCE
#include "alloc_counter.h"
#include "check.h"

#include <stdint.h>
#include <string.h>

#include <recur.h>

#define STEPS 200
#define ROWS 9
#define MAX_LAYERS 16

typedef struct {
    const char *path;
    recur_model *model;
    size_t in, out, vocab, layers;
    int sequence;                       /* needs recur_run */
    size_t attention[MAX_LAYERS], widths[MAX_LAYERS], count;
} subject;

static float value(size_t i, size_t j, size_t salt) {
    return (float)((int)(i * 7 + j * 3 + salt * 5) % 17 - 8) * 0.11f;
}

/* Sets `rows` rows on every attention layer (allocation-free once reserved). */
static recur_status give_memory(const subject *t, recur_stream *s, size_t rows, size_t salt) {
    static float buffer[64 * 1024];
    for (size_t a = 0; a < t->count; a++) {
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < t->widths[a]; j++) buffer[i * t->widths[a] + j] = value(i, j, salt + a);
        recur_status st = recur_stream_set_memory(s, t->attention[a], buffer, rows, t->widths[a]);
        if (st != RECUR_OK) return st;
    }
    return RECUR_OK;
}

/* `steps` steps of the stream (a run for sequence models), outputs into ys. */
static recur_status advance(const subject *t, recur_stream *s, size_t steps, size_t salt, float *ys) {
    static float xs[STEPS * 256];
    static int32_t tokens[STEPS];
    for (size_t k = 0; k < steps; k++) {
        tokens[k] = (int32_t)((k * 5 + salt) % (t->vocab ? t->vocab : 1));
        for (size_t i = 0; i < t->in; i++) xs[k * t->in + i] = value(k, i, salt);
    }
    if (t->sequence) {
        return t->vocab ? recur_run_tokens(s, steps, tokens, steps, ys, steps * t->out)
                        : recur_run(s, steps, xs, steps * t->in, ys, steps * t->out);
    }
    for (size_t k = 0; k < steps; k++) {
        recur_status st = t->vocab ? recur_step_token(s, tokens[k], ys + k * t->out, t->out)
                                   : recur_step(s, xs + k * t->in, t->in, ys + k * t->out, t->out);
        if (st != RECUR_OK) return st;
    }
    return RECUR_OK;
}

static void check_refusals(const subject *t) {
    recur_stream *s = NULL;
    CHECK(recur_stream_create(t->model, &s) == RECUR_OK, "%s: create", t->path);
    float y[4096], x[4096] = {0};
    int32_t token = 0;
    /* Stepping without memory. */
    recur_status st = t->sequence ? (t->vocab ? recur_run_tokens(s, 1, &token, 1, y, t->out) : recur_run(s, 1, x, t->in, y, t->out))
                                  : (t->vocab ? recur_step_token(s, 0, y, t->out) : recur_step(s, x, t->in, y, t->out));
    if (t->sequence && st == RECUR_ERROR_BUFFER_TOO_SMALL) {
        recur_stream_reserve(s, STEPS);
        st = t->vocab ? recur_run_tokens(s, 1, &token, 1, y, t->out) : recur_run(s, 1, x, t->in, y, t->out);
    }
    char layer[64];
    snprintf(layer, sizeof layer, "layer %zu is an attention layer", t->attention[0]);
    CHECK(st == RECUR_ERROR_NO_MEMORY_SET && strstr(recur_last_error(), layer), "%s: stepping without memory: %d %s",
          t->path, st, recur_last_error());
    if (!t->sequence) {
        recur_stream *both[1] = {s};
        st = t->vocab ? recur_step_streams_tokens(t->model, both, 1, &token, 1, y, t->out)
                      : recur_step_streams(t->model, both, 1, x, t->in, y, t->out);
        CHECK(st == RECUR_ERROR_NO_MEMORY_SET && strstr(recur_last_error(), "streams[0]"), "%s: step_streams without memory: %d %s",
              t->path, st, recur_last_error());
    }
    /* set_memory's refusals. */
    size_t a = t->attention[0], w = t->widths[0];
    static float rows[ROWS * 1024];
    CHECK(recur_stream_set_memory(s, a, rows, 1, w) == RECUR_ERROR_TOO_LARGE, "%s: rows before any reserve", t->path);
    CHECK(recur_stream_reserve_memory(s, ROWS) == RECUR_OK, "%s: reserve", t->path);
    CHECK(recur_stream_set_memory(NULL, a, rows, 1, w) == RECUR_ERROR_INVALID_ARGUMENT, "%s: NULL stream", t->path);
    CHECK(recur_stream_set_memory(s, a, NULL, 1, w) == RECUR_ERROR_INVALID_ARGUMENT, "%s: NULL values", t->path);
    CHECK(recur_stream_set_memory(s, t->layers, rows, 1, w) == RECUR_ERROR_OUT_OF_RANGE, "%s: layer past the last", t->path);
    CHECK(recur_stream_set_memory(s, a == 0 ? 1 : 0, rows, 1, w) == RECUR_ERROR_INVALID_ARGUMENT &&
          strstr(recur_last_error(), "not an attention layer"), "%s: not an attention layer: %s", t->path, recur_last_error());
    CHECK(recur_stream_set_memory(s, a, rows, 1, w + 1) == RECUR_ERROR_SIZE_MISMATCH, "%s: width", t->path);
    CHECK(recur_stream_set_memory(s, a, rows, 0, w) == RECUR_ERROR_TOO_LARGE, "%s: zero rows", t->path);
    /* The room is rounded up to 16 rows: 17 are too many. */
    CHECK(recur_stream_set_memory(s, a, rows, 17, w) == RECUR_ERROR_TOO_LARGE &&
          strstr(recur_last_error(), "recur_stream_reserve_memory"), "%s: rows past the room: %s", t->path, recur_last_error());
    CHECK(recur_stream_reserve_memory(s, (size_t)-1) == RECUR_ERROR_TOO_LARGE, "%s: reserve too much", t->path);
    CHECK(recur_stream_reserve_memory(NULL, 1) == RECUR_ERROR_INVALID_ARGUMENT, "%s: reserve NULL", t->path);
    /* With memory: steps; reset clears it. */
    CHECK(give_memory(t, s, ROWS, 0) == RECUR_OK, "%s: set memory: %s", t->path, recur_last_error());
    static float ys[STEPS * 4096];
    CHECK(advance(t, s, 3, 0, ys) == RECUR_OK, "%s: steps with memory: %s", t->path, recur_last_error());
    recur_stream_reset(s);
    CHECK(advance(t, s, 1, 0, ys) == RECUR_ERROR_NO_MEMORY_SET, "%s: reset clears the memory", t->path);
    recur_stream_free(s);
}

static void check_steps(const subject *t) {
    static float ys[STEPS * 4096], ys2[STEPS * 4096];
    recur_stream *s = NULL, *grown = NULL;
    CHECK(recur_stream_create(t->model, &s) == RECUR_OK && recur_stream_create(t->model, &grown) == RECUR_OK,
          "%s: create", t->path);
    recur_stream_reserve(s, STEPS);
    recur_stream_reserve(grown, STEPS);
    CHECK(recur_stream_reserve_memory(s, ROWS) == RECUR_OK && recur_stream_reserve_memory(grown, 3) == RECUR_OK,
          "%s: reserve", t->path);
    /* Zero allocations: set_memory and STEPS steps. */
    alloc_calls = 0;
    alloc_counting = 1;
    recur_status st = give_memory(t, s, ROWS, 1);
    recur_status st2 = advance(t, s, STEPS, 2, ys);
    alloc_counting = 0;
    CHECK(st == RECUR_OK && st2 == RECUR_OK && alloc_calls == 0, "%s: %ld allocator calls setting memory and in %d steps (%d %d)",
          t->path, alloc_calls, STEPS, st, st2);
    /* Growing the room keeps the rows: `grown` gets them with room for 3,
     * then the room grows to 200 before it steps. */
    CHECK(give_memory(t, grown, 3, 1) == RECUR_OK, "%s: rows", t->path);
    CHECK(recur_stream_reserve_memory(grown, 200) == RECUR_OK, "%s: grow", t->path);
    recur_stream_reset(s);
    CHECK(give_memory(t, s, 3, 1) == RECUR_OK, "%s: rows", t->path);
    CHECK(advance(t, s, STEPS, 3, ys) == RECUR_OK && advance(t, grown, STEPS, 3, ys2) == RECUR_OK &&
          memcmp(ys, ys2, sizeof(float) * STEPS * t->out) == 0, "%s: growing the room changed the rows", t->path);

    /* Snapshots carry the rows. */
    size_t n = 0;
    recur_stream_snapshot(s, NULL, 0, &n);
    size_t rows_floats = 0;
    for (size_t a = 0; a < t->count; a++) rows_floats += 3 * t->widths[a];
    CHECK(n == recur_stream_snapshot_size(t->model) + 4 * rows_floats, "%s: snapshot of %zu bytes, expected %zu + rows",
          t->path, n, recur_stream_snapshot_size(t->model));
    unsigned char *saved = malloc(n);
    CHECK(recur_stream_snapshot(s, saved, n, NULL) == RECUR_OK, "%s: snapshot", t->path);
    recur_stream *fresh = NULL;
    recur_stream_create(t->model, &fresh);
    recur_stream_reserve(fresh, STEPS);
    CHECK(recur_stream_restore(fresh, saved, n) == RECUR_ERROR_TOO_LARGE &&
          strstr(recur_last_error(), "recur_stream_reserve_memory"), "%s: restore without room: %s", t->path, recur_last_error());
    CHECK(advance(t, fresh, 1, 0, ys) == RECUR_ERROR_NO_MEMORY_SET, "%s: a refused restore changed the stream", t->path);
    recur_stream_reserve_memory(fresh, 3);
    alloc_calls = 0;
    alloc_counting = 1;
    st = recur_stream_restore(fresh, saved, n);
    alloc_counting = 0;
    CHECK(st == RECUR_OK && alloc_calls == 0, "%s: restore: %d, %ld allocator calls", t->path, st, alloc_calls);
    CHECK(advance(t, s, 50, 4, ys) == RECUR_OK && advance(t, fresh, 50, 4, ys2) == RECUR_OK &&
          memcmp(ys, ys2, sizeof(float) * 50 * t->out) == 0, "%s: steps after a restore differ", t->path);
    /* Again into a stream holding the same rows (the keys are kept, as in
     * beam search), and into one holding as many other rows (formed anew). */
    for (int other = 0; other < 2; other++) {
        if (other) CHECK(give_memory(t, fresh, 3, 9) == RECUR_OK, "%s: other rows", t->path);
        CHECK(recur_stream_restore(fresh, saved, n) == RECUR_OK && advance(t, fresh, 50, 4, ys2) == RECUR_OK &&
              memcmp(ys, ys2, sizeof(float) * 50 * t->out) == 0, "%s: steps after a restore over %s rows differ", t->path,
              other ? "other" : "the same");
    }
    free(saved);

    /* Many streams at once, with memory: identical to stepping alone, no allocation. */
    if (!t->sequence) {
        enum { K = 5 };
        recur_stream *group[K], *twins[K];
        for (size_t k = 0; k < K; k++) {
            recur_stream_create(t->model, &group[k]);
            recur_stream_create(t->model, &twins[k]);
            recur_stream_reserve_memory(group[k], ROWS);
            recur_stream_reserve_memory(twins[k], ROWS);
            give_memory(t, group[k], 1 + k, k);
            give_memory(t, twins[k], 1 + k, k);
        }
        static float xs[K * 256], together[K * 4096], apart[K * 4096];
        int32_t tokens[K];
        int same = 1;
        long calls = 0;
        for (size_t round = 0; round < 20; round++) {
            for (size_t k = 0; k < K; k++) {
                tokens[k] = (int32_t)((round + 3 * k) % (t->vocab ? t->vocab : 1));
                for (size_t i = 0; i < t->in; i++) xs[k * t->in + i] = value(round, i, k);
            }
            alloc_calls = 0;
            alloc_counting = 1;
            st = t->vocab ? recur_step_streams_tokens(t->model, group, K, tokens, K, together, K * t->out)
                          : recur_step_streams(t->model, group, K, xs, K * t->in, together, K * t->out);
            alloc_counting = 0;
            calls += alloc_calls;
            for (size_t k = 0; k < K; k++) {
                if (t->vocab) recur_step_token(twins[k], tokens[k], apart + k * t->out, t->out);
                else recur_step(twins[k], xs + k * t->in, t->in, apart + k * t->out, t->out);
            }
            same &= st == RECUR_OK && memcmp(together, apart, sizeof(float) * K * t->out) == 0;
        }
        CHECK(same && calls == 0, "%s: step_streams with memory: same %d, %ld allocator calls", t->path, same, calls);
        for (size_t k = 0; k < K; k++) {
            recur_stream_free(group[k]);
            recur_stream_free(twins[k]);
        }
    }
    recur_stream_free(fresh);
    recur_stream_free(grown);
    recur_stream_free(s);

    /* Caller memory: the reserved rows go with the stream. */
    long live = alloc_live;
    size_t size = recur_stream_size(t->model);
    void *memory = NULL;
    CHECK(posix_memalign(&memory, recur_stream_alignment(), size) == 0, "memalign");
    recur_stream *mine = NULL;
    CHECK(recur_stream_init(t->model, memory, size, &mine) == RECUR_OK, "%s: init", t->path);
    recur_stream_reserve(mine, STEPS);
    CHECK(recur_stream_reserve_memory(mine, 40) == RECUR_OK && give_memory(t, mine, 40, 5) == RECUR_OK &&
          advance(t, mine, 10, 5, ys) == RECUR_OK, "%s: a caller-memory stream with memory", t->path);
    recur_stream_free(mine);
    free(memory);
    CHECK(alloc_live == live, "%s: %ld blocks left after freeing a caller-memory stream", t->path, alloc_live - live);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        subject t = {.path = argv[i]};
        if (recur_model_load_file(t.path, &t.model) != RECUR_OK) {
            CHECK(0, "cannot load %s: %s", t.path, recur_last_error());
            continue;
        }
        t.in = recur_model_input_size(t.model);
        t.out = recur_model_output_size(t.model);
        t.vocab = recur_model_vocab_size(t.model);
        t.layers = recur_model_layer_count(t.model);
        for (size_t l = 0; l < t.layers && l < MAX_LAYERS; l++) {
            recur_layer_info info = {.struct_size = sizeof info};
            recur_model_layer_info(t.model, l, &info);
            if (info.direction != 0) t.sequence = 1;
            if (info.kind == RECUR_LAYER_ATTENTION) {
                CHECK(info.memory_size > 0 && info.output_size == info.memory_size + info.input_size,
                      "%s: layer %zu: memory_size %zu, input %zu, output %zu", t.path, l, info.memory_size, info.input_size,
                      info.output_size);
                t.attention[t.count] = l;
                t.widths[t.count++] = info.memory_size;
            }
        }
        if (t.count == 0) {
            recur_stream *s = NULL;
            recur_stream_create(t.model, &s);
            long live = alloc_live;
            CHECK(recur_stream_reserve_memory(s, 100) == RECUR_OK && alloc_live == live,
                  "%s: reserving memory without attention layers allocated", t.path);
            recur_stream_free(s);
        } else {
            check_refusals(&t);
            check_steps(&t);
        }
        recur_model_free(t.model);
    }
    return check_summary("test_attention");
}
