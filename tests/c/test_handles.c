/* Handles and lifetimes through the C API: every misuse of a freed, retired,
 * stale or foreign handle, and every release order. Each case runs in its own
 * child process, so a case that crashes is reported as a crash instead of
 * ending the test; the table printed at the end says what each case did.
 *
 *   test_handles SMALL.recur LARGE.recur BIG_STREAM.recur
 *
 * SMALL's weights fit a glibc heap chunk; LARGE's weights (>= 128 KiB) and
 * BIG_STREAM's stream (>= 256 KiB) are mmap-ed by glibc and unmapped when
 * freed, so a library that reads freed memory crashes on them; smaller freed
 * blocks are overwritten (M_PERTURB), so reading them gives wrong numbers.
 *
 * Expected: a freed, retired or foreign handle gives RECUR_ERROR_BAD_HANDLE
 * (free functions ignore it); a model freed while streams are live stays
 * alive until the last stream is freed, so those streams keep computing the
 * same numbers; nothing leaks. Under AddressSanitizer (make test-asan) the
 * same cases must run without a report. */
#define _GNU_SOURCE /* strsignal */
#include "alloc_counter.h"
#include "check.h"

#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <recur.h>

static const char *small_path, *large_path, *big_stream_path;

/* Exit codes of a case's child process. */
enum { PASS = 0, WRONG = 3 };  /* 1 is AddressSanitizer's */

static recur_model *load(const char *path) {
    recur_model *m = NULL;
    if (recur_model_load_file(path, &m) != RECUR_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, recur_last_error());
        exit(WRONG);
    }
    return m;
}

/* Floats in and out of one step, filled deterministically. */
typedef struct { size_t in, out; float *x, *y, *want; } io;

static io make_io(recur_model *m) {
    io v = {recur_model_input_size(m), recur_model_output_size(m), NULL, NULL, NULL};
    v.x = malloc(sizeof(float) * v.in);
    v.y = malloc(sizeof(float) * v.out);
    v.want = malloc(sizeof(float) * v.out);
    for (size_t i = 0; i < v.in; i++) v.x[i] = (float)((int)(i % 7) - 3) * 0.25f;
    return v;
}

static void free_io(io *v) { free(v->x); free(v->y); free(v->want); }

/* The first output of a fresh stream of `m`. */
static void reference(recur_model *m, io *v) {
    recur_stream *s = NULL;
    recur_stream_create(m, &s);
    recur_step(s, v->x, v->in, v->want, v->out);
    recur_stream_free(s);
}

#define EXPECT(cond, ...) do { if (!(cond)) { fprintf(stderr, "    " __VA_ARGS__); fputc('\n', stderr); exit(WRONG); } } while (0)

static void step_after_stream_free(const char *path) {
    recur_model *m = load(path);
    io v = make_io(m);
    recur_stream *s = NULL;
    recur_stream_create(m, &s);
    recur_stream_free(s);
    recur_status st = recur_step(s, v.x, v.in, v.y, v.out);
    EXPECT(st == RECUR_ERROR_BAD_HANDLE, "recur_step on a freed stream gave %d", st);
    recur_model_free(m);
    free_io(&v);
}

static void step_after_stream_free_small(void) { step_after_stream_free(small_path); }
static void step_after_stream_free_large(void) { step_after_stream_free(large_path); }

static void stream_free_twice(const char *path) {
    recur_model *m = load(path);
    recur_stream *s = NULL;
    recur_stream_create(m, &s);
    recur_stream_free(s);
    recur_stream_free(s);
    recur_model_free(m);
}

static void stream_free_twice_small(void) { stream_free_twice(small_path); }
static void stream_free_twice_big(void) { stream_free_twice(big_stream_path); }

/* The stream outlives its model's handle and still gives the same numbers. */
static void step_after_model_free(const char *path) {
    recur_model *m = load(path);
    io v = make_io(m);
    reference(m, &v);
    recur_stream *s = NULL;
    recur_stream_create(m, &s);
    recur_model_free(m);
    memset(v.y, 0, sizeof(float) * v.out);
    recur_status st = recur_step(s, v.x, v.in, v.y, v.out);
    EXPECT(st == RECUR_OK, "recur_step after recur_model_free gave %d: %s", st, recur_last_error());
    EXPECT(memcmp(v.y, v.want, sizeof(float) * v.out) == 0, "the zombie model computes different numbers");
    recur_stream_free(s);
    free_io(&v);
}

static void step_after_model_free_small(void) { step_after_model_free(small_path); }
static void step_after_model_free_large(void) { step_after_model_free(large_path); }

static void model_free_twice(const char *path) {
    recur_model *m = load(path);
    recur_model_free(m);
    recur_model_free(m);
}

static void model_free_twice_small(void) { model_free_twice(small_path); }
static void model_free_twice_large(void) { model_free_twice(large_path); }

