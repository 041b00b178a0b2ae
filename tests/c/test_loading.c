/* Loading under limits and budgets, through recur_load_options:
 *  - hostile files (tests/fixtures/hostile/generate.py): each refused with its
 *    status and the limit it broke, or loaded within the memory bound of
 *    recur.h (peak <= 3 x content + model + 1 MiB through the hooks), from a
 *    file and from memory; a table of the peaks;
 *  - allocation failures: the library's 1st, 2nd, 3rd ... allocation through
 *    the hooks fails in turn, for load (file and memory), recur_stream_create
 *    and recur_stream_reserve: each gives OUT_OF_MEMORY and leaks nothing;
 *  - the Swift runtime's own allocations during a load: few, and the same
 *    for a 2-layer and a 300-layer model;
 *  - options: struct_size rules, both-or-neither hooks, each limit named;
 *  - only regular files: a FIFO, a directory, a device.
 *
 *   test_loading HOSTILE_DIR VARIANTS_DIR model.recur ...  */
#define _GNU_SOURCE
#include "alloc_counter.h"
#include "check.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <recur.h>

#ifdef NO_ALLOC_COUNTER
#define raw_malloc malloc
#define raw_free free
#else
/* The hooks allocate behind the interposer's back, so that the interposer
 * counts only what bypasses them (the Swift runtime). */
#define raw_malloc __libc_malloc
#define raw_free __libc_free
#endif

#define MiB ((size_t)1 << 20)

/* Hooks that count calls, live blocks and bytes (a size header before each
 * block), and fail the `fail_at`-th call when it is set. */
typedef struct { long calls, live, fail_at; size_t bytes, peak; } meter;

static void *hook_alloc(void *opaque, size_t n) {
    meter *m = opaque;
    m->calls++;
    if (m->fail_at && m->calls == m->fail_at) return NULL;
    size_t *p = raw_malloc(n + 16);
    if (!p) return NULL;
    p[0] = n;
    m->live++;
    m->bytes += n;
    if (m->bytes > m->peak) m->peak = m->bytes;
    return p + 2;
}

static void hook_free(void *opaque, void *address) {
    meter *m = opaque;
    size_t *p = (size_t *)address - 2;
    m->live--;
    m->bytes -= p[0];
    raw_free(p);
}

static recur_load_options metered(meter *m) {
    recur_load_options o = recur_load_options_default();
    o.allocator.alloc = hook_alloc;
    o.allocator.free = hook_free;
    o.allocator.opaque = m;
    return o;
}

/* The content size an LZ4 frame header declares (0 if none). */
static uint64_t declared_content(const unsigned char *data, size_t size) {
    if (size < 14 || !(data[4] & 0x08)) return 0;
    uint64_t n = 0;
    for (int i = 13; i >= 6; i--) n = n << 8 | data[i];
    return n;
}

static const char *status_names[] = {
#include "status_names.h"
};

static const char *name_of(recur_status st) {
    return (unsigned)st < sizeof status_names / sizeof *status_names ? status_names[st] : "?";
}

/* ---- hostile files ---------------------------------------------------------- */

static void hostile_one(const char *dir, const char *file, const char *status, const char *word, int from_file) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t size = 0;
    unsigned char *data = read_all(path, &size);
    CHECK(data != NULL, "cannot read %s", path);
    if (!data) return;
    double content = (double)declared_content(data, size);
    meter m = {0};
    recur_load_options o = metered(&m);
    recur_model *model = NULL;
    recur_status st = from_file ? recur_model_load_file_ex(path, &o, &model)
                                : recur_model_load_memory_ex(data, size, &o, &model);
    const char *how = from_file ? "file" : "memory";
    CHECK(strcmp(name_of(st), status) == 0, "%s (%s): got %s, expected %s: %s", file, how, name_of(st), status,
          recur_last_error());
    size_t model_bytes = m.bytes;
    double bound = 3 * content + (double)model_bytes + (double)MiB;
    if (st == RECUR_OK) {
        CHECK((double)m.peak <= bound, "%s (%s): peak %zu bytes, bound %.0f", file, how, m.peak, bound);
        CHECK(recur_stream_size(model) <= o.max_stream_bytes, "%s: stream of %zu bytes", file, recur_stream_size(model));
        recur_model_free(model);
    } else {
        CHECK(strstr(recur_last_error(), word) != NULL, "%s (%s): '%s' lacks '%s'", file, how, recur_last_error(), word);
        CHECK(model == NULL, "%s: *out set on failure", file);
    }
    CHECK(m.live == 0 && m.bytes == 0, "%s (%s): %ld blocks, %zu bytes left", file, how, m.live, m.bytes);
    if (from_file)
        printf("| %s | %zu | %.1f MiB | %s | %.1f MiB | %.1f MiB |\n", file, size, content / MiB, status,
               (double)m.peak / MiB, st == RECUR_OK ? bound / MiB : 3 * content / MiB + 1);
    free(data);
}

