/* The threading contract of include/recur.h ("Threads"), run plain and under
 * ThreadSanitizer (make test-tsan):
 *  - WORKERS threads step their own streams of one shared model (each model
 *    given, in turn) and get outputs bit-identical to one thread's;
 *  - meanwhile a churn thread loads, steps and frees other models, creates
 *    and frees streams of the shared model, and makes failing calls;
 *  - halfway, the main thread frees the shared model: the workers' streams
 *    keep its weights and go on computing the same numbers;
 *  - each thread's recur_last_error is its own;
 *  - before that, WORKERS threads step disjoint groups of streams of the
 *    shared model with recur_step_streams at once, each stream's outputs
 *    bit-identical to one thread's recur_step.
 *
 *   test_threads SHARED.recur ... -- CHURN.recur ... */
#define _GNU_SOURCE
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include <recur.h>

#define WORKERS 4
#define STEPS 4000 /* per worker: 4 runs of STEPS / 4 in sequence mode */

typedef struct {
    recur_model *model;
    size_t in, out, vocab;
    int sequence;
    float *xs;     /* STEPS inputs */
    int32_t *tokens;
    float *want;   /* STEPS outputs, from one thread */
} shared;

static shared subject;
static pthread_barrier_t started, freed;
static atomic_int churn_stop;
static const char **churn_paths;
static int churn_count;

/* STEPS steps on a fresh stream of the subject's model into ys; `before_half`
 * runs once halfway (the main thread frees the model then). */
static int run_steps(recur_stream *s, float *ys, void (*before_half)(void)) {
    const shared *t = &subject;
    int bad = 0;
    if (t->sequence) {  /* four runs, each continuing the forward cells */
        for (int q = 0; q < 4; q++) {
            if (q == 2 && before_half) before_half();
            size_t n = STEPS / 4, at = (size_t)q * n;
            bad |= t->vocab ? recur_run_tokens(s, n, t->tokens + at, n, ys + at * t->out, n * t->out)
                            : recur_run(s, n, t->xs + at * t->in, n * t->in, ys + at * t->out, n * t->out);
        }
        return bad;
    }
    for (size_t i = 0; i < STEPS; i++) {
        if (i == STEPS / 2 && before_half) before_half();
        bad |= t->vocab ? recur_step_token(s, t->tokens[i], ys + i * t->out, t->out)
                        : recur_step(s, t->xs + i * t->in, t->in, ys + i * t->out, t->out);
    }
    return bad;
}

static void wait_for_free(void) {
    pthread_barrier_wait(&freed);  /* the main thread frees the model between these */
    pthread_barrier_wait(&freed);
}

static void *worker(void *arg) {
    long id = (long)arg;
    recur_stream *s = NULL;
    float *ys = malloc(sizeof(float) * STEPS * subject.out);
    int ok = recur_stream_create(subject.model, &s) == RECUR_OK && recur_stream_reserve(s, STEPS / 4) == RECUR_OK;
    pthread_barrier_wait(&started);
    int stepped = run_steps(s, ys, wait_for_free) == 0;
    ok = ok && stepped && memcmp(ys, subject.want, sizeof(float) * STEPS * subject.out) == 0;
    if (!ok) fprintf(stderr, "worker %ld: %s\n", id, stepped ? "outputs differ" : recur_last_error());
    /* This thread's message stays its own while the others fail calls. */
    recur_stream_get_state(s, 1u << 20, NULL, 0, NULL, 0);
    char mine[2048];
    snprintf(mine, sizeof mine, "%s", recur_last_error());
    for (int k = 0; k < 1000; k++) ok = ok && strcmp(recur_last_error(), mine) == 0;
    recur_stream_free(s);
    free(ys);
    return (void *)(intptr_t)(ok ? 0 : 1 + id);
}

/* Loads, steps and frees other models until told to stop; streams of the
 * shared model come and go too, racing with its free (after which creating
 * one gets BAD_HANDLE). */
static void *churn(void *arg) {
    (void)arg;
    long rounds = 0, bad = 0;
    while (!atomic_load(&churn_stop) || rounds < 3) {
        for (int k = 0; k < churn_count; k++) {
            recur_model *m = NULL;
            recur_stream *s = NULL;
            if (recur_model_load_file(churn_paths[k], &m) != RECUR_OK) { bad++; continue; }
            size_t in = recur_model_input_size(m), out = recur_model_output_size(m);
            float *x = calloc(in ? in : 1, sizeof(float)), *y = calloc(out, sizeof(float));
            if (recur_stream_create(m, &s) == RECUR_OK) {
                recur_model_free(m);  /* the stream keeps it */
                if (recur_model_vocab_size(m) == 0) recur_step(s, x, in, y, out);
                recur_stream_free(s);
            } else {
                bad++;
                recur_model_free(m);
            }
            if (recur_step(s, x, in, y, out) != RECUR_ERROR_BAD_HANDLE) bad++;  /* freed: refused */
            free(x), free(y);
        }
        recur_stream *t = NULL;
        recur_status r = recur_stream_create(subject.model, &t);
        if (r == RECUR_OK) recur_stream_free(t);
        else if (r != RECUR_ERROR_BAD_HANDLE) bad++;
        rounds++;
    }
    return (void *)(intptr_t)bad;
}

#define GROUP 5
#define GROUP_STEPS (STEPS / 8)

/* A group of GROUP streams stepped together GROUP_STEPS times; every
 * stream's outputs must be those of one thread's recur_step. */