/* A freed model handle: queries answer 0, calls give BAD_HANDLE. */
static void model_calls_after_free(void) {
    recur_model *m = load(large_path);
    recur_model_free(m);
    EXPECT(recur_model_input_size(m) == 0 && recur_model_output_size(m) == 0, "sizes of a freed model");
    EXPECT(recur_model_layer_count(m) == 0 && recur_model_vocab_size(m) == 0, "layers of a freed model");
    EXPECT(recur_stream_size(m) == 0, "stream size of a freed model");
    size_t h = 0, c = 0;
    recur_status st = recur_model_state_size(m, 0, &h, &c);
    EXPECT(st == RECUR_ERROR_BAD_HANDLE, "state_size gave %d", st);
    recur_stream *s = (recur_stream *)1;
    st = recur_stream_create(m, &s);
    EXPECT(st == RECUR_ERROR_BAD_HANDLE && s == NULL, "stream_create gave %d", st);
    _Alignas(64) static unsigned char memory[1 << 16];
    st = recur_stream_init(m, memory, sizeof memory, &s);
    EXPECT(st == RECUR_ERROR_BAD_HANDLE && s == NULL, "stream_init gave %d", st);
}

/* Every call taking a stream, on a freed stream whose model is still live. */
static void stream_calls_after_free(void) {
    recur_model *m = load(large_path);
    io v = make_io(m);
    recur_stream *s = NULL;
    recur_stream_create(m, &s);
    recur_stream_free(s);
    float ys[4 * 64];
    size_t h = 0, c = 0;
    recur_model_state_size(m, 0, &h, &c);
    float *state = calloc(h + c + 1, sizeof(float));
    recur_stream_reset(s);
    EXPECT(recur_run(s, 1, v.x, v.in, ys, v.out) == RECUR_ERROR_BAD_HANDLE, "recur_run");
    EXPECT(recur_step_token(s, 0, ys, v.out) == RECUR_ERROR_BAD_HANDLE, "recur_step_token");
    int32_t token = 0;
    EXPECT(recur_run_tokens(s, 1, &token, 1, ys, v.out) == RECUR_ERROR_BAD_HANDLE, "recur_run_tokens");
    EXPECT(recur_stream_reserve(s, 4) == RECUR_ERROR_BAD_HANDLE, "recur_stream_reserve");
    EXPECT(recur_stream_get_state(s, 0, state, h, c ? state + h : NULL, c) == RECUR_ERROR_BAD_HANDLE, "get_state");
    EXPECT(recur_stream_set_state(s, 0, state, h, c ? state + h : NULL, c) == RECUR_ERROR_BAD_HANDLE, "set_state");
    EXPECT(strstr(recur_last_error(), "freed") != NULL, "detail '%s' does not say freed", recur_last_error());
    free(state);
    recur_model_free(m);
    free_io(&v);
}

/* A stream retired with recur_stream_free while its caller memory remains. */
static void caller_memory_retired(void) {
    recur_model *m = load(small_path);
    io v = make_io(m);
    size_t need = recur_stream_size(m);
    void *memory = aligned_alloc(64, (need + 63) / 64 * 64);
    recur_stream *s = NULL;
    EXPECT(recur_stream_init(m, memory, need, &s) == RECUR_OK, "stream_init: %s", recur_last_error());
    recur_stream_free(s);
    recur_status st = recur_step(s, v.x, v.in, v.y, v.out);
    EXPECT(st == RECUR_ERROR_BAD_HANDLE, "recur_step on a retired stream gave %d", st);
    recur_stream_free(s);
    free(memory);
    recur_model_free(m);
    free_io(&v);
}

/* A model freed while a caller-memory stream lives: the stream keeps it. */
static void caller_memory_outlives_model(void) {
    recur_model *m = load(large_path);
    io v = make_io(m);
    reference(m, &v);
    size_t need = recur_stream_size(m);
    void *memory = aligned_alloc(64, (need + 63) / 64 * 64);
    recur_stream *s = NULL;
    EXPECT(recur_stream_init(m, memory, need, &s) == RECUR_OK, "stream_init: %s", recur_last_error());
    recur_model_free(m);
    recur_status st = recur_step(s, v.x, v.in, v.y, v.out);
    EXPECT(st == RECUR_OK, "step after model free gave %d: %s", st, recur_last_error());
    EXPECT(memcmp(v.y, v.want, sizeof(float) * v.out) == 0, "different numbers");
    recur_stream_free(s);
    free(memory);
    free_io(&v);
}

/* A handle whose slot was reused by a newer stream stays refused, and the
 * newer stream is unaffected by calls on the stale one. */
static void stale_handle_after_reuse(void) {
    recur_model *m = load(small_path);
    io v = make_io(m);
    reference(m, &v);
    recur_stream *old = NULL, *fresh = NULL;
    recur_stream_create(m, &old);
    recur_stream_free(old);
    recur_stream_create(m, &fresh);
    EXPECT(recur_step(old, v.x, v.in, v.y, v.out) == RECUR_ERROR_BAD_HANDLE, "stale handle accepted");
    recur_stream_free(old);
    recur_stream_reset(old);
    recur_status st = recur_step(fresh, v.x, v.in, v.y, v.out);
    EXPECT(st == RECUR_OK && memcmp(v.y, v.want, sizeof(float) * v.out) == 0, "the newer stream was disturbed");
    recur_stream_free(fresh);
    recur_model *m2 = load(small_path);
    EXPECT(recur_model_input_size(m) == 0 || m2 != m, "a freed model handle names the new model");
    recur_model_free(m);
    EXPECT(recur_model_input_size(m2) > 0, "the model loaded later was freed through an old handle");
    recur_model_free(m2);
    free_io(&v);
}

