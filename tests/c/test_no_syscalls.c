/* No system call while stepping (include/recur.h, "Memory and time"): each
 * model is loaded, given two streams (one the library allocates, one in
 * caller memory) and warmed up with one call of each kind; then a child
 * process enters seccomp strict mode, where the kernel kills it on any
 * system call but read, write, _exit and sigreturn, and makes 10,000
 * stepping calls: recur_step, recur_run (after recur_stream_reserve),
 * recur_step_token, recur_run_tokens, recur_stream_reset,
 * recur_stream_get_state, recur_stream_set_state, recur_stream_snapshot,
 * recur_stream_restore and, for models with attention layers,
 * recur_stream_set_memory (after each reset, with 1 to ROWS rows; the room
 * is reserved beforehand), spread over the models.
 * It writes a checksum of every output through a pipe with write() and
 * leaves with the raw exit system call (glibc's _exit calls exit_group,
 * which strict mode does not allow). The parent computes the same calls
 * without seccomp and compares: the child must live, say where it got to,
 * and give the same checksum.
 *
 *   test_no_syscalls model.recur ...   (vector, token and sequence models) */
#define _GNU_SOURCE
#include "check.h"
#include "narrow.h"

#include <linux/seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <recur.h>

#define CALLS 10000
#define SEQ 4   /* steps of each recur_run / recur_run_tokens */
#define ROWS 5  /* most attention memory rows */
#define MAX_ATTENTION 8

typedef struct {
    const char *path;
    recur_model *model;
    recur_stream *streams[2];
    size_t in, out, vocab, layers, state;
    int sequence;  /* has a reverse or bidirectional layer: runs only */
    float *x, *y, *s;
    unsigned char *snapshot;
    size_t snapshot_size;
    size_t attention[MAX_ATTENTION], widths[MAX_ATTENTION], attention_count;
    float *rows;
} subject;

/* Every attention layer of the stream gets `n` rows (allocation- and
 * system-call-free: the room is reserved in prepare). */
static recur_status give_memory(subject *t, recur_stream *s, size_t n) {
    for (size_t a = 0; a < t->attention_count; a++) {
        recur_status r = recur_stream_set_memory(s, t->attention[a], t->rows, n, t->widths[a]);
        if (r != RECUR_OK) return r;
    }
    return RECUR_OK;
}

static void die(const char *what, const char *path) {
    fprintf(stderr, "%s (%s): %s\n", what, path, recur_last_error());
    exit(2);
}

static void prepare(subject *t) {
    if (load_narrow(t->path, &t->model) != RECUR_OK) die("cannot load", t->path);
    recur_model *m = t->model;
    t->in = recur_model_input_size(m);
    t->out = recur_model_output_size(m);
    t->vocab = recur_model_vocab_size(m);
    t->layers = recur_model_layer_count(m);
    for (size_t l = 0; l < t->layers; l++) {
        size_t h = 0, c = 0;
        recur_model_state_size(m, l, &h, &c);
        if (h + c > t->state) t->state = h + c;
    }
    size_t bytes = recur_stream_size(m), align = recur_stream_alignment();
    void *memory = aligned_alloc(align, (bytes + align - 1) / align * align);
    if (!memory || recur_stream_create(m, &t->streams[0]) != RECUR_OK ||
        recur_stream_init(m, memory, bytes, &t->streams[1]) != RECUR_OK)
        die("cannot create streams", t->path);
    for (int k = 0; k < 2; k++)
        if (recur_stream_reserve(t->streams[k], SEQ) != RECUR_OK) die("cannot reserve", t->path);
    size_t widest = 1, memory_floats = 0;
    for (size_t l = 0; l < t->layers && t->attention_count < MAX_ATTENTION; l++) {
        recur_layer_info info = {.struct_size = sizeof info};
        recur_model_layer_info(m, l, &info);
        if (info.kind != RECUR_LAYER_ATTENTION) continue;
        t->attention[t->attention_count] = l;
        t->widths[t->attention_count++] = info.memory_size;
        if (info.memory_size > widest) widest = info.memory_size;
        memory_floats += ROWS * info.memory_size;
    }
    t->rows = malloc(sizeof(float) * ROWS * widest);
    for (size_t i = 0; i < ROWS * widest; i++) t->rows[i] = (float)((int)(i % 7) - 3) * 0.3f;
    for (int k = 0; k < 2 && t->attention_count; k++)
        if (recur_stream_reserve_memory(t->streams[k], ROWS) != RECUR_OK || give_memory(t, t->streams[k], ROWS) != RECUR_OK)
            die("cannot set attention memory", t->path);
    t->x = malloc(sizeof(float) * SEQ * (t->in ? t->in : 1));
    t->y = malloc(sizeof(float) * SEQ * t->out);
    t->s = malloc(sizeof(float) * (t->state ? t->state : 1));
    t->snapshot_size = recur_stream_snapshot_size(m) + 4 * memory_floats;  /* room for the most rows */
    t->snapshot = malloc(t->snapshot_size);
    for (size_t i = 0; i < SEQ * t->in; i++) t->x[i] = (float)((int)(i % 9) - 4) * 0.2f;
    float probe[1];
    t->sequence = t->vocab ? recur_step_token(t->streams[0], 0, probe, 0) == RECUR_ERROR_UNSUPPORTED
                           : recur_step(t->streams[0], t->x, t->in, probe, 0) == RECUR_ERROR_UNSUPPORTED;
}

