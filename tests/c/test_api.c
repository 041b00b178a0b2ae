/* The C contract of include/recur.h, compiled against the header and linked
 * to librecur.so. For every model named on the command line: loading from a
 * file and from memory, stepping (against golden outputs when NAME.x.f32 and
 * NAME.y.f32 lie beside NAME.recur), recur_run against recur_step, reset,
 * caller memory, refused counts and NULLs, and zero allocator calls during
 * 10,000 recur_step calls, a 10,000-step recur_run and recur_stream_reset.
 *
 * Token models and models with reverse or bidirectional layers get the
 * same allocation checks through recur_step_token / recur_run(_tokens).
 *
 *   test_api model.recur [model.recur ...]
 */
#include "alloc_counter.h"
#include "narrow.h"
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <recur.h>

#define STEPS 10000
#define TOLERANCE 1e-5f

static float *read_floats(const char *recur_path, const char *suffix, size_t *count) {
    char path[4096];
    size_t n = strlen(recur_path);
    if (n < 6 || n + 16 > sizeof path) return NULL;
    memcpy(path, recur_path, n - 6);                /* drop ".recur" */
    strcpy(path + n - 6, suffix);
    size_t bytes = 0;
    float *data = (float *)read_all(path, &bytes);
    *count = bytes / sizeof(float);
    return data;
}

/* Deterministic inputs in [-2, 2). */
static void fill(float *v, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = (float)(seed >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
    }
}

/* Token models (first layer an embedding) and sequence models (reverse or
 * bidirectional layers): zero allocations in recur_step_token, recur_run
 * and recur_run_tokens after recur_stream_reserve, refusals, state in/out. */
