/* The streaming step measured against baselines in the same run, for LSTM
 * and GRU (one layer, batch 1) at seven sizes (input, hidden):
 *
 *   recur step   recur_step, once per step
 *   recur run    recur_run over 64 steps, per step
 *
 * Every contender steps through the same 64 input rows and writes 64
 * output rows, so that run/step compares the same work.
 *   plain C      the textbook loop: one dot product per gate row, expf and
 *                tanhf from libm (PyTorch semantics), -O3
 *   roof         one pass of fused multiply-adds over a packed copy of the
 *                same weights ([x | h] contiguous, no activations): what
 *                reading every weight once costs on this machine
 *   RTNeural     with RTNEURAL_DIR set at build time (`make bench
 *                RTNEURAL_DIR=...`): its compile-time API, Eigen backend,
 *                on the same weights (bench/rtneural.cpp); its outputs
 *                must agree with Recur's within 1e-4 or the bench stops
 *
 * The baselines are compiled for the CPU of the table: `make bench` runs a
 * -march=native build beside Recur's best tier and a -march=haswell build
 * beside RECUR_ISA=avx2.
 *
 * The machine is shared and noisy, so the contenders are interleaved: each
 * round runs every contender for a slice of about 200 us, in a rotating
 * order, and the tables give medians over the rounds with their p10-p90
 * spread. A ratio is the median over the rounds of the two contenders'
 * ratio in the round: they ran within a millisecond of each other, so
 * they share the machine's state (this machine kind runs at one of two
 * speeds, about 1.35x apart, for seconds at a time), which a ratio of two
 * medians, each perhaps from the other speed, does not. GB/s is weight
 * bytes per step over time per step. A second table runs recur_step with
 * the caller's stack at 64 offsets 16 bytes apart and gives max / min
 * over the offsets of each one's median time relative to its round's
 * median offset (the same guard: a round takes about 6 ms). With
 * RESULTS_CSV set, every row is also written there (bench/chart.py draws
 * it).
 *
 * A third table runs recur_step on the same layer with its weights stored
 * as float32, bfloat16 and int8 (bench/make_models.py writes the three
 * files; Kernels/Narrow.swift widens the narrow ones in registers), loaded
 * with the default RECUR_WEIGHTS_AUTO and, for the reduced files, with
 * RECUR_WEIGHTS_NARROW, interleaved the same way, and gives each one's
 * speed-up over float32 in the same rounds. With WEIGHTS_CSV set its rows
 * go there.
 *
 *   bench MODEL_DIR [ROUNDS] [weights]   (models from bench/make_models.py; `make bench`;
 *                                         "weights": the third table only)
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <recur.h>

#define RUN_STEPS 64
#define SLICE_NS 200e3
#ifdef RECUR_BENCH_RTNEURAL
#include "rtneural.h"
#define CONTENDERS 5
#else
#define CONTENDERS 4
#endif

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

/* The plain C baseline: PyTorch semantics, row by row. */
typedef struct { int gru, in, hid; float *wih, *whh, *bih, *bhh, *h, *c, *gx, *gh, *hn; } naive;

static void naive_step(naive *n, const float *x) {
    int G = n->gru ? 3 : 4, H = n->hid, I = n->in;
    for (int r = 0; r < G * H; r++) {
        float a = n->bih[r], b = n->bhh[r];
        for (int k = 0; k < I; k++) a += n->wih[(size_t)r * I + k] * x[k];
        for (int k = 0; k < H; k++) b += n->whh[(size_t)r * H + k] * n->h[k];
        n->gx[r] = a;
        n->gh[r] = b;
    }
    for (int u = 0; u < H; u++) {
        if (n->gru) {
            float r = sigm(n->gx[u] + n->gh[u]), z = sigm(n->gx[H + u] + n->gh[H + u]);
            float nn = tanhf(n->gx[2 * H + u] + r * n->gh[2 * H + u]);
            n->hn[u] = (1 - z) * nn + z * n->h[u];
        } else {
            float i = sigm(n->gx[u] + n->gh[u]), f = sigm(n->gx[H + u] + n->gh[H + u]);
            float g = tanhf(n->gx[2 * H + u] + n->gh[2 * H + u]), o = sigm(n->gx[3 * H + u] + n->gh[3 * H + u]);
            n->c[u] = f * n->c[u] + i * g;
            n->hn[u] = o * tanhf(n->c[u]);
        }
    }
    memcpy(n->h, n->hn, sizeof(float) * H);
}

