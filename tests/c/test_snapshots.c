/* Stream snapshots (recur_stream_snapshot / recur_stream_restore), for each
 * model given:
 *  - continuity: set a state (so that cells running backwards have a start
 *    state of their own), run N steps, snapshot, run M more; load the file
 *    afresh, restore into a library stream and a caller-memory stream, run
 *    the same M steps: bit-identical outputs;
 *  - zero allocations in recur_stream_snapshot and recur_stream_restore;
 *  - damage: every truncation, every single-bit flip, a byte after the end,
 *    another model's snapshot, a later and a zero format version (checksum
 *    made valid), a wrong magic: each refused with its status, and the
 *    stream's state unchanged;
 *  - arguments: NULLs, a small buffer (the size still reported), a buffer
 *    inside a caller-memory stream, a freed stream.
 *
 *   test_snapshots model.recur ...   (two or more) */
#define _GNU_SOURCE
#include "alloc_counter.h"
#include "check.h"
#include "narrow.h"

#include <stdint.h>
#include <string.h>

#include <lz4frame.h>

#include <recur.h>

#define N 5
#define M 7

typedef struct {
    const char *path;
    recur_model *model;
    size_t in, out, vocab, layers;
    int sequence;
} subject;

static void open_subject(subject *t, const char *path) {
    memset(t, 0, sizeof *t);
    t->path = path;
    if (load_narrow(path, &t->model) != RECUR_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, recur_last_error());
        exit(2);
    }
    t->in = recur_model_input_size(t->model);
    t->out = recur_model_output_size(t->model);
    t->vocab = recur_model_vocab_size(t->model);
    t->layers = recur_model_layer_count(t->model);
    recur_stream *s;
    float probe[1] = {0};
    recur_stream_create(t->model, &s);
    t->sequence = (t->vocab ? recur_step_token(s, 0, probe, 0) : recur_step(s, probe, t->in, probe, 0)) ==
                  RECUR_ERROR_UNSUPPORTED;
    recur_stream_free(s);
}

/* `steps` steps from step `first` of a fixed input sequence; one run in
 * sequence mode. */
static recur_status advance(const subject *t, recur_stream *s, size_t first, size_t steps, float *ys) {
    float xs[64 * 16];
    int32_t tokens[16];
    if (t->in * steps > sizeof xs / sizeof *xs) return RECUR_ERROR_TOO_LARGE;
    for (size_t i = 0; i < steps; i++) {
        tokens[i] = t->vocab ? (int32_t)(((first + i) * 5 + 1) % t->vocab) : 0;
        for (size_t k = 0; k < t->in; k++) xs[i * t->in + k] = (float)((int)((first + i) * 3 + k) % 11 - 5) * 0.17f;
    }
    if (t->sequence || steps > 1) {
        recur_status r = recur_stream_reserve(s, steps);
        if (r != RECUR_OK) return r;
        return t->vocab ? recur_run_tokens(s, steps, tokens, steps, ys, steps * t->out)
                        : recur_run(s, steps, xs, steps * t->in, ys, steps * t->out);
    }
    return t->vocab ? recur_step_token(s, tokens[0], ys, t->out) : recur_step(s, xs, t->in, ys, t->out);
}

/* A state of its own for every layer, so every block of the snapshot
 * carries something a fresh stream does not have. */
static void set_some_state(const subject *t, recur_stream *s) {
    for (size_t l = 0; l < t->layers; l++) {
        size_t h = 0, c = 0;
        recur_model_state_size(t->model, l, &h, &c);
        float *v = malloc(sizeof(float) * (h + c + 1));
        for (size_t i = 0; i < h + c; i++) v[i] = (float)((int)(i * 7 + l) % 9 - 4) * 0.11f;
        CHECK(recur_stream_set_state(s, l, v, h, v + h, c) == RECUR_OK, "%s: %s", t->path, recur_last_error());
        free(v);
    }
}

static unsigned char *take(recur_stream *s, size_t *size) {
    size_t n = 0;
    CHECK(recur_stream_snapshot(s, NULL, 0, &n) == RECUR_ERROR_BUFFER_TOO_SMALL && n > 0, "size query: %s",
          recur_last_error());
    unsigned char *b = malloc(n);
    CHECK(recur_stream_snapshot(s, b, n, size) == RECUR_OK && *size == n, "%s", recur_last_error());
    return b;
}

