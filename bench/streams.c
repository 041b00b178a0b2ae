/* Many streams over one model: throughput of recur_step_streams against one
 * stream and against the same streams stepped one by one, as GFLOP/s of
 * the gates' matrix products (2 * gates * hidden * (input + hidden) per
 * stream step), and as a share of this machine's peak: a kernel of
 * independent fused multiply-adds on registers only, at the native vector
 * width, measured in the same run.
 *
 *   one          recur_step on one stream
 *   one by one   recur_step on each of N streams in turn
 *   together     recur_step_streams over the N streams
 *   peak         the register-only FMA kernel
 *
 * The contenders are interleaved: each round runs each for a slice of about
 * 2 ms, in a rotating order; the table gives medians over the rounds. With
 * RESULTS_CSV set, rows are also written there (bench/chart.py).
 *
 *   streams MODEL_DIR [ROUNDS] [N]   (models from bench/make_models.py; `make bench`)
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <recur.h>

#define SLICE_NS 2e6
#define CONTENDERS 4

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The peak kernel: CHAINS independent chains of a = a * b + c on vectors of
 * the native width (-march decides; -ffp-contract=fast makes them FMAs). */
#if defined(__AVX512F__)
#define PEAK_BYTES 64
#else
#define PEAK_BYTES 32
#endif
#define CHAINS 24
typedef float vec __attribute__((vector_size(PEAK_BYTES)));
#define PEAK_LANES (PEAK_BYTES / 4)

static float peak_sink;

/* Runs `iterations` rounds of CHAINS FMAs; returns the flops done. */
static double peak_kernel(long iterations) {
    vec a[CHAINS], b, c;
    for (int i = 0; i < PEAK_LANES; i++) {
        b[i] = 0.999f;
        c[i] = 0.001f;
    }
    for (int k = 0; k < CHAINS; k++) a[k] = b * (float)k;
    __asm__ volatile("" : "+x"(b), "+x"(c));
    for (long it = 0; it < iterations; it++) {
#pragma GCC unroll 24
        for (int k = 0; k < CHAINS; k++) a[k] = a[k] * b + c;
    }
    vec s = a[0];
    for (int k = 1; k < CHAINS; k++) s += a[k];
    peak_sink += s[0];
    return 2.0 * PEAK_LANES * CHAINS * (double)iterations;
}

typedef struct {
    recur_model *model;
    recur_stream **streams;
    int n;
    size_t in, out;
    float *xs, *ys;
    double flops;  /* per stream step */
} subject;

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One slice of contender `c`: returns flops per ns (GFLOP/s). */
static double slice(subject *t, int c) {
    double start = now_ns(), end = start + SLICE_NS, done = 0, t1 = start;
    while (t1 < end) {
        switch (c) {
        case 0:
            for (int k = 0; k < t->n; k++) recur_step(t->streams[0], t->xs + k * t->in, t->in, t->ys, t->out);
            done += t->flops * t->n;
            break;
        case 1:
            for (int k = 0; k < t->n; k++) recur_step(t->streams[k], t->xs + k * t->in, t->in, t->ys + k * t->out, t->out);
            done += t->flops * t->n;
            break;
        case 2:
            if (recur_step_streams(t->model, t->streams, (size_t)t->n, t->xs, t->n * t->in, t->ys, t->n * t->out) != RECUR_OK) {
                fprintf(stderr, "recur_step_streams: %s\n", recur_last_error());
                exit(1);
            }
            done += t->flops * t->n;
            break;
        default:
            done += peak_kernel(20000);
            break;
        }
        t1 = now_ns();
    }
    return done / (t1 - start);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL_DIR [ROUNDS] [N]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 15, n = argc > 3 ? atoi(argv[3]) : 64;
    const char *csv_path = getenv("RESULTS_CSV");
    FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
    if (csv) fprintf(csv, "table,cell,input,hidden,streams,contender,gflops\n");
    static const char *names[CONTENDERS] = {"one", "one by one", "together", "peak"};
    static const int sizes[][2] = {{16, 64}, {64, 128}, {128, 256}, {256, 512}};
    printf("Many streams: %d streams of one model, GFLOP/s of the gate products (medians of %d rounds), tier %s\n\n",
           n, rounds, recur_isa());
    printf("| cell | I,H | one | one by one | together | peak | together/one | together/peak |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (int cell = 0; cell < 2; cell++) {
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            subject t;
            memset(&t, 0, sizeof t);
            char path[4096];
            snprintf(path, sizeof path, "%s/%s_%d_%d.recur", argv[1], cell ? "gru" : "lstm", sizes[s][0], sizes[s][1]);
            if (recur_model_load_file(path, &t.model) != RECUR_OK) {
                fprintf(stderr, "%s: %s\n", path, recur_last_error());
                return 1;
            }
            t.n = n;
            t.in = recur_model_input_size(t.model);
            t.out = recur_model_output_size(t.model);
            t.streams = calloc((size_t)n, sizeof *t.streams);
            for (int k = 0; k < n; k++) recur_stream_create(t.model, &t.streams[k]);
            t.xs = malloc(sizeof(float) * n * t.in);
            t.ys = malloc(sizeof(float) * n * t.out);
            for (size_t i = 0; i < n * t.in; i++) t.xs[i] = (float)((int)(i * 7) % 13 - 6) * 0.1f;
            t.flops = 2.0 * (cell ? 3 : 4) * sizes[s][1] * (double)(sizes[s][0] + sizes[s][1]);
            double *samples = malloc(sizeof(double) * rounds * CONTENDERS), med[CONTENDERS];
            for (int r = 0; r < rounds; r++) {
                for (int j = 0; j < CONTENDERS; j++) {
                    int c = (j + r) % CONTENDERS;
                    samples[c * rounds + r] = slice(&t, c);
                }
            }
            for (int c = 0; c < CONTENDERS; c++) {
                qsort(samples + c * rounds, (size_t)rounds, sizeof(double), cmp);
                med[c] = samples[c * rounds + rounds / 2];
                if (csv) fprintf(csv, "streams,%s,%d,%d,%d,%s,%.3f\n", cell ? "gru" : "lstm", sizes[s][0], sizes[s][1], n,
                                 names[c], med[c]);
            }
            printf("| %s | %d,%d | %.1f | %.1f | %.1f | %.1f | %.2f | %.0f%% |\n", cell ? "GRU" : "LSTM", sizes[s][0],
                   sizes[s][1], med[0], med[1], med[2], med[3], med[2] / med[0], 100 * med[2] / med[3]);
            fflush(stdout);
            free(samples);
            for (int k = 0; k < n; k++) recur_stream_free(t.streams[k]);
            free(t.streams);
            free(t.xs);
            free(t.ys);
            recur_model_free(t.model);
        }
    }
    if (csv) fclose(csv);
    return peak_sink == 12345.0f;
}