/* The roof: rows x (in + hid) packed weights, one fused pass, a vector of
 * rows at a time (16 with AVX-512, 8 otherwise), four accumulator chains. */
typedef struct { int rows, cols; float *w, *v, *out; } roof;

#ifdef __AVX512F__
#define ROOF_LANES 16
#else
#define ROOF_LANES 8
#endif
typedef float vroof __attribute__((vector_size(ROOF_LANES * 4)));

static vroof roof_load(const float *w, size_t column) {
    vroof v;
    memcpy(&v, w + column * ROOF_LANES, sizeof v);
    return v;
}

static void roof_step(roof *r) {
    for (int b = 0; b < r->rows; b += ROOF_LANES) {
        vroof acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0};
        const float *w = r->w + (size_t)b * r->cols;
        int k = 0;
        for (; k + 3 < r->cols; k += 4) {
            acc0 += roof_load(w, k) * r->v[k];
            acc1 += roof_load(w, k + 1) * r->v[k + 1];
            acc2 += roof_load(w, k + 2) * r->v[k + 2];
            acc3 += roof_load(w, k + 3) * r->v[k + 3];
        }
        for (; k < r->cols; k++) acc0 += roof_load(w, k) * r->v[k];
        acc0 += (acc1 + acc2) + acc3;
        memcpy(r->out + b, &acc0, sizeof acc0);
    }
    r->v[r->cols - 1] = r->out[0] * 1e-30f;  /* a dependency between steps, as in a cell */
}

typedef struct {
    int gru, in, hid;
    recur_stream *stream;
    naive n;
    roof rf;
#ifdef RECUR_BENCH_RTNEURAL
    rtn_layer *rtn;
#endif
    float *x, *xs, *y, *ys;
    long steps[CONTENDERS];  /* per slice */
} subject;