static void *group_worker(void *arg) {
    long id = (long)arg;
    const shared *t = &subject;
    recur_stream *s[GROUP];
    int ok = 1;
    for (int k = 0; k < GROUP; k++) ok = ok && recur_stream_create(t->model, &s[k]) == RECUR_OK;
    float *xs = malloc(sizeof(float) * GROUP * (t->in ? t->in : 1)), *ys = malloc(sizeof(float) * GROUP * t->out);
    int32_t tokens[GROUP];
    pthread_barrier_wait(&started);
    for (size_t i = 0; ok && i < GROUP_STEPS; i++) {
        for (int k = 0; k < GROUP; k++) {
            memcpy(xs + k * t->in, t->xs + i * t->in, sizeof(float) * t->in);
            tokens[k] = t->tokens[i];
        }
        ok = (t->vocab ? recur_step_streams_tokens(t->model, s, GROUP, tokens, GROUP, ys, GROUP * t->out)
                       : recur_step_streams(t->model, s, GROUP, xs, GROUP * t->in, ys, GROUP * t->out)) == RECUR_OK;
        for (int k = 0; ok && k < GROUP; k++) ok = memcmp(ys + k * t->out, t->want + i * t->out, sizeof(float) * t->out) == 0;
    }
    if (!ok) fprintf(stderr, "group worker %ld: %s\n", id, recur_last_error());
    for (int k = 0; k < GROUP; k++) recur_stream_free(s[k]);
    free(xs), free(ys);
    return (void *)(intptr_t)(ok ? 0 : 1 + id);
}

static void free_subject_model(void) { recur_model_free(subject.model); }

static void one_model(const char *path) {
    shared *t = &subject;
    memset(t, 0, sizeof *t);
    if (recur_model_load_file(path, &t->model) != RECUR_OK) {
        CHECK(0, "cannot load %s: %s", path, recur_last_error());
        return;
    }
    t->in = recur_model_input_size(t->model);
    t->out = recur_model_output_size(t->model);
    t->vocab = recur_model_vocab_size(t->model);
    t->xs = malloc(sizeof(float) * STEPS * (t->in ? t->in : 1));
    t->tokens = malloc(sizeof(int32_t) * STEPS);
    t->want = malloc(sizeof(float) * STEPS * t->out);
    for (size_t i = 0; i < STEPS * t->in; i++) t->xs[i] = (float)((int)(i % 13) - 6) * 0.15f;
    for (size_t i = 0; i < STEPS; i++) t->tokens[i] = t->vocab ? (int32_t)((i * 7) % t->vocab) : 0;

    /* One thread first: the numbers every worker must give. */
    recur_stream *s = NULL;
    float probe[1];
    CHECK(recur_stream_create(t->model, &s) == RECUR_OK, "%s", recur_last_error());
    t->sequence = (t->vocab ? recur_step_token(s, 0, probe, 0) : recur_step(s, t->xs, t->in, probe, 0)) ==
                  RECUR_ERROR_UNSUPPORTED;
    CHECK(recur_stream_reserve(s, STEPS / 4) == RECUR_OK, "%s", recur_last_error());
    CHECK(run_steps(s, t->want, NULL) == 0, "%s: single-thread run: %s", path, recur_last_error());
    recur_stream_free(s);

    pthread_t workers[WORKERS], churner;
    void *r;
    if (!t->sequence) {
        pthread_barrier_init(&started, NULL, WORKERS + 1);
        for (long w = 0; w < WORKERS; w++) pthread_create(&workers[w], NULL, group_worker, (void *)w);
        pthread_barrier_wait(&started);
        for (int w = 0; w < WORKERS; w++) {
            pthread_join(workers[w], &r);
            CHECK(r == NULL, "%s: group worker %d's outputs differ from one thread's", path, w);
        }
        pthread_barrier_destroy(&started);
    }
    pthread_barrier_init(&started, NULL, WORKERS + 1);
    pthread_barrier_init(&freed, NULL, WORKERS + 1);
    atomic_store(&churn_stop, 0);
    pthread_create(&churner, NULL, churn, NULL);
    for (long w = 0; w < WORKERS; w++) pthread_create(&workers[w], NULL, worker, (void *)w);
    pthread_barrier_wait(&started);
    pthread_barrier_wait(&freed);  /* every worker is halfway */
    free_subject_model();
    pthread_barrier_wait(&freed);
    for (int w = 0; w < WORKERS; w++) {
        pthread_join(workers[w], &r);
        CHECK(r == NULL, "%s: worker %d's outputs or messages differ from one thread's", path, w);
    }
    atomic_store(&churn_stop, 1);
    pthread_join(churner, &r);
    CHECK(r == NULL, "%s: %ld failures in the churn thread", path, (long)(intptr_t)r);
    CHECK(recur_model_input_size(t->model) == 0, "%s: the freed model's handle is dead", path);
    pthread_barrier_destroy(&started);
    pthread_barrier_destroy(&freed);
    free(t->xs), free(t->tokens), free(t->want);
    printf("%s: %d threads x %d steps%s, bit-identical to one thread, model freed halfway\n", path, WORKERS, STEPS,
           t->sequence ? "" : " (and groups of 5 streams stepped together)");
}

int main(int argc, char **argv) {
    int split = 1;
    while (split < argc && strcmp(argv[split], "--") != 0) split++;
    if (split == 1 || split >= argc - 1) {
        fprintf(stderr, "usage: test_threads SHARED.recur ... -- CHURN.recur ...\n");
        return 2;
    }
    churn_paths = (const char **)argv + split + 1;
    churn_count = argc - split - 1;
    for (int k = 1; k < split; k++) one_model(argv[k]);
    return check_summary("test_threads");
}