/* FNV-1a over the bytes of n floats. */
static uint64_t mix(uint64_t h, const float *v, size_t n) {
    const unsigned char *b = (const unsigned char *)v;
    for (size_t i = 0; i < n * sizeof(float); i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* Call `i` of the sequence, on the subject it falls to; returns the status
 * and folds the outputs into *h. What each call does depends only on i. */
static int call(subject *t, unsigned i, uint64_t *h) {
    recur_stream *st = t->streams[i & 1];
    int32_t tok = (int32_t)(t->vocab ? (i * 7u) % t->vocab : 0);
    int32_t toks[SEQ] = {tok, (int32_t)(t->vocab ? (i * 3u + 1) % t->vocab : 0), tok, 0};
    recur_status r;
    switch ((i >> 1) % 8) {
    case 0: case 1: case 2:  /* single steps, most of the time */
        if (t->sequence) r = t->vocab ? recur_run_tokens(st, 1, toks, 1, t->y, t->out) : recur_run(st, 1, t->x, t->in, t->y, t->out);
        else r = t->vocab ? recur_step_token(st, tok, t->y, t->out) : recur_step(st, t->x, t->in, t->y, t->out);
        *h = mix(*h, t->y, t->out);
        return r;
    case 3: case 4:
        r = t->vocab ? recur_run_tokens(st, SEQ, toks, SEQ, t->y, SEQ * t->out)
                     : recur_run(st, SEQ, t->x, SEQ * t->in, t->y, SEQ * t->out);
        *h = mix(*h, t->y, SEQ * t->out);
        return r;
    case 5: {  /* state out of one stream and into the other */
        size_t layer = i % t->layers, hc = 0, cc = 0;
        recur_model_state_size(t->model, layer, &hc, &cc);
        r = recur_stream_get_state(st, layer, t->s, hc, t->s + hc, cc);
        if (r == RECUR_OK) r = recur_stream_set_state(t->streams[(i & 1) ^ 1], layer, t->s, hc, t->s + hc, cc);
        *h = mix(*h, t->s, hc + cc);
        return r;
    }
    case 6: {  /* a reset (memory set again), or a snapshot restored into the other stream */
        if (i % 5 == 0) {
            recur_stream_reset(st);
            return give_memory(t, st, 1 + i % ROWS);
        }
        size_t written = 0;
        r = recur_stream_snapshot(st, t->snapshot, t->snapshot_size, &written);
        if (r == RECUR_OK) r = recur_stream_restore(t->streams[(i & 1) ^ 1], t->snapshot, written);
        return r;
    }
    default:  /* the sizes, through the handle table */
        *h = *h * 31 + recur_model_input_size(t->model) + recur_stream_size(t->model);
        return RECUR_OK;
    }
}

static void say(int fd, const char *text) {
    ssize_t n = write(fd, text, strlen(text));
    (void)n;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_no_syscalls model.recur ...\n");
        return 2;
    }
    int count = argc - 1;
    subject *subjects = calloc((size_t)count, sizeof *subjects);
    for (int k = 0; k < count; k++) {
        subjects[k].path = argv[k + 1];
        prepare(&subjects[k]);
    }

    /* Warm-up: one call of each kind on each subject, then back to the start. */
    for (int k = 0; k < count; k++) {
        uint64_t ignored = 0;
        for (unsigned i = 0; i < 16; i++) call(&subjects[k], i, &ignored);
        for (int s = 0; s < 2; s++) {
            recur_stream_reset(subjects[k].streams[s]);
            if (give_memory(&subjects[k], subjects[k].streams[s], ROWS) != RECUR_OK) die("cannot set memory", subjects[k].path);
        }
    }

    int pipefd[2];
    if (pipe(pipefd) != 0) return 2;
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        close(pipefd[0]);
        int fd = pipefd[1];
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) {
            say(fd, "prctl failed\n");
            syscall(SYS_exit, 3);
        }
        say(fd, "in strict mode\n");
        uint64_t h = 0xcbf29ce484222325ull;
        int bad = 0;
        for (unsigned i = 0; i < CALLS; i++) {
            subject *t = &subjects[i % (unsigned)count];
            if (i < (unsigned)count) { say(fd, "stepping "); say(fd, t->path); say(fd, "\n"); }
            if (call(t, i / (unsigned)count, &h) != RECUR_OK) bad++;
        }
        char line[64];
        int n = snprintf(line, sizeof line, "done %016llx %d\n", (unsigned long long)h, bad);
        ssize_t w = write(fd, line, (size_t)n);
        syscall(SYS_exit, w == n ? 0 : 4);
    }
    close(pipefd[1]);

    /* The same calls here, without seccomp, from the same state. */
    uint64_t want = 0xcbf29ce484222325ull;
    int want_bad = 0;
    for (unsigned i = 0; i < CALLS; i++) {
        subject *t = &subjects[i % (unsigned)count];
        if (call(t, i / (unsigned)count, &want) != RECUR_OK) want_bad++;
    }

    char report[8192];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof report - 1 && (n = read(pipefd[0], report + got, sizeof report - 1 - got)) > 0) got += (size_t)n;
    report[got] = 0;
    int status = 0;
    waitpid(child, &status, 0);

    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the child in seccomp strict mode %s %d; it said:\n%s", WIFSIGNALED(status) ? "was killed by signal" : "exited with",
          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), report);
    char line[64];
    snprintf(line, sizeof line, "done %016llx %d\n", (unsigned long long)want, want_bad);
    const char *done = strstr(report, "done ");
    CHECK(done && strcmp(done, line) == 0, "checksums differ: child %s, parent %s", done ? done : "(none)", line);
    CHECK(want_bad == 0, "%d calls failed", want_bad);
    printf("%d stepping calls over %d models in seccomp strict mode\n", CALLS, count);
    return check_summary("test_no_syscalls");
}