static void test_special_model(const char *path, recur_model *model) {
    size_t in = recur_model_input_size(model), out = recur_model_output_size(model);
    size_t vocab = recur_model_vocab_size(model);
    float *xs = malloc(sizeof(float) * in * STEPS);
    float *ys = malloc(sizeof(float) * out * STEPS), *ys2 = malloc(sizeof(float) * out * STEPS);
    int32_t *tokens = malloc(sizeof(int32_t) * STEPS);
    fill(xs, in * STEPS, 777u);
    for (size_t t = 0; t < STEPS; t++) tokens[t] = (int32_t)((t * 7919u) % (vocab ? vocab : 1));
    recur_stream *s = NULL, *r = NULL;
    recur_stream_create(model, &s);
    recur_stream_create(model, &r);
    float *y = malloc(sizeof(float) * out);
    recur_status st = vocab ? recur_step_token(s, 0, y, out) : recur_step(s, xs, in, y, out);
    int sequence = st == RECUR_ERROR_UNSUPPORTED;
    CHECK(st == RECUR_OK || sequence, "%s: first step gave %d: %s", path, st, recur_last_error());
    if (sequence) {
        CHECK(strstr(recur_last_error(), "layer") != NULL, "%s: refusal does not name the layer: %s", path, recur_last_error());
        st = vocab ? recur_run_tokens(s, STEPS, tokens, STEPS, ys, out * STEPS) : recur_run(s, STEPS, xs, in * STEPS, ys, out * STEPS);
        CHECK(st == RECUR_ERROR_BUFFER_TOO_SMALL, "%s: run without reserve gave %d", path, st);
        CHECK(recur_stream_reserve(s, STEPS) == RECUR_OK && recur_stream_reserve(r, STEPS) == RECUR_OK, "%s: reserve", path);
    } else {
        recur_stream_reset(s);
        alloc_calls = 0;
        alloc_counting = 1;
        for (size_t t = 0; t < STEPS; t++) st |= recur_step_token(s, tokens[t], ys + t * out, out);
        alloc_counting = 0;
        CHECK(st == RECUR_OK && alloc_calls == 0, "%s: %ld allocator calls in %d recur_step_token", path, alloc_calls, STEPS);
        CHECK(recur_step_token(s, (int32_t)vocab, y, out) == RECUR_ERROR_OUT_OF_RANGE, "%s: token == vocab accepted", path);
        CHECK(recur_step_token(s, -1, y, out) == RECUR_ERROR_OUT_OF_RANGE, "%s: token -1 accepted", path);
        CHECK(recur_step(s, xs, in, y, out) == RECUR_ERROR_UNSUPPORTED, "%s: recur_step on a token model", path);
    }
    recur_stream_reset(r);
    alloc_calls = 0;
    alloc_counting = 1;
    st = vocab ? recur_run_tokens(r, STEPS, tokens, STEPS, ys2, out * STEPS) : recur_run(r, STEPS, xs, in * STEPS, ys2, out * STEPS);
    recur_stream_reset(r);
    alloc_counting = 0;
    CHECK(st == RECUR_OK, "%s: run gave %d: %s", path, st, recur_last_error());
    CHECK(alloc_calls == 0, "%s: %ld allocator calls in a %d-step run", path, alloc_calls, STEPS);
    if (!sequence) CHECK(memcmp(ys, ys2, sizeof(float) * out * STEPS) == 0, "%s: run differs from steps", path);
    if (vocab) {
        int32_t bad[2] = {0, (int32_t)vocab};
        CHECK(recur_run_tokens(r, 2, bad, 2, ys2, out * 2) == RECUR_ERROR_OUT_OF_RANGE, "%s: bad token in a run", path);
    }
    /* Each refusal points to a call that works for this model. */
    if (vocab) {
        CHECK(recur_step(s, xs, in, y, out) == RECUR_ERROR_UNSUPPORTED && strstr(recur_last_error(), "recur_step_token"),
              "%s: recur_step on a token model: %s", path, recur_last_error());
        CHECK(recur_run(s, 1, xs, in, ys, out) == RECUR_ERROR_UNSUPPORTED && strstr(recur_last_error(), "recur_run_tokens"),
              "%s: recur_run on a token model: %s", path, recur_last_error());
        if (sequence)
            CHECK(recur_step_token(s, 0, y, out) == RECUR_ERROR_UNSUPPORTED && strstr(recur_last_error(), "recur_run_tokens"),
                  "%s: recur_step_token on a sequence model: %s", path, recur_last_error());
        /* Outputs written over tokens would change tokens already checked. */
        int32_t *shared = malloc(sizeof(float) * out * 8 + sizeof(int32_t) * 8);
        for (int t = 0; t < 8; t++) shared[t] = 1;
        CHECK(recur_run_tokens(s, 8, shared, 8, (float *)(shared + 4), out * 8) == RECUR_ERROR_INVALID_ARGUMENT,
              "%s: overlapping tokens and ys accepted", path);
        free(shared);
    } else {
        CHECK(recur_step_token(s, 0, y, out) == RECUR_ERROR_UNSUPPORTED && strstr(recur_last_error(), "recur_step"),
              "%s: recur_step_token on a vector model: %s", path, recur_last_error());
        if (sequence)
            CHECK(recur_step(s, xs, in, y, out) == RECUR_ERROR_UNSUPPORTED && strstr(recur_last_error(), "recur_run"),
                  "%s: recur_step on a sequence model: %s", path, recur_last_error());
        if (sequence && out <= in) {
            /* In place in sequence mode: every input is read twice. */
            float *buf = malloc(sizeof(float) * in * STEPS);
            memcpy(buf, xs, sizeof(float) * in * STEPS);
            recur_stream_reset(r);
            st = recur_run(r, STEPS, buf, in * STEPS, buf, out * STEPS);
            CHECK(st == RECUR_OK && memcmp(buf, ys2, sizeof(float) * out * STEPS) == 0,
                  "%s: sequence-mode run in place differs (%d)", path, st);
            free(buf);
        }
    }

    /* State out and in, every layer. */
    for (size_t l = 0; l < recur_model_layer_count(model); l++) {
        size_t hn = 0, cn = 0;
        CHECK(recur_model_state_size(model, l, &hn, &cn) == RECUR_OK, "%s: state_size(%zu)", path, l);
        float *h = malloc(sizeof(float) * (hn + 1)), *c = malloc(sizeof(float) * (cn + 1));
        alloc_calls = 0;
        alloc_counting = 1;
        st = recur_stream_get_state(r, l, h, hn, c, cn);
        st |= recur_stream_set_state(s, l, h, hn, c, cn);
        alloc_counting = 0;
        CHECK(st == RECUR_OK && alloc_calls == 0, "%s: state transfer of layer %zu", path, l);
        if (hn) CHECK(recur_stream_get_state(r, l, h, hn + 1, c, cn) == RECUR_ERROR_SIZE_MISMATCH, "%s: h_count", path);
        free(h);
        free(c);
    }
    CHECK(recur_model_state_size(model, 99, NULL, NULL) == RECUR_ERROR_OUT_OF_RANGE, "%s: layer 99", path);
    free(y); free(xs); free(ys); free(ys2); free(tokens);
    recur_stream_free(s);
    recur_stream_free(r);
}