static void hostile(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/expected.txt", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    printf("| file | bytes | content | status | peak through the hooks | bound |\n| --- | --- | --- | --- | --- | --- |\n");
    char line[512];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        char file[256], status[64], word[256];
        if (line[0] == '#' || sscanf(line, "%255s %63s %255s", file, status, word) != 3) continue;
        hostile_one(dir, file, status, word, 1);
        hostile_one(dir, file, status, word, 0);
        cases++;
    }
    fclose(f);
    CHECK(cases >= 10, "only %d hostile files", cases);
}

/* ---- allocation failures ------------------------------------------------------- */

/* Fails the 1st, 2nd, ... allocation of a load until one succeeds; returns
 * the model loaded at last (with `m` as its allocator). */
static recur_model *load_failing(const char *path, meter *m, int from_file) {
    size_t size = 0;
    unsigned char *data = from_file ? NULL : read_all(path, &size);
    recur_model *model = NULL;
    for (long k = 1; k < 1000; k++) {
        *m = (meter){.fail_at = k};
        recur_load_options o = metered(m);
        long live = alloc_live;
        recur_status st = from_file ? recur_model_load_file_ex(path, &o, &model)
                                    : recur_model_load_memory_ex(data, size, &o, &model);
        if (st == RECUR_OK) {
            CHECK(k > 1, "%s: the load made no allocation through the hooks", path);
            break;
        }
        CHECK(st == RECUR_ERROR_OUT_OF_MEMORY, "%s: allocation %ld failed, status %s: %s", path, k, name_of(st),
              recur_last_error());
        CHECK(strstr(recur_last_error(), "allocate") != NULL, "%s: '%s' does not say what", path, recur_last_error());
        CHECK(m->live == 0 && m->bytes == 0, "%s: allocation %ld failed, %ld blocks left", path, k, m->live);
#ifndef NO_ALLOC_COUNTER
        CHECK(alloc_live == live, "%s: allocation %ld failed, %ld malloc blocks left", path, k, alloc_live - live);
#else
        (void)live;
#endif
    }
    m->fail_at = 0;
    free(data);
    return model;
}

static void allocation_failures(const char *path) {
    for (int from_file = 0; from_file < 2; from_file++) {
        meter m;
        recur_model *model = load_failing(path, &m, from_file);
        CHECK(model != NULL, "%s: never loaded", path);
        if (!model) continue;
        /* recur_stream_create: its allocations fail one by one too. */
        recur_stream *s = NULL;
        long base_live = m.live;
        for (long k = 1; k < 100; k++) {
            m.calls = 0;
            m.fail_at = k;
            recur_status st = recur_stream_create(model, &s);
            m.fail_at = 0;
            if (st == RECUR_OK) break;
            CHECK(st == RECUR_ERROR_OUT_OF_MEMORY && s == NULL, "%s: stream allocation %ld: %s", path, k, name_of(st));
            CHECK(m.live == base_live, "%s: a failed stream_create left %ld blocks", path, m.live - base_live);
        }
        CHECK(s != NULL, "%s: no stream", path);
        /* recur_stream_reserve: a failure keeps the old buffers. */
        m.calls = 0;
        m.fail_at = 1;
        recur_status st = recur_stream_reserve(s, 1000);
        m.fail_at = 0;
        CHECK(st == RECUR_ERROR_OUT_OF_MEMORY && strstr(recur_last_error(), "allocate"),
              "%s: a failed reserve gave %s", path, name_of(st));
        CHECK(recur_stream_reserve(s, 1000) == RECUR_OK, "%s: reserve", path);
        recur_stream_free(s);
        recur_model_free(model);
        CHECK(m.live == 0 && m.bytes == 0, "%s: %ld blocks left after freeing everything", path, m.live);
    }
}

