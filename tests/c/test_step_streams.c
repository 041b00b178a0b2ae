/* recur_step_streams / recur_step_streams_tokens, for each model given:
 *  - identity: S streams, each with a history of its own, stepped together
 *    for several rounds (in two orders, with some streams stepped alone in
 *    between) against twins stepped one at a time with recur_step: the
 *    outputs and the whole state (a snapshot) bit-identical. S crosses the
 *    library's group of 64 streams and leaves partial tiles;
 *  - zero allocations in a call over all S streams;
 *  - refusals, each with its status and the streams unchanged: NULLs, a
 *    freed or foreign model or stream (named by position), a stream of
 *    another model, a stream listed twice, wrong counts, xs or ys inside a
 *    stream's memory, overlapping xs and ys, tokens out of range, the wrong
 *    call for the model's kind, a model that needs whole sequences.
 *
 *   test_step_streams model.recur ...
 * Runs on the tier the process picks (RECUR_ISA lowers it). */
#define _GNU_SOURCE
#include "alloc_counter.h"
#include "check.h"
#include "narrow.h"

#include <stdint.h>
#include <string.h>

#include <recur.h>

#define S 71
#define ROUNDS 5

typedef struct {
    const char *path;
    recur_model *model;
    size_t in, out, vocab;
} subject;

static float input_value(size_t round, size_t k, size_t i) {
    return (float)((int)(round * 7 + k * 3 + i * 5) % 13 - 6) * 0.13f;
}

static int32_t token_value(const subject *t, size_t round, size_t k) {
    return (int32_t)((round * 11 + k * 7 + 1) % t->vocab);
}

/* One step of one stream alone. */
static recur_status alone(const subject *t, recur_stream *s, size_t round, size_t k, float *y) {
    if (t->vocab) return recur_step_token(s, token_value(t, round, k), y, t->out);
    float x[4096];
    for (size_t i = 0; i < t->in; i++) x[i] = input_value(round, k, i);
    return recur_step(s, x, t->in, y, t->out);
}

static unsigned char *snapshot(recur_stream *s, size_t *size) {
    size_t n = 0;
    recur_stream_snapshot(s, NULL, 0, &n);
    unsigned char *b = malloc(n);
    CHECK(recur_stream_snapshot(s, b, n, size) == RECUR_OK, "%s", recur_last_error());
    return b;
}

static int same_states(recur_stream **a, recur_stream **b, size_t n) {
    for (size_t k = 0; k < n; k++) {
        size_t na = 0, nb = 0;
        unsigned char *sa = snapshot(a[k], &na), *sb = snapshot(b[k], &nb);
        int same = na == nb && memcmp(sa, sb, na) == 0;
        free(sa);
        free(sb);
        if (!same) return 0;
    }
    return 1;
}

static recur_status together(const subject *t, recur_stream *const *streams, size_t n, const float *xs,
                             const int32_t *tokens, float *ys) {
    return t->vocab ? recur_step_streams_tokens(t->model, streams, n, tokens, n, ys, n * t->out)
                    : recur_step_streams(t->model, streams, n, xs, n * t->in, ys, n * t->out);
}