/* Overlap rules, NaN and reset, through a plain streaming model. */
static void test_overlap_and_nan(const char *path, recur_model *model, const float *xs) {
    size_t in = recur_model_input_size(model), out = recur_model_output_size(model);
    size_t width = in > out ? in : out;
    enum { N = 50 };
    float *want = malloc(sizeof(float) * out * N), *buf = malloc(sizeof(float) * width * (N + 1));
    recur_stream *s = NULL;
    recur_stream_create(model, &s);
    recur_run(s, N, xs, in * N, want, out * N);

    /* recur_step in place: x and y the same floats. */
    recur_stream_reset(s);
    int same = 1;
    for (size_t t = 0; t < N; t++) {
        memcpy(buf, xs + t * in, sizeof(float) * in);
        same &= recur_step(s, buf, in, buf, out) == RECUR_OK && memcmp(buf, want + t * out, sizeof(float) * out) == 0;
    }
    CHECK(same, "%s: recur_step in place differs", path);

    /* recur_run in place, allowed when output_size <= input_size. */
    recur_stream_reset(s);
    memcpy(buf, xs, sizeof(float) * in * N);
    recur_status st = recur_run(s, N, buf, in * N, buf, out * N);
    if (out <= in) {
        CHECK(st == RECUR_OK && memcmp(buf, want, sizeof(float) * out * N) == 0, "%s: recur_run in place: %d", path, st);
    } else {
        CHECK(st == RECUR_ERROR_INVALID_ARGUMENT, "%s: in-place run with output > input gave %d", path, st);
    }
    /* Any other overlap is refused, and nothing is written. */
    recur_stream_reset(s);
    memcpy(buf, xs, sizeof(float) * in * N);
    st = recur_run(s, N - 1, buf, in * (N - 1), buf + 1, out * (N - 1));
    CHECK(st == RECUR_ERROR_INVALID_ARGUMENT && strstr(recur_last_error(), "overlap"), "%s: shifted overlap gave %d", path, st);
    CHECK(memcmp(buf, xs, sizeof(float) * in * N) == 0, "%s: a refused run wrote", path);

    /* NaN in: NaN out, and the state stays NaN until reset. */
    recur_stream_reset(s);
    float *nan_x = malloc(sizeof(float) * in), *y = malloc(sizeof(float) * out);
    for (size_t i = 0; i < in; i++) nan_x[i] = NAN;
    recur_step(s, nan_x, in, y, out);
    int all_nan = 1, has_state = 0;
    recur_step(s, xs, in, y, out);
    for (size_t j = 0; j < out; j++) all_nan &= isnan(y[j]) != 0;
    for (size_t l = 0; l < recur_model_layer_count(model); l++) {
        size_t h = 0;
        recur_model_state_size(model, l, &h, NULL);
        has_state |= h > 0;
    }
    CHECK(all_nan || !has_state, "%s: a NaN input did not carry into the next step", path);
    recur_stream_reset(s);
    recur_step(s, xs, in, y, out);
    CHECK(memcmp(y, want, sizeof(float) * out) == 0, "%s: reset did not clear a NaN state", path);

    /* Caller memory: inputs and outputs must not lie inside the stream. */
    size_t need = recur_stream_size(model);
    unsigned char *mem = aligned_alloc(64, (need + 63) / 64 * 64);
    recur_stream *c = NULL;
    recur_stream_init(model, mem, need, &c);
    float *inside = (float *)(mem + need - sizeof(float) * out);
    CHECK(recur_step(c, xs, in, inside, out) == RECUR_ERROR_INVALID_ARGUMENT, "%s: y inside the stream accepted", path);
    CHECK(recur_step(c, (const float *)(mem + 64), in, y, out) == RECUR_ERROR_INVALID_ARGUMENT, "%s: x inside the stream accepted", path);
    size_t hn = 0, cn = 0;
    recur_model_state_size(model, 0, &hn, &cn);
    if (cn) {
        float *state = malloc(sizeof(float) * (hn + cn));
        CHECK(recur_stream_get_state(c, 0, state, hn, state + hn - 1, cn) == RECUR_ERROR_INVALID_ARGUMENT,
              "%s: get_state into overlapping h and c accepted", path);
        CHECK(recur_stream_get_state(c, 0, state, hn, state + hn, cn) == RECUR_OK, "%s: get_state", path);
        free(state);
    }
    recur_stream_free(c);
    free(mem);
    free(nan_x);
    free(y);
    free(want);
    free(buf);
    recur_stream_free(s);
}