/* XXH32 (seed 0) of `n` bytes: the content checksum of an LZ4 frame. */
static uint32_t xxh32(const void *data, size_t n) {
    LZ4F_preferences_t p;
    memset(&p, 0, sizeof p);
    p.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    size_t cap = LZ4F_compressFrameBound(n, &p);
    unsigned char *frame = malloc(cap);
    size_t len = LZ4F_compressFrame(frame, cap, data, n, &p);
    uint32_t h = (uint32_t)frame[len - 4] | (uint32_t)frame[len - 3] << 8 | (uint32_t)frame[len - 2] << 16 |
                 (uint32_t)frame[len - 1] << 24;
    free(frame);
    return h;
}

static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }

/* `bytes` with the version field set to `version` and the checksum redone. */
static void reversion(unsigned char *bytes, size_t n, uint32_t version) {
    put32(bytes + 8, version);
    put32(bytes + n - 4, xxh32(bytes, n - 4));
}

static int same_state(recur_stream *s, const unsigned char *ref, size_t n) {
    unsigned char *now = malloc(n);
    size_t got = 0;
    int same = recur_stream_snapshot(s, now, n, &got) == RECUR_OK && got == n && memcmp(now, ref, n) == 0;
    free(now);
    return same;
}

static void one_model(const subject *t, const subject *other) {
    recur_stream *s;
    CHECK(recur_stream_create(t->model, &s) == RECUR_OK, "%s", recur_last_error());
    set_some_state(t, s);
    float *ys = malloc(sizeof(float) * (N + M) * t->out), *want = malloc(sizeof(float) * M * t->out),
          *got = malloc(sizeof(float) * M * t->out);
    CHECK(advance(t, s, 0, N, ys) == RECUR_OK, "%s: %s", t->path, recur_last_error());
    size_t size = 0;
    unsigned char *snap = take(s, &size);
    CHECK(size == recur_stream_snapshot_size(t->model), "%s: snapshot size", t->path);

    /* Zero allocations: snapshot and restore, into the stream itself. */
    unsigned char *again = malloc(size);
    size_t written = 0;
    alloc_calls = 0;
    alloc_counting = 1;
    recur_status r1 = recur_stream_snapshot(s, again, size, &written);
    recur_status r2 = recur_stream_restore(s, snap, size);
    alloc_counting = 0;
    CHECK(r1 == RECUR_OK && r2 == RECUR_OK && alloc_calls == 0, "%s: %ld allocations in snapshot and restore",
          t->path, alloc_calls);
    CHECK(memcmp(again, snap, size) == 0, "%s: two snapshots of one state differ", t->path);
    free(again);

    CHECK(advance(t, s, N, M, want) == RECUR_OK, "%s: %s", t->path, recur_last_error());

    /* A fresh load of the same file, a library stream and a caller-memory one. */
    subject fresh;
    open_subject(&fresh, t->path);
    fresh.sequence = t->sequence;
    recur_stream *u, *v;
    size_t bytes = recur_stream_size(fresh.model), align = recur_stream_alignment();
    void *memory = aligned_alloc(align, (bytes + align - 1) / align * align);
    CHECK(recur_stream_create(fresh.model, &u) == RECUR_OK, "%s", recur_last_error());
    CHECK(recur_stream_init(fresh.model, memory, bytes, &v) == RECUR_OK, "%s", recur_last_error());
    recur_model_free(fresh.model);  /* the streams keep it; restore needs no model handle */
    recur_stream *targets[2] = {u, v};
    for (int k = 0; k < 2; k++) {
        CHECK(recur_stream_restore(targets[k], snap, size) == RECUR_OK, "%s: restore: %s", t->path, recur_last_error());
        memset(got, 0, sizeof(float) * M * t->out);
        CHECK(advance(&fresh, targets[k], N, M, got) == RECUR_OK, "%s: %s", t->path, recur_last_error());
        CHECK(memcmp(got, want, sizeof(float) * M * t->out) == 0,
              "%s: the %s stream restored from a snapshot steps differently", t->path, k ? "caller-memory" : "library");
    }

    /* Damage, against v: its state must not change. */
    CHECK(recur_stream_restore(v, snap, size) == RECUR_OK, "%s", recur_last_error());
    unsigned char *ref = take(v, &size);
    unsigned char *bad = malloc(size + 1);
    int refused = 0, tries = 0;
    for (size_t n = 0; n < size; n++) {  /* every truncation */
        recur_status r = recur_stream_restore(v, snap, n);
        tries++;
        refused += r == RECUR_ERROR_BAD_SNAPSHOT;
    }
    CHECK(refused == tries, "%s: %d of %d truncations refused with BAD_SNAPSHOT", t->path, refused, tries);
    int flips = 0, flips_refused = 0;
    for (size_t bit = 0; bit < size * 8; bit++) {  /* every single-bit flip */
        memcpy(bad, snap, size);
        bad[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        flips++;
        flips_refused += recur_stream_restore(v, bad, size) != RECUR_OK;
    }
    CHECK(flips_refused == flips, "%s: %d of %d bit flips refused", t->path, flips_refused, flips);
    memcpy(bad, snap, size);
    bad[size] = 0;
    CHECK(recur_stream_restore(v, bad, size + 1) == RECUR_ERROR_BAD_SNAPSHOT, "%s: a byte after the end", t->path);
    reversion(bad, size, 3);  /* one past the newest snapshot format this library reads */
    CHECK(recur_stream_restore(v, bad, size) == RECUR_ERROR_UNSUPPORTED_VERSION, "%s: version 3: %s", t->path,
          recur_last_error());
    reversion(bad, size, 0);
    CHECK(recur_stream_restore(v, bad, size) == RECUR_ERROR_BAD_SNAPSHOT, "%s: version 0", t->path);
    memcpy(bad, snap, size);
    bad[0] = 'X';
    put32(bad + size - 4, xxh32(bad, size - 4));
    CHECK(recur_stream_restore(v, bad, size) == RECUR_ERROR_BAD_SNAPSHOT, "%s: wrong magic", t->path);
    if (other) {
        recur_stream *o;
        size_t osize = 0;
        recur_stream_create(other->model, &o);
        unsigned char *theirs = take(o, &osize);
        CHECK(recur_stream_restore(v, theirs, osize) == RECUR_ERROR_WRONG_MODEL, "%s: %s's snapshot: %s", t->path,
              other->path, recur_last_error());
        free(theirs);
        recur_stream_free(o);
    }
    CHECK(same_state(v, ref, size), "%s: a refused restore changed the stream", t->path);

    /* Arguments. */
    size_t n = 0;
    CHECK(recur_stream_snapshot(NULL, bad, size, &n) == RECUR_ERROR_INVALID_ARGUMENT, "NULL stream");
    CHECK(recur_stream_snapshot(v, NULL, size, &n) == RECUR_ERROR_INVALID_ARGUMENT, "NULL buffer with a size");
    memset(bad, 0xAB, size);
    CHECK(recur_stream_snapshot(v, bad, size - 1, &n) == RECUR_ERROR_BUFFER_TOO_SMALL && n == size,
          "a small buffer reports the size");
    CHECK(bad[0] == 0xAB && bad[size - 2] == 0xAB, "a small buffer is not written");
    CHECK(recur_stream_snapshot(v, (unsigned char *)memory + 64, size, &n) == RECUR_ERROR_INVALID_ARGUMENT,
          "a buffer inside the stream's memory");
    CHECK(recur_stream_restore(NULL, snap, size) == RECUR_ERROR_INVALID_ARGUMENT, "restore into NULL");
    CHECK(recur_stream_restore(v, NULL, size) == RECUR_ERROR_INVALID_ARGUMENT, "restore from NULL");
    CHECK(recur_stream_restore(v, memory, size) == RECUR_ERROR_INVALID_ARGUMENT, "restore from the stream's memory");
    CHECK(same_state(v, ref, size), "%s: a refused call changed the stream", t->path);
    recur_stream_free(u);
    CHECK(recur_stream_restore(u, snap, size) == RECUR_ERROR_BAD_HANDLE, "restore into a freed stream");
    CHECK(recur_stream_snapshot(u, bad, size, &n) == RECUR_ERROR_BAD_HANDLE, "snapshot of a freed stream");
    recur_stream_free(v);
    recur_stream_free(s);
    free(memory);
    printf("| %s | %zu | %d of %d | %d of %d |\n", t->path, size, refused, tries, flips_refused, flips);
    free(snap), free(ref), free(bad), free(ys), free(want), free(got);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_snapshots model.recur model.recur ...\n");
        return 2;
    }
    CHECK(recur_stream_snapshot_size(NULL) == 0, "snapshot size of NULL");
    printf("| model | snapshot bytes | truncations refused | bit flips refused |\n| --- | --- | --- | --- |\n");
    int count = argc - 1;
    subject *subjects = calloc((size_t)count, sizeof *subjects);
    for (int k = 0; k < count; k++) open_subject(&subjects[k], argv[k + 1]);
    for (int k = 0; k < count; k++) one_model(&subjects[k], &subjects[(k + 1) % count]);
    for (int k = 0; k < count; k++) recur_model_free(subjects[k].model);
    free(subjects);
    return check_summary("test_snapshots");
}