static void identity(const subject *t) {
    recur_stream *many[S], *twin[S], *order[S];
    for (size_t k = 0; k < S; k++) {
        CHECK(recur_stream_create(t->model, &many[k]) == RECUR_OK, "%s", recur_last_error());
        CHECK(recur_stream_create(t->model, &twin[k]) == RECUR_OK, "%s", recur_last_error());
    }
    float *y = malloc(sizeof(float) * (t->out + 1)), *want = malloc(sizeof(float) * S * (t->out + 1));
    /* Histories of 0 to 4 steps, different for each stream. */
    for (size_t k = 0; k < S; k++) {
        for (size_t r = 0; r < k % 5; r++) {
            alone(t, many[k], 100 + r, k, y);
            alone(t, twin[k], 100 + r, k, y);
        }
    }
    float *xs = malloc(sizeof(float) * S * (t->in + 1)), *ys = malloc(sizeof(float) * S * (t->out + 1));
    int32_t tokens[S];
    int outputs_same = 1;
    for (size_t round = 0; round < ROUNDS; round++) {
        /* Rounds 1 and 3 list the streams backwards; the inputs follow the list. */
        for (size_t j = 0; j < S; j++) order[j] = many[round % 2 ? S - 1 - j : j];
        for (size_t j = 0; j < S; j++) {
            size_t k = round % 2 ? S - 1 - j : j;
            for (size_t i = 0; i < t->in; i++) xs[j * t->in + i] = input_value(round, k, i);
            if (t->vocab) tokens[j] = token_value(t, round, k);
        }
        CHECK(together(t, order, S, xs, tokens, ys) == RECUR_OK, "%s: round %zu: %s", t->path, round, recur_last_error());
        for (size_t j = 0; j < S; j++) {
            size_t k = round % 2 ? S - 1 - j : j;
            CHECK(alone(t, twin[k], round, k, want) == RECUR_OK, "%s", recur_last_error());
            if (memcmp(want, ys + j * t->out, sizeof(float) * t->out) != 0) outputs_same = 0;
        }
        /* Some streams step alone in between, on both sides. */
        if (round == 2) {
            for (size_t k = 0; k < S; k += 4) {
                alone(t, many[k], 200, k, y);
                alone(t, twin[k], 200, k, y);
            }
        }
    }
    CHECK(outputs_same, "%s: outputs of recur_step_streams differ from recur_step's", t->path);
    CHECK(same_states(many, twin, S), "%s: states after recur_step_streams differ from recur_step's", t->path);

    /* Zero allocations over all S streams. */
    for (size_t j = 0; j < S; j++) {
        for (size_t i = 0; i < t->in; i++) xs[j * t->in + i] = input_value(9, j, i);
        if (t->vocab) tokens[j] = token_value(t, 9, j);
    }
    alloc_calls = 0;
    alloc_counting = 1;
    recur_status r = together(t, many, S, xs, tokens, ys);
    alloc_counting = 0;
    CHECK(r == RECUR_OK && alloc_calls == 0, "%s: %ld allocator calls (%s)", t->path, alloc_calls, recur_last_error());
    for (size_t k = 0; k < S; k++) {
        alone(t, twin[k], 9, k, want);
        CHECK(memcmp(want, ys + k * t->out, sizeof(float) * t->out) == 0, "%s: stream %zu", t->path, k);
    }

    /* Small groups: 1, 2, 3, 4 streams. */
    for (size_t n = 1; n <= 4; n++) {
        for (size_t k = 0; k < n; k++) {
            for (size_t i = 0; i < t->in; i++) xs[k * t->in + i] = input_value(10 + n, k, i);
            if (t->vocab) tokens[k] = token_value(t, 10 + n, k);
        }
        CHECK(together(t, many, n, xs, tokens, ys) == RECUR_OK, "%s", recur_last_error());
        for (size_t k = 0; k < n; k++) {
            alone(t, twin[k], 10 + n, k, want);
            CHECK(memcmp(want, ys + k * t->out, sizeof(float) * t->out) == 0, "%s: n = %zu, stream %zu", t->path, n, k);
        }
    }
    CHECK(same_states(many, twin, S), "%s: states after small groups differ", t->path);
    free(xs);
    free(ys);
    free(y);
    free(want);
    for (size_t k = 0; k < S; k++) {
        recur_stream_free(many[k]);
        recur_stream_free(twin[k]);
    }
}