/* ---- the Swift runtime's allocations ------------------------------------------------ */

#ifndef NO_ALLOC_COUNTER
static long swift_allocations(const char *path) {
    size_t size = 0;
    unsigned char *data = read_all(path, &size);
    meter m = {0};
    recur_load_options o = metered(&m);
    recur_model *model = NULL;
    alloc_calls = 0;
    alloc_counting = 1;
    recur_status st = recur_model_load_memory_ex(data, size, &o, &model);
    alloc_counting = 0;
    long calls = alloc_calls;
    CHECK(st == RECUR_OK, "%s: %s", path, recur_last_error());
    recur_model_free(model);
    free(data);
    return calls;
}
#endif

static void swift_runtime(const char *small, const char *deep) {
#ifndef NO_ALLOC_COUNTER
    swift_allocations(small);  /* one-time runtime set-up */
    long a = swift_allocations(small), b = swift_allocations(deep);
    printf("Swift runtime allocations during a load: %ld (%s), %ld (%s)\n", a, small, b, deep);
    CHECK(a == b, "Swift allocations depend on the model: %ld and %ld", a, b);
    CHECK(a <= 8, "%ld Swift allocations in one load", a);
#else
    (void)small; (void)deep;
#endif
}

/* ---- options -------------------------------------------------------------------- */

static void expect_limit(const char *path, recur_load_options o, const char *field) {
    recur_model *model = NULL;
    recur_status st = recur_model_load_file_ex(path, &o, &model);
    CHECK(st == RECUR_ERROR_TOO_LARGE && strstr(recur_last_error(), field),
          "%s: lowering %s gave %s: %s", path, field, name_of(st), recur_last_error());
    recur_model_free(model);
}