/* A stream handle where a model is expected and the reverse. */
static void handles_of_the_wrong_kind(void) {
    recur_model *m = load(small_path);
    io v = make_io(m);
    recur_stream *s = NULL;
    recur_stream_create(m, &s);
    recur_stream *t = NULL;
    recur_status st = recur_stream_create((recur_model *)s, &t);
    EXPECT(st == RECUR_ERROR_BAD_HANDLE && t == NULL, "a stream handle taken as a model: %d", st);
    st = recur_step((recur_stream *)m, v.x, v.in, v.y, v.out);
    EXPECT(st == RECUR_ERROR_BAD_HANDLE, "a model handle taken as a stream: %d", st);
    recur_model_free((recur_model *)s);   /* ignored */
    recur_stream_free((recur_stream *)m); /* ignored */
    EXPECT(recur_step(s, v.x, v.in, v.y, v.out) == RECUR_OK, "the stream was hurt by a wrong-kind free");
    EXPECT(recur_model_input_size(m) == v.in, "the model was hurt by a wrong-kind free");
    recur_stream_free(s);
    recur_model_free(m);
    free_io(&v);
}

/* Every release order returns every block. */
static void no_leak_in_any_order(void) {
    for (int order = 0; order < 3; order++) {
        recur_model *m = load(large_path);
        recur_model_free(load(small_path)); /* warm one-time runtime caches */
        long live = alloc_live;
        recur_model_free(m);
        m = load(large_path);
        recur_stream *a = NULL, *b = NULL;
        recur_stream_create(m, &a);
        recur_stream_create(m, &b);
        if (order == 0) { recur_stream_free(a); recur_stream_free(b); recur_model_free(m); }
        if (order == 1) { recur_model_free(m); recur_stream_free(a); recur_stream_free(b); }
        if (order == 2) { recur_stream_free(a); recur_model_free(m); recur_stream_free(b); }
#ifndef NO_ALLOC_COUNTER  /* under AddressSanitizer, LeakSanitizer checks this at exit */
        EXPECT(alloc_live == live - 1, "order %d: %ld blocks left", order, alloc_live - (live - 1));
#else
        (void)live;
#endif
    }
}

typedef struct { const char *name; void (*run)(void); } test_case;

static const test_case cases[] = {
    {"step on a freed stream (small model)", step_after_stream_free_small},
    {"step on a freed stream (model >= 128 KiB)", step_after_stream_free_large},
    {"stream freed twice (small)", stream_free_twice_small},
    {"stream freed twice (stream >= 256 KiB)", stream_free_twice_big},
    {"step after its model is freed (small)", step_after_model_free_small},
    {"step after its model is freed (>= 128 KiB)", step_after_model_free_large},
    {"model freed twice (small)", model_free_twice_small},
    {"model freed twice (>= 128 KiB)", model_free_twice_large},
    {"every model call on a freed model", model_calls_after_free},
    {"every stream call on a freed stream", stream_calls_after_free},
    {"caller-memory stream retired, then used and retired again", caller_memory_retired},
    {"caller-memory stream outlives its model's handle", caller_memory_outlives_model},
    {"stale handle after its slot is reused", stale_handle_after_reuse},
    {"stream handle as model and model handle as stream", handles_of_the_wrong_kind},
    {"no leak in any release order", no_leak_in_any_order},
};

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: test_handles SMALL.recur LARGE.recur BIG_STREAM.recur\n");
        return 2;
    }
    small_path = argv[1];
    large_path = argv[2];
    big_stream_path = argv[3];
    /* Make use-after-free visible whatever ran before: blocks of 128 KiB and
     * more are always mmap-ed (and unmapped when freed), and freed memory is
     * overwritten. (AddressSanitizer ignores these and reports instead.) */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_PERTURB, 0xA5);
    printf("| case | result |\n| --- | --- |\n");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            cases[i].run();
            exit(PASS);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        char result[64];
        if (WIFSIGNALED(status))
            snprintf(result, sizeof result, "crash (%s)", strsignal(WTERMSIG(status)));
        else if (WEXITSTATUS(status) == PASS)
            snprintf(result, sizeof result, "as expected");
        else if (WEXITSTATUS(status) == WRONG)
            snprintf(result, sizeof result, "wrong result");
        else
            snprintf(result, sizeof result, "sanitizer report (exit %d)", WEXITSTATUS(status));
        printf("| %s | %s |\n", cases[i].name, result);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == PASS, "%s: %s", cases[i].name, result);
    }
    return check_summary("test_handles");
}