static void run_contender(subject *s, int c, long steps) {
    switch (c) {
    case 0:  /* the same 64 input rows and output rows as recur_run */
        for (long i = 0; i < steps; i += RUN_STEPS)
            for (int t = 0; t < RUN_STEPS; t++)
                recur_step(s->stream, s->xs + (size_t)t * s->in, s->in, s->ys + (size_t)t * s->hid, s->hid);
        break;
    case 1:
        for (long i = 0; i < steps; i += RUN_STEPS)
            recur_run(s->stream, RUN_STEPS, s->xs, (size_t)RUN_STEPS * s->in, s->ys, (size_t)RUN_STEPS * s->hid);
        break;
    case 2:
        for (long i = 0; i < steps; i++) naive_step(&s->n, s->x);
        break;
    case 3:
        for (long i = 0; i < steps; i++) roof_step(&s->rf);
        break;
#ifdef RECUR_BENCH_RTNEURAL
    default:
        for (long i = 0; i < steps; i += RUN_STEPS) rtn_run(s->rtn, s->xs, s->ys, RUN_STEPS);
#endif
    }
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median, p10 and p90 of n values (sorted in place). */
static void stats(double *v, int n, double *med, double *p10, double *p90) {
    qsort(v, (size_t)n, sizeof *v, cmp);
    *med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    *p10 = v[n / 10];
    *p90 = v[(n * 9) / 10];
}

/* Median over n rounds of t[a][r] / t[b][r] (t holds `rounds` per contender). */
static double ratio(const double *t, int rounds, int a, int b, int n) {
    double v[n], med, lo, hi;
    for (int r = 0; r < n; r++) v[r] = t[a * rounds + r] / t[b * rounds + r];
    stats(v, n, &med, &lo, &hi);
    return med;
}

static int load(subject *s, const char *dir, int gru, int in, int hid) {
    char path[4096];
    int G = gru ? 3 : 4;
    memset(s, 0, sizeof *s);
    s->gru = gru, s->in = in, s->hid = hid;
    snprintf(path, sizeof path, "%s/%s_%d_%d.recur", dir, gru ? "gru" : "lstm", in, hid);
    recur_model *model = NULL;
    if (recur_model_load_file(path, &model) != RECUR_OK || recur_stream_create(model, &s->stream) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", path, recur_last_error());
        return 0;
    }
    recur_model_free(model);  /* the stream keeps it */
    snprintf(path, sizeof path, "%s/%s_%d_%d.raw", dir, gru ? "gru" : "lstm", in, hid);
    size_t count = (size_t)G * hid * in + (size_t)G * hid * hid + 2 * (size_t)G * hid;
    float *w = malloc(count * sizeof(float));
    FILE *f = fopen(path, "rb");
    if (!f || fread(w, sizeof(float), count, f) != count) {
        fprintf(stderr, "cannot read %s\n", path);
        return 0;
    }
    fclose(f);
    naive *n = &s->n;
    n->gru = gru, n->in = in, n->hid = hid;
    n->wih = w, n->whh = w + (size_t)G * hid * in, n->bih = n->whh + (size_t)G * hid * hid, n->bhh = n->bih + G * hid;
    n->h = calloc(hid, sizeof(float)), n->c = calloc(hid, sizeof(float)), n->hn = calloc(hid, sizeof(float));
    n->gx = calloc((size_t)G * hid, sizeof(float)), n->gh = calloc((size_t)G * hid, sizeof(float));
    roof *r = &s->rf;
    r->rows = (G * hid + 15) / 16 * 16, r->cols = in + hid + 1;
    r->w = aligned_alloc(64, (size_t)r->rows * r->cols * sizeof(float) + 64);
    for (size_t k = 0; k < (size_t)r->rows * r->cols; k++) r->w[k] = (float)(k % 97) * 1e-3f;
    r->v = calloc(r->cols, sizeof(float)), r->out = calloc(r->rows, sizeof(float));
    s->x = malloc(sizeof(float) * in), s->y = malloc(sizeof(float) * hid);
    s->xs = malloc(sizeof(float) * in * RUN_STEPS), s->ys = malloc(sizeof(float) * hid * RUN_STEPS);
    for (int k = 0; k < in * RUN_STEPS; k++) s->xs[k] = (float)((k * 37) % 17) / 17.0f - 0.5f;
    memcpy(s->x, s->xs, sizeof(float) * in);
#ifdef RECUR_BENCH_RTNEURAL
    s->rtn = rtn_create(gru, in, hid, w);
    if (!s->rtn) {
        fprintf(stderr, "bench/rtneural.cpp has no layer of size %d,%d\n", in, hid);
        return 0;
    }
    /* Same weights, same numbers: 64 steps from zero state, within 1e-4. */
    float *mine = malloc(sizeof(float) * hid);
    double worst = 0;
    for (int t = 0; t < RUN_STEPS; t++) {
        recur_step(s->stream, s->xs + (size_t)t * in, in, mine, hid);
        rtn_run(s->rtn, s->xs + (size_t)t * in, s->y, 1);  /* one row */
        for (int u = 0; u < hid; u++) worst = fmax(worst, fabs((double)mine[u] - s->y[u]));
    }
    free(mine);
    if (!(worst <= 1e-4)) {
        fprintf(stderr, "%s %d,%d: RTNeural and Recur differ by %g\n", gru ? "gru" : "lstm", in, hid, worst);
        return 0;
    }
#endif
    /* Slices of about SLICE_NS: calibrate each contender once. */
    for (int c = 0; c < CONTENDERS; c++) {
        long steps = RUN_STEPS;
        double t0 = now_ns();
        run_contender(s, c, steps);
        double per = (now_ns() - t0) / steps;
        steps = (long)(SLICE_NS / (per > 1 ? per : 1));
        s->steps[c] = steps < RUN_STEPS ? RUN_STEPS : (steps + RUN_STEPS - 1) / RUN_STEPS * RUN_STEPS;
    }
    return 1;
}

static void release(subject *s) {
    recur_stream_free(s->stream);
    free(s->n.wih), free(s->n.h), free(s->n.c), free(s->n.hn), free(s->n.gx), free(s->n.gh);
    free(s->rf.w), free(s->rf.v), free(s->rf.out);
    free(s->x), free(s->y), free(s->xs), free(s->ys);
#ifdef RECUR_BENCH_RTNEURAL
    rtn_free(s->rtn);
#endif
}

/* recur_step's time with the stack `depth` bytes deeper. */
static double __attribute__((noinline)) at_depth(subject *s, int depth, long steps) {
    volatile char pad[depth + 1];
    pad[0] = 0;
    double t0 = now_ns();
    run_contender(s, 0, steps);
    double per = (now_ns() - t0) / steps;
    return per + pad[0];
}

/* The weights table: recur_step on NAME.recur, NAME-bf16.recur and
 * NAME-int8.recur, the same 64 input rows, interleaved. */
static const char *const weight_types[] = {"fp32", "bf16", "int8", "bf16 narrow", "int8 narrow"};
#define WEIGHT_TYPES 5

static double step_slice(recur_stream *stream, const float *xs, int in, float *ys, int hid, long steps) {
    double t0 = now_ns();
    for (long i = 0; i < steps; i += RUN_STEPS)
        for (int t = 0; t < RUN_STEPS; t++)
            recur_step(stream, xs + (size_t)t * in, in, ys + (size_t)t * hid, hid);
    return (now_ns() - t0) / steps;
}

static int weights_table(const char *dir, const int (*sizes)[2], int nsizes, int rounds, FILE *csv) {
    printf("\nrecur_step with float32, bfloat16 and int8 weights, %s tier: ns per step, medians of interleaved rounds "
           "[p10-p90], and the speed-up over float32 in the same rounds\n\n", recur_isa());
    printf("bf16 and int8: loaded with RECUR_WEIGHTS_AUTO (narrow past 32 KiB of float32 weights, int8 as bfloat16 "
           "codes while they fit in half the largest cache); narrow: RECUR_WEIGHTS_NARROW (int8 as int8)\n\n");
    printf("| cell | I,H | fp32 | bf16 | int8 | fp32/bf16 | fp32/int8 | narrow fp32/bf16 | narrow fp32/int8 "
           "| fp32 GB/s | bf16 GB/s | int8 GB/s |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    double *t = malloc(sizeof(double) * rounds * WEIGHT_TYPES);
    for (int gru = 0; gru <= 1; gru++) {
        for (int k = 0; k < nsizes; k++) {
            int in = sizes[k][0], hid = sizes[k][1];
            recur_stream *streams[WEIGHT_TYPES] = {0};
            unsigned kept[WEIGHT_TYPES];  /* how the loaded model keeps the weights: 1 float32, 3 bfloat16, 4 int8 */
            long steps[WEIGHT_TYPES];
            float *xs = malloc(sizeof(float) * in * RUN_STEPS), *ys = malloc(sizeof(float) * hid * RUN_STEPS);
            for (int j = 0; j < in * RUN_STEPS; j++) xs[j] = (float)((j * 37) % 17) / 17.0f - 0.5f;
            for (int w = 0; w < WEIGHT_TYPES; w++) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s_%d_%d%s%s.recur", dir, gru ? "gru" : "lstm", in, hid,
                         w ? "-" : "", w ? (w % 2 ? "bf16" : "int8") : "");
                recur_load_options o = recur_load_options_default();
                o.weight_storage = w > 2 ? RECUR_WEIGHTS_NARROW : RECUR_WEIGHTS_AUTO;
                recur_model *model = NULL;
                if (recur_model_load_file_ex(path, &o, &model) != RECUR_OK ||
                    recur_stream_create(model, &streams[w]) != RECUR_OK) {
                    fprintf(stderr, "%s: %s\n", path, recur_last_error());
                    return 0;
                }
                recur_layer_info info = {.struct_size = sizeof info};
                recur_model_layer_info(model, 0, &info);
                kept[w] = info.storage_type;
                recur_model_free(model);
                double per = step_slice(streams[w], xs, in, ys, hid, RUN_STEPS);
                long n = (long)(SLICE_NS / (per > 1 ? per : 1));
                steps[w] = n < RUN_STEPS ? RUN_STEPS : (n + RUN_STEPS - 1) / RUN_STEPS * RUN_STEPS;
            }
            int n = hid >= 512 ? rounds / 4 : rounds;
            for (int r = 0; r < n; r++)
                for (int j = 0; j < WEIGHT_TYPES; j++) {
                    int w = (r + j) % WEIGHT_TYPES;
                    t[w * rounds + r] = step_slice(streams[w], xs, in, ys, hid, steps[w]);
                }
            double speedup[WEIGHT_TYPES];  /* float32's time over each one's, round by round */
            for (int w = 1; w < WEIGHT_TYPES; w++) speedup[w] = ratio(t, rounds, 0, w, n);
            double med[WEIGHT_TYPES], lo[WEIGHT_TYPES], hi[WEIGHT_TYPES];
            for (int w = 0; w < WEIGHT_TYPES; w++) stats(t + w * rounds, n, &med[w], &lo[w], &hi[w]);
            /* Weight bytes per step: the matrices at 4, 2 and 1 bytes, plus float32 biases (and int8 scales). */
            double matrices = (double)(gru ? 3 : 4) * hid * (in + hid), vectors = 2.0 * (gru ? 3 : 4) * hid;
            double bytes[WEIGHT_TYPES];  /* what the loaded model reads per step (int8: and its row scales) */
            for (int w = 0; w < WEIGHT_TYPES; w++)
                bytes[w] = kept[w] == 1   ? 4 * (matrices + vectors)
                           : kept[w] == 3 ? 2 * matrices + 4 * vectors * (w % 2 ? 1 : 2)
                                          : matrices + 4 * vectors * 2;
            printf("| %s | %d,%d |", gru ? "gru" : "lstm", in, hid);
            for (int w = 0; w < 3; w++) printf(" %.0f [%.0f-%.0f] |", med[w], lo[w], hi[w]);
            printf(" %.2f | %.2f | %.2f | %.2f |", speedup[1], speedup[2], speedup[3], speedup[4]);
            for (int w = 0; w < 3; w++) printf(" %.1f |", bytes[w] / med[w]);
            printf("\n");
            if (csv)
                for (int w = 0; w < WEIGHT_TYPES; w++)
                    fprintf(csv, "weights,%s,%s,%d,%d,%s,%.0f,%.2f,%.2f,%.2f\n", recur_isa(), gru ? "gru" : "lstm", in, hid,
                            weight_types[w], bytes[w], med[w], lo[w], hi[w]);
            for (int w = 0; w < WEIGHT_TYPES; w++) recur_stream_free(streams[w]);
            free(xs), free(ys);
        }
    }
    free(t);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL_DIR [ROUNDS]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 64;
    if (rounds < 10) rounds = 10;
    static const int sizes[][2] = {{1, 8}, {1, 32}, {16, 64}, {64, 128}, {128, 256}, {256, 512}, {512, 1024}};
    const int nsizes = (int)(sizeof sizes / sizeof *sizes);
    const char *csv_path = getenv("RESULTS_CSV");
    FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
    if (csv) fprintf(csv, "isa,cell,input,hidden,weight_bytes,contender,median_ns,p10_ns,p90_ns\n");
    static const char *names[] = {"recur step", "recur run", "plain C", "roof", "RTNeural"};

    double *t = malloc(sizeof(double) * rounds * CONTENDERS);
    printf("Recur %s, %s tier: ns per step, batch 1, one layer; medians of %d interleaved rounds [p10-p90]\n\n",
           recur_version(), recur_isa(), rounds);
    if (argc > 3 && strcmp(argv[3], "weights") == 0) goto weights;
    int rtn = CONTENDERS > 4;
    printf("| cell | I,H | weights | recur step | recur run | plain C | roof |%s step/roof | step/C | run/step |%s GB/s |\n",
           rtn ? " RTNeural |" : "", rtn ? " step/RTNeural |" : "");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |%s --- |\n", rtn ? " --- | --- |" : "");
    for (int gru = 0; gru <= 1; gru++) {
        for (int k = 0; k < nsizes; k++) {
            subject s;
            if (!load(&s, argv[1], gru, sizes[k][0], sizes[k][1])) return 1;
            int big = sizes[k][1] >= 512;
            int n = big ? rounds / 4 : rounds;
            for (int r = 0; r < n; r++) {
                for (int j = 0; j < CONTENDERS; j++) {
                    int c = (r + j) % CONTENDERS;  /* rotate the order */
                    double t0 = now_ns();
                    run_contender(&s, c, s.steps[c]);
                    t[c * rounds + r] = (now_ns() - t0) / s.steps[c];
                }
            }
            double ratios[4] = {ratio(t, rounds, 0, 3, n), ratio(t, rounds, 0, 2, n), ratio(t, rounds, 1, 0, n),
                                rtn ? ratio(t, rounds, 0, CONTENDERS - 1, n) : 0};
            double med[CONTENDERS], lo[CONTENDERS], hi[CONTENDERS];
            for (int c = 0; c < CONTENDERS; c++) stats(t + c * rounds, n, &med[c], &lo[c], &hi[c]);
            double bytes = 4.0 * (gru ? 3 : 4) * sizes[k][1] * (sizes[k][0] + sizes[k][1] + 2);
            char cells[CONTENDERS][64];
            for (int c = 0; c < CONTENDERS; c++)
                snprintf(cells[c], sizeof cells[c], "%.0f [%.0f-%.0f]", med[c], lo[c], hi[c]);
            printf("| %s | %d,%d | %.0f KB | %s | %s | %s | %s |", gru ? "gru" : "lstm", sizes[k][0], sizes[k][1],
                   bytes / 1024, cells[0], cells[1], cells[2], cells[3]);
            if (rtn) printf(" %s |", cells[CONTENDERS - 1]);
            printf(" %.2f | %.2f | %.2f |", ratios[0], ratios[1], ratios[2]);
            if (rtn) printf(" %.2f |", ratios[3]);
            printf(" %.1f |\n", bytes / med[0]);
            if (csv)
                for (int c = 0; c < CONTENDERS; c++)
                    fprintf(csv, "%s,%s,%d,%d,%.0f,%s,%.2f,%.2f,%.2f\n", recur_isa(), gru ? "gru" : "lstm", sizes[k][0],
                            sizes[k][1], bytes, names[c], med[c], lo[c], hi[c]);
            release(&s);
        }
    }

    printf("\nrecur_step with the caller's stack at 64 offsets, 16 bytes apart (medians of %d rounds each; "
           "max/min of each offset's median time relative to its round's median offset)\n\n", rounds);
    printf("| cell | I,H | fastest offset ns | slowest offset ns | max/min |\n| --- | --- | --- | --- | --- |\n");
    for (int gru = 0; gru <= 1; gru++) {
        for (int k = 0; k < 3; k++) {
            subject s;
            if (!load(&s, argv[1], gru, sizes[k][0], sizes[k][1])) return 1;
            double best = INFINITY, worst = 0;
            /* Every round, all 64 offsets; a slice each of half the
             * contenders' (about 100 us). Fewer rounds let one burst of
             * noise move an offset's median: 10 rounds of 50 us slices
             * gave max/min up to 1.46 where 30 rounds of the same code
             * gave 1.02-1.06. */
            int n = rounds;
            long steps = (s.steps[0] / 2 + RUN_STEPS - 1) / RUN_STEPS * RUN_STEPS;  /* whole passes over the rows */
            /* Offsets interleaved within each round, as the contenders are
             * above: a burst of noise lands on many offsets' rounds, not on
             * all of one offset's. */
            double *by = malloc(sizeof(double) * 64 * n);
            for (int r = 0; r < n; r++)
                for (int j = 0; j < 64; j++) {
                    int off = (j + r * 7) % 64;
                    by[off * n + r] = at_depth(&s, off * 16, steps);
                }
            /* max/min: each offset's time over the round's median offset,
             * its median over the rounds, so that rounds at the machine's
             * slower speed (see the top) do not count as an offset's. */
            double *scaled = malloc(sizeof(double) * 64 * n), row[64];
            for (int r = 0; r < n; r++) {
                for (int off = 0; off < 64; off++) row[off] = by[off * n + r];
                double mid, lo, hi;
                stats(row, 64, &mid, &lo, &hi);
                for (int off = 0; off < 64; off++) scaled[off * n + r] = by[off * n + r] / mid;
            }
            double low = INFINITY, high = 0;
            for (int off = 0; off < 64; off++) {
                double med, lo, hi;
                stats(by + off * n, n, &med, &lo, &hi);
                if (med < best) best = med;
                if (med > worst) worst = med;
                stats(scaled + off * n, n, &med, &lo, &hi);
                if (med < low) low = med;
                if (med > high) high = med;
            }
            free(by), free(scaled);
            printf("| %s | %d,%d | %.1f | %.1f | %.2f |\n", gru ? "gru" : "lstm", sizes[k][0], sizes[k][1], best, worst,
                   high / low);
            release(&s);
        }
    }
    free(t);
weights:
    if (csv) fclose(csv);
    const char *weights_path = getenv("WEIGHTS_CSV");
    FILE *wcsv = weights_path ? fopen(weights_path, "w") : NULL;
    if (wcsv) fprintf(wcsv, "table,isa,cell,input,hidden,weights,weight_bytes,median_ns,p10_ns,p90_ns\n");
    int ok = weights_table(argv[1], sizes, nsizes, rounds, wcsv);
    if (wcsv) fclose(wcsv);
    return ok ? 0 : 1;
}