static void options(const char *path, const char *deep) {
    recur_load_options d = recur_load_options_default();
    CHECK(d.struct_size == sizeof d, "struct_size %zu", d.struct_size);
    CHECK(d.max_file_bytes == 1u << 30 && d.max_content_bytes == 1u << 30 && d.max_model_bytes == (size_t)4 << 30 &&
          d.max_stream_bytes == 256 * MiB && d.max_layers == 4096 && d.max_dimension == 1u << 24 &&
          d.max_metadata_entries == 4096 && d.max_metadata_bytes == MiB && d.max_name_bytes == 4096 &&
          !d.allocator.alloc && !d.allocator.free && d.weight_storage == RECUR_WEIGHTS_AUTO, "documented defaults");
    recur_model *model = NULL;
    recur_load_options zero = {.struct_size = sizeof zero};
    CHECK(recur_model_load_file_ex(path, &zero, &model) == RECUR_OK, "{sizeof o} means the defaults");
    recur_model_free(model);
    CHECK(recur_model_load_file_ex(path, NULL, &model) == RECUR_OK, "NULL options");
    recur_model_free(model);
    recur_load_options bad = d;
    bad.struct_size = 0;
    CHECK(recur_model_load_file_ex(path, &bad, &model) == RECUR_ERROR_INVALID_ARGUMENT && !model, "struct_size 0");
    /* A struct from a newer header: accepted while the fields this library
     * does not know are zero. */
    struct { recur_load_options known; size_t newer; } big = {d, 0};
    big.known.struct_size = sizeof big;
    CHECK(recur_model_load_file_ex(path, &big.known, &model) == RECUR_OK, "a larger struct with zero extra fields");
    recur_model_free(model);
    big.newer = 7;
    CHECK(recur_model_load_file_ex(path, &big.known, &model) == RECUR_ERROR_INVALID_ARGUMENT, "unknown field set");
    /* A struct from an older header: the fields it lacks take defaults. */
    recur_load_options old = d;
    old.struct_size = offsetof(recur_load_options, max_stream_bytes);
    old.max_stream_bytes = 1;  /* past struct_size: ignored */
    CHECK(recur_model_load_file_ex(path, &old, &model) == RECUR_OK, "a smaller struct: %s", recur_last_error());
    recur_model_free(model);
    recur_load_options half = d;
    half.allocator.alloc = hook_alloc;
    CHECK(recur_model_load_file_ex(path, &half, &model) == RECUR_ERROR_INVALID_ARGUMENT, "alloc without free");
    recur_load_options storage = d;
    storage.weight_storage = (recur_weight_storage)3;
    CHECK(recur_model_load_file_ex(path, &storage, &model) == RECUR_ERROR_INVALID_ARGUMENT && !model &&
          strstr(recur_last_error(), "weight_storage"), "weight_storage 3: %s", recur_last_error());
    for (int k = RECUR_WEIGHTS_AUTO; k <= RECUR_WEIGHTS_FLOAT32; k++) {
        storage.weight_storage = (recur_weight_storage)k;
        CHECK(recur_model_load_file_ex(path, &storage, &model) == RECUR_OK, "weight_storage %d", k);
        recur_model_free(model);
    }

    recur_load_options o;
    o = d; o.max_file_bytes = 16; expect_limit(path, o, "max_file_bytes");
    o = d; o.max_content_bytes = 64; expect_limit(path, o, "max_content_bytes");
    o = d; o.max_model_bytes = 4096; expect_limit(path, o, "max_model_bytes");
    o = d; o.max_stream_bytes = 256; expect_limit(path, o, "max_stream_bytes");
    o = d; o.max_layers = 1; expect_limit(deep, o, "max_layers");
    o = d; o.max_dimension = 2; expect_limit(path, o, "max_dimension");
    o = d; o.max_metadata_entries = 1; expect_limit(path, o, "max_metadata_entries");
    o = d; o.max_metadata_bytes = 8; expect_limit(path, o, "max_metadata_bytes");
}

/* ---- only regular files ---------------------------------------------------------- */

static void on_alarm(int sig) {
    (void)sig;
    static const char text[] = "test_loading: loading a FIFO blocked\n";
    if (write(2, text, sizeof text - 1) < 0) {}
    _exit(1);
}

static void special_files(void) {
    recur_model *model = NULL;
    signal(SIGALRM, on_alarm);
    alarm(10);
    char fifo[64];
    snprintf(fifo, sizeof fifo, "/tmp/recur-fifo-%d", (int)getpid());
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
    recur_status st = recur_model_load_file(fifo, &model);
    CHECK(st == RECUR_ERROR_IO && strstr(recur_last_error(), "FIFO"), "FIFO: %s: %s", name_of(st), recur_last_error());
    unlink(fifo);
    alarm(0);
    st = recur_model_load_file("/tmp", &model);
    CHECK(st == RECUR_ERROR_IO && strstr(recur_last_error(), "directory"), "directory: %s", recur_last_error());
    st = recur_model_load_file("/dev/zero", &model);
    CHECK(st == RECUR_ERROR_IO && strstr(recur_last_error(), "device"), "device: %s", recur_last_error());
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: test_loading HOSTILE_DIR VARIANTS_DIR model.recur ...\n");
        return 2;
    }
    char deep[4096], special[4096];
    snprintf(deep, sizeof deep, "%s/deep.recur", argv[2]);
    snprintf(special, sizeof special, "%s/seq_bidirectional.recur", argv[2]);
    hostile(argv[1]);
    for (int i = 3; i < argc; i++) allocation_failures(argv[i]);
    allocation_failures(special);
    swift_runtime(argv[3], deep);
    options(special, deep);
    special_files();
    return check_summary("test_loading");
}