static void test_model(const char *path) {
    recur_model *model = NULL;
    recur_status st = load_narrow(path, &model);  /* narrow.h */
    CHECK(st == RECUR_OK && model, "%s: load_file gave %d: %s", path, st, recur_last_error());
    if (!model) return;
    {
        recur_stream *probe = NULL;
        float *x = calloc(recur_model_input_size(model), sizeof(float)), *y = calloc(recur_model_output_size(model), sizeof(float));
        recur_stream_create(model, &probe);
        int special = recur_model_vocab_size(model) > 0 ||
                      recur_step(probe, x, recur_model_input_size(model), y, recur_model_output_size(model)) == RECUR_ERROR_UNSUPPORTED;
        recur_stream_free(probe);
        free(x);
        free(y);
        if (special) {
            test_special_model(path, model);
            recur_model_free(model);
            return;
        }
    }
    size_t in = recur_model_input_size(model), out = recur_model_output_size(model);
    CHECK(in > 0 && out > 0, "%s: sizes %zu, %zu", path, in, out);

    size_t file_size = 0;
    unsigned char *bytes = read_all(path, &file_size);
    recur_model *twin = NULL;
    st = load_narrow_memory(bytes, file_size, &twin);
    CHECK(st == RECUR_OK && twin, "%s: load_memory gave %d: %s", path, st, recur_last_error());
    free(bytes);

    float *xs = malloc(sizeof(float) * in * STEPS);
    float *ys = malloc(sizeof(float) * out * STEPS);
    float *ys2 = malloc(sizeof(float) * out * STEPS);
    fill(xs, in * STEPS, 12345u);

    /* Golden outputs, when the fixture has them. */
    size_t gx_count = 0, gy_count = 0;
    float *gx = read_floats(path, ".x.f32", &gx_count);
    float *gy = read_floats(path, ".y.f32", &gy_count);
    if (gx && gy) {
        size_t steps = gx_count / in;
        CHECK(steps * in == gx_count && steps * out == gy_count, "%s: fixture sizes", path);
        recur_stream *s = NULL;
        recur_stream_create(model, &s);
        float worst = 0;
        float *y = malloc(sizeof(float) * out);
        for (size_t t = 0; t < steps; t++) {
            recur_step(s, gx + t * in, in, y, out);
            for (size_t j = 0; j < out; j++) {
                float d = fabsf(y[j] - gy[t * out + j]);
                if (!(d <= worst)) worst = d;  /* NaN counts as worst */
            }
        }
        CHECK(worst <= TOLERANCE, "%s: max |recur - torch| over %zu steps is %g", path, steps, worst);
        free(y);
        recur_stream_free(s);
    }
    free(gx);
    free(gy);

    /* Zero allocations while stepping. The interposer does see the library:
     * creating a stream is one allocation. */
    recur_stream *s = NULL;
    alloc_calls = 0;
    alloc_counting = 1;
    st = recur_stream_create(model, &s);
    alloc_counting = 0;
    CHECK(st == RECUR_OK && s, "%s: stream_create gave %d", path, st);
    CHECK(alloc_calls >= 1, "%s: the interposer saw no allocation in recur_stream_create", path);
    int step_errors = 0;
    alloc_calls = 0;
    alloc_counting = 1;
    for (size_t t = 0; t < STEPS; t++)
        step_errors += recur_step(s, xs + t * in, in, ys + t * out, out) != RECUR_OK;
    alloc_counting = 0;
    CHECK(step_errors == 0, "%s: %d steps failed", path, step_errors);
    CHECK(alloc_calls == 0, "%s: %ld allocator calls during %d recur_step calls", path, alloc_calls, STEPS);

    recur_stream *r = NULL;
    recur_stream_create(model, &r);
    alloc_calls = 0;
    alloc_counting = 1;
    st = recur_run(r, STEPS, xs, in * STEPS, ys2, out * STEPS);
    recur_stream_reset(r);
    alloc_counting = 0;
    CHECK(st == RECUR_OK, "%s: recur_run gave %d: %s", path, st, recur_last_error());
    CHECK(alloc_calls == 0, "%s: %ld allocator calls during recur_run of %d steps and reset", path, alloc_calls, STEPS);
    CHECK(memcmp(ys, ys2, sizeof(float) * out * STEPS) == 0, "%s: recur_run differs from recur_step", path);

    /* Reset gives the same outputs as a fresh stream. */
    float *first = malloc(sizeof(float) * out), *again = malloc(sizeof(float) * out);
    recur_step(r, xs, in, first, out);
    CHECK(memcmp(first, ys, sizeof(float) * out) == 0, "%s: after reset the first output differs", path);

    /* The same model loaded from memory gives the same numbers. */
    if (twin) {
        recur_stream *m = NULL;
        recur_stream_create(twin, &m);
        recur_step(m, xs, in, again, out);
        CHECK(memcmp(first, again, sizeof(float) * out) == 0, "%s: load_memory model differs", path);
        recur_stream_free(m);
    }

    /* Caller memory. */
    size_t need = recur_stream_size(model), align = recur_stream_alignment();
    CHECK(need > 0 && align == 64, "%s: stream_size %zu, alignment %zu", path, need, align);
    unsigned char *mem = aligned_alloc(align, need + align);
    recur_stream *c = (recur_stream *)1;
    CHECK(recur_stream_init(model, mem, need - 1, &c) == RECUR_ERROR_BUFFER_TOO_SMALL && c == NULL,
          "%s: short memory accepted", path);
    CHECK(recur_stream_init(model, mem + 4, need, &c) == RECUR_ERROR_BUFFER_TOO_SMALL && c == NULL,
          "%s: misaligned memory accepted", path);
    st = recur_stream_init(model, mem, need, &c);
    CHECK(st == RECUR_OK && c, "%s: stream_init gave %d: %s", path, st, recur_last_error());
    if (c) {
        alloc_calls = 0;
        alloc_counting = 1;
        recur_step(c, xs, in, again, out);
        alloc_counting = 0;
        CHECK(alloc_calls == 0, "%s: caller-memory step allocated", path);
        CHECK(memcmp(first, again, sizeof(float) * out) == 0, "%s: caller-memory stream differs", path);
        recur_stream_free(c);  /* retires it; the memory is ours again */
        CHECK(recur_step(c, xs, in, again, out) == RECUR_ERROR_BAD_HANDLE, "%s: retired stream accepted", path);
    }
    free(mem);

    /* Refused arguments leave output and state untouched. */
    recur_stream *a = NULL, *b = NULL;
    recur_stream_create(model, &a);
    recur_stream_create(model, &b);
    recur_step(a, xs, in, ys2, out);
    recur_step(b, xs, in, ys2, out);
    float sentinel = 12345.0f;
    for (size_t j = 0; j < out; j++) again[j] = sentinel;
    CHECK(recur_step(a, xs, in + 1, again, out) == RECUR_ERROR_SIZE_MISMATCH, "%s: x_count+1", path);
    CHECK(recur_step(a, xs, in - 1, again, out) == RECUR_ERROR_SIZE_MISMATCH, "%s: x_count-1", path);
    CHECK(recur_step(a, xs, in, again, out + 1) == RECUR_ERROR_SIZE_MISMATCH, "%s: y_count+1", path);
    CHECK(recur_step(a, xs, SIZE_MAX, again, out) == RECUR_ERROR_SIZE_MISMATCH, "%s: x_count SIZE_MAX", path);
    CHECK(strstr(recur_last_error(), "x_count") != NULL, "%s: detail '%s'", path, recur_last_error());
    CHECK(recur_step(a, NULL, in, again, out) == RECUR_ERROR_INVALID_ARGUMENT, "%s: NULL x", path);
    CHECK(recur_step(a, xs, in, NULL, out) == RECUR_ERROR_INVALID_ARGUMENT, "%s: NULL y", path);
    CHECK(recur_step(NULL, xs, in, again, out) == RECUR_ERROR_INVALID_ARGUMENT, "%s: NULL stream", path);
    CHECK(recur_run(a, 2, xs, in * 2 + 1, ys2, out * 2) == RECUR_ERROR_SIZE_MISMATCH, "%s: xs_count", path);
    CHECK(recur_run(a, 2, xs, in * 2, ys2, out * 2 - 1) == RECUR_ERROR_SIZE_MISMATCH, "%s: ys_count", path);
    CHECK(recur_run(a, SIZE_MAX, xs, in, ys2, out) == RECUR_ERROR_SIZE_MISMATCH, "%s: steps overflow", path);
    CHECK(recur_run(a, 0, NULL, 0, NULL, 0) == RECUR_OK, "%s: zero steps", path);
    int untouched = 1;
    for (size_t j = 0; j < out; j++) untouched &= again[j] == sentinel;
    CHECK(untouched, "%s: a refused call wrote to y", path);
    recur_step(a, xs + in, in, first, out);
    recur_step(b, xs + in, in, again, out);
    CHECK(memcmp(first, again, sizeof(float) * out) == 0, "%s: a refused call changed the state", path);
    recur_stream_free(a);
    recur_stream_free(b);

    test_overlap_and_nan(path, model, xs);

    free(first);
    free(again);
    free(xs);
    free(ys);
    free(ys2);
    recur_stream_free(s);
    recur_stream_free(r);
    recur_model_free(twin);
    recur_model_free(model);
}