/* Every refusal leaves the streams as they were. */
static void refusals(const subject *t, const subject *other_kind) {
    enum { N = 5 };
    recur_stream *s[N + 1];
    for (size_t k = 0; k <= N; k++) CHECK(recur_stream_create(t->model, &s[k]) == RECUR_OK, "%s", recur_last_error());
    size_t before_size = 0;
    unsigned char *before = snapshot(s[2], &before_size);
    float xs[N * 4096], ys[N * 4096];
    memset(xs, 0, sizeof xs);
    int32_t tokens[N] = {0, 1, 0, 1, 0};
    size_t xc = t->vocab ? N : N * t->in, yc = N * t->out;
#define CALL(model, streams, n, xcount, ycount) \
    (t->vocab ? recur_step_streams_tokens(model, streams, n, tokens, xcount, ys, ycount) \
              : recur_step_streams(model, streams, n, xs, xcount, ys, ycount))
#define REFUSED(call, status, fragment) do { \
        recur_status got_ = (call); \
        CHECK(got_ == (status) && strstr(recur_last_error(), fragment) != NULL, \
              "%s: %s gave %d: %s", t->path, #call, (int)got_, recur_last_error()); \
    } while (0)

    REFUSED(CALL(NULL, s, N, xc, yc), RECUR_ERROR_INVALID_ARGUMENT, "model is NULL");
    REFUSED(CALL((recur_model *)s[0], s, N, xc, yc), RECUR_ERROR_BAD_HANDLE, "not a recur_model");
    REFUSED(CALL(t->model, NULL, N, xc, yc), RECUR_ERROR_INVALID_ARGUMENT, "streams is NULL");
    REFUSED(t->vocab ? recur_step_streams_tokens(t->model, s, N, NULL, xc, ys, yc)
                     : recur_step_streams(t->model, s, N, NULL, xc, ys, yc),
            RECUR_ERROR_INVALID_ARGUMENT, "is NULL");
    REFUSED(t->vocab ? recur_step_streams_tokens(t->model, s, N, tokens, xc, NULL, yc)
                     : recur_step_streams(t->model, s, N, xs, xc, NULL, yc),
            RECUR_ERROR_INVALID_ARGUMENT, "ys is NULL");
    REFUSED(CALL(t->model, s, N, xc + 1, yc), RECUR_ERROR_SIZE_MISMATCH, "_count is");
    REFUSED(CALL(t->model, s, N, xc, yc - 1), RECUR_ERROR_SIZE_MISMATCH, "ys_count is");

    /* The wrong call for the model's kind. */
    REFUSED(t->vocab ? recur_step_streams(t->model, s, N, xs, N * t->in, ys, yc)
                     : recur_step_streams_tokens(t->model, s, N, tokens, N, ys, yc),
            RECUR_ERROR_UNSUPPORTED, t->vocab ? "use recur_step_streams_tokens" : "use recur_step_streams");

    /* A stream listed twice; a stream of another model; a freed stream. */
    recur_stream *list[N] = {s[0], s[1], s[2], s[3], s[1]};
    REFUSED(CALL(t->model, list, N, xc, yc), RECUR_ERROR_INVALID_ARGUMENT, "streams[1] and streams[4] are the same stream");
    recur_stream *foreign;
    CHECK(recur_stream_create(other_kind->model, &foreign) == RECUR_OK, "%s", recur_last_error());
    list[4] = s[4];
    list[3] = foreign;
    REFUSED(CALL(t->model, list, N, xc, yc), RECUR_ERROR_INVALID_ARGUMENT, "streams[3] was created from another model");
    recur_stream_free(foreign);
    REFUSED(CALL(t->model, list, N, xc, yc), RECUR_ERROR_BAD_HANDLE, "streams[3] names a recur_stream that has been freed");
    list[3] = (recur_stream *)t->model;
    REFUSED(CALL(t->model, list, N, xc, yc), RECUR_ERROR_BAD_HANDLE, "streams[3] is a recur_model handle");

    /* Inputs or outputs inside a stream's memory (a caller-memory stream). */
    size_t need = recur_stream_size(t->model);
    float *memory = aligned_alloc(recur_stream_alignment(), (need + 63) / 64 * 64);
    recur_stream *inside;
    CHECK(recur_stream_init(t->model, memory, need, &inside) == RECUR_OK, "%s", recur_last_error());
    list[3] = inside;
    recur_stream *in1[1] = {inside};
    if (t->vocab) {
        REFUSED(recur_step_streams_tokens(t->model, in1, 1, (const int32_t *)memory, 1, ys, t->out),
                RECUR_ERROR_INVALID_ARGUMENT, "tokens lies inside the memory of streams[0]");
    }
    REFUSED(t->vocab ? recur_step_streams_tokens(t->model, list, N, tokens, N, memory, yc)
                     : recur_step_streams(t->model, list, N, xs, xc, memory, yc),
            RECUR_ERROR_INVALID_ARGUMENT, "ys lies inside the memory of streams[3]");
    if (!t->vocab) {
        REFUSED(recur_step_streams(t->model, in1, 1, memory, t->in, ys, t->out), RECUR_ERROR_INVALID_ARGUMENT,
                "xs lies inside the memory of streams[0]");
        /* xs and ys overlapping other than in place. */
        REFUSED(recur_step_streams(t->model, s, N, xs + 1, xc, xs, yc), RECUR_ERROR_INVALID_ARGUMENT, "overlap");
    } else {
        REFUSED(recur_step_streams_tokens(t->model, s, N, (const int32_t *)ys, N, ys, yc), RECUR_ERROR_INVALID_ARGUMENT,
                "tokens and ys overlap");
        int32_t bad[N] = {0, 1, (int32_t)t->vocab, 0, 0};
        REFUSED(recur_step_streams_tokens(t->model, s, N, bad, N, ys, yc), RECUR_ERROR_OUT_OF_RANGE,
                "of streams[2] is outside the vocabulary");
        bad[2] = -1;
        REFUSED(recur_step_streams_tokens(t->model, s, N, bad, N, ys, yc), RECUR_ERROR_OUT_OF_RANGE, "token -1");
    }
    recur_stream_free(inside);
    free(memory);

    /* Nothing moved. */
    size_t after_size = 0;
    unsigned char *after = snapshot(s[2], &after_size);
    CHECK(before_size == after_size && memcmp(before, after, before_size) == 0, "%s: a refused call moved a stream", t->path);
    free(before);
    free(after);

    /* n == 0 with NULLs is a no-op; in place (xs == ys) works when outputs fit. */
    CHECK(recur_step_streams_tokens(t->vocab ? t->model : NULL, NULL, 0, NULL, 0, NULL, 0) ==
              (t->vocab ? RECUR_OK : RECUR_ERROR_INVALID_ARGUMENT), "n == 0: %s", recur_last_error());
    if (!t->vocab) {
        CHECK(recur_step_streams(t->model, NULL, 0, NULL, 0, NULL, 0) == RECUR_OK, "n == 0: %s", recur_last_error());
        if (t->out <= t->in) {
            CHECK(recur_step_streams(t->model, s, N, xs, xc, xs, yc) == RECUR_OK, "in place: %s", recur_last_error());
        }
    }

    /* The model handle freed while its streams live: refused; the streams still step alone. */
    recur_model *again;
    CHECK(load_narrow(t->path, &again) == RECUR_OK, "%s", recur_last_error());
    recur_stream *orphan;
    CHECK(recur_stream_create(again, &orphan) == RECUR_OK, "%s", recur_last_error());
    recur_model_free(again);
    recur_stream *one[1] = {orphan};
    REFUSED(t->vocab ? recur_step_streams_tokens(again, one, 1, tokens, 1, ys, t->out)
                     : recur_step_streams(again, one, 1, xs, t->in, ys, t->out),
            RECUR_ERROR_BAD_HANDLE, "has been freed");
    /* A stream of the same file loaded twice belongs to another model. */
    recur_model *twice;
    CHECK(load_narrow(t->path, &twice) == RECUR_OK, "%s", recur_last_error());
    recur_stream *cousin;
    CHECK(recur_stream_create(twice, &cousin) == RECUR_OK, "%s", recur_last_error());
    one[0] = cousin;
    REFUSED(t->vocab ? recur_step_streams_tokens(t->model, one, 1, tokens, 1, ys, t->out)
                     : recur_step_streams(t->model, one, 1, xs, t->in, ys, t->out),
            RECUR_ERROR_INVALID_ARGUMENT, "streams[0] was created from another model");
    recur_stream_free(cousin);
    recur_model_free(twice);
    recur_stream_free(orphan);
    for (size_t k = 0; k <= N; k++) recur_stream_free(s[k]);
}