/* Generated from include/recur.h by the Makefile (out/gen): every status
 * code the header declares. */
static const char *status_names[] = {
#include "status_names.h"
};

static void test_contract(void) {
    CHECK(strcmp(recur_version(), RECUR_VERSION_STRING) == 0, "version %s", recur_version());
    CHECK(recur_version_number() == RECUR_VERSION_NUMBER, "version number %d", recur_version_number());
    int codes = (int)(sizeof status_names / sizeof *status_names);
    CHECK(codes >= 14, "only %d status codes in the generated table", codes);
    for (int i = 0; i < codes; i++) {
        const char *text = recur_status_string((recur_status)i);
        CHECK(status_names[i] != NULL, "status %d is missing from the header's enum", i);
        CHECK(text && *text && strcmp(text, "unknown status") != 0, "status %d (%s) has no text", i, status_names[i]);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(text, recur_status_string((recur_status)j)) != 0, "status %d and %d share text", i, j);
    }
    /* The library knows no code the header does not declare. */
    CHECK(strcmp(recur_status_string((recur_status)codes), "unknown status") == 0, "status %d has text", codes);
    CHECK(strcmp(recur_status_string((recur_status)999), "unknown status") == 0, "unknown status text");
    CHECK(strcmp(recur_status_string((recur_status)-1), "unknown status") == 0, "status -1 has text");

    recur_model *m = (recur_model *)1;
    CHECK(recur_model_load_file(NULL, &m) == RECUR_ERROR_INVALID_ARGUMENT && m == NULL, "NULL path");
    CHECK(recur_model_load_file("x", NULL) == RECUR_ERROR_INVALID_ARGUMENT, "NULL out");
    CHECK(recur_model_load_memory(NULL, 10, &m) == RECUR_ERROR_INVALID_ARGUMENT, "NULL data");
    CHECK(recur_model_load_file("/nonexistent/model.recur", &m) == RECUR_ERROR_IO && m == NULL, "missing path");
    CHECK(strstr(recur_last_error(), "/nonexistent/model.recur") != NULL, "detail names the path: %s", recur_last_error());
    CHECK(recur_model_load_file("/", &m) == RECUR_ERROR_IO, "directory accepted");

    /* Foreign handles: memory this library never made. */
    _Alignas(64) unsigned char foreign[256] = {0};
    recur_stream *s = (recur_stream *)1;
    CHECK(recur_stream_create((recur_model *)foreign, &s) == RECUR_ERROR_BAD_HANDLE && s == NULL, "foreign model");
    CHECK(recur_stream_create(NULL, &s) == RECUR_ERROR_INVALID_ARGUMENT, "NULL model");
    CHECK(recur_model_input_size((recur_model *)foreign) == 0 && recur_model_input_size(NULL) == 0, "foreign sizes");
    CHECK(recur_stream_size(NULL) == 0, "stream_size(NULL)");
    float x = 0, y = 0;
    CHECK(recur_step((recur_stream *)foreign, &x, 1, &y, 1) == RECUR_ERROR_BAD_HANDLE, "foreign stream");
    recur_model_free(NULL);
    recur_stream_free(NULL);
    recur_stream_reset(NULL);
    recur_model_free((recur_model *)foreign);
    recur_stream_free((recur_stream *)foreign);
}

int main(int argc, char **argv) {
    /* make test-tiers names the tier each run must get (natively with
     * RECUR_ISA, or under qemu-x86_64 -cpu Haswell / Nehalem). */
    const char *expected = getenv("RECUR_EXPECT_ISA");
    printf("test_api: stepping with the %s tier\n", recur_isa());
    if (expected) CHECK(strcmp(recur_isa(), expected) == 0, "tier %s, expected %s", recur_isa(), expected);
    test_contract();
    for (int i = 1; i < argc; i++) test_model(argv[i]);
    CHECK(argc > 1, "no model given");
    return check_summary("test_api");
}