static void needs_sequences(const subject *t) {
    recur_stream *s;
    CHECK(recur_stream_create(t->model, &s) == RECUR_OK, "%s", recur_last_error());
    float x[4096] = {0}, y[4096];
    int32_t token = 0;
    recur_status r = t->vocab ? recur_step_streams_tokens(t->model, &s, 1, &token, 1, y, t->out)
                              : recur_step_streams(t->model, &s, 1, x, t->in, y, t->out);
    CHECK(r == RECUR_ERROR_UNSUPPORTED && strstr(recur_last_error(), "needs whole sequences"), "%s: %d %s", t->path,
          (int)r, recur_last_error());
    recur_stream_free(s);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s model.recur ...\n", argv[0]);
        return 2;
    }
    subject subjects[256];
    int count = 0;
    for (int i = 1; i < argc && count < 256; i++) {
        subject *t = &subjects[count++];
        memset(t, 0, sizeof *t);
        t->path = argv[i];
        if (load_narrow(argv[i], &t->model) != RECUR_OK) {
            fprintf(stderr, "cannot load %s: %s\n", argv[i], recur_last_error());
            return 2;
        }
        t->in = recur_model_input_size(t->model);
        t->out = recur_model_output_size(t->model);
        t->vocab = recur_model_vocab_size(t->model);
    }
    for (int i = 0; i < count; i++) {
        const subject *t = &subjects[i];
        if (t->in > 4096 || t->out > 4096) continue;
        recur_stream *probe;
        recur_stream_create(t->model, &probe);
        float x[4096] = {0}, y[4096];
        int sequence = (t->vocab ? recur_step_token(probe, 0, y, t->out) : recur_step(probe, x, t->in, y, t->out)) ==
                       RECUR_ERROR_UNSUPPORTED;
        recur_stream_free(probe);
        if (sequence) {
            needs_sequences(t);
            continue;
        }
        identity(t);
        refusals(t, &subjects[(i + 1) % count]);
    }
    for (int i = 0; i < count; i++) recur_model_free(subjects[i].model);
    printf("tier %s; ", recur_isa());
    return check_summary("test_step_streams");
}
