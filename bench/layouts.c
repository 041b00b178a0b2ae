/* What the AVX2 tier's LSTM gate sums cost with each panel layout, modelled
 * in C: one pass over a layer's weights per step, as in the step, without
 * the activations. (No Recur code runs here; it measures the layouts.)
 *
 *   recur (zmm)     Recur's layout, [column][gate][16 lanes], on AVX-512:
 *                   4 gates x 2 chains = 8 zmm accumulators.
 *   recur (ymm)     the same layout on AVX2: a 16-lane vector is two ymm, so
 *                   4 gates x 2 halves x 2 chains = 16 accumulators, and with
 *                   the two broadcasts the pass needs 18 of 16 registers.
 *   halves (ymm)    each 16-unit block stored as two 8-lane halves one after
 *                   the other, [half][column][gate][8 lanes]: two contiguous
 *                   passes of 8 accumulators.
 *   loads           the same bytes read with no arithmetic: the rate of the
 *                   cache they come from.
 *
 * Every kernel forms each lane's sum in Recur's order (the even columns in
 * one chain, the odd in another, then their sum), so the layouts give the
 * same bits; the program checks it before timing. Contenders run in turn in
 * slices of about 2 ms; medians of the rounds, the ratio as the median of
 * the per-round ratios.
 *
 *   out/bench-layouts [rounds]
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));

#define SPLAT8(f) ((v8){f, f, f, f, f, f, f, f})
#define SPLAT16(f) ((v16){f, f, f, f, f, f, f, f, f, f, f, f, f, f, f, f})

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

typedef struct {
    int blocks, columns;
    const float *w;       /* Recur's layout */
    const float *halves;  /* the halves layout */
    const float *x;
    float *out;           /* blocks x 64 sums */
} layer;

/* Recur's layout on AVX2: two chains of 4 gates x 2 ymm. */
__attribute__((target("avx2,fma"), noinline)) static void recur_ymm(const layer *l) {
    for (int b = 0; b < l->blocks; b++) {
        const v8 *p = (const v8 *)(l->w + (size_t)b * l->columns * 64);
        v8 a[8] = {0}, z[8] = {0};
        int c = 0;
        for (; c + 1 < l->columns; c += 2) {
            v8 x0 = SPLAT8(l->x[c]), x1 = SPLAT8(l->x[c + 1]);
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) a[g] += p[g] * x0;
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) z[g] += p[8 + g] * x1;
            p += 16;
        }
        if (c < l->columns) {
            v8 x0 = SPLAT8(l->x[c]);
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) a[g] += p[g] * x0;
        }
        for (int g = 0; g < 8; g++) {
            v8 sum = a[g] + z[g];
            memcpy(l->out + b * 64 + g * 8, &sum, 32);
        }
    }
}

/* The halves layout on AVX2: per half, two chains of 4 gates x 1 ymm. */
__attribute__((target("avx2,fma"), noinline)) static void halves_ymm(const layer *l) {
    for (int b = 0; b < l->blocks; b++) {
        for (int half = 0; half < 2; half++) {
            const v8 *p = (const v8 *)(l->halves + ((size_t)b * 2 + half) * l->columns * 32);
            v8 a[4] = {0}, z[4] = {0};
            int c = 0;
            for (; c + 1 < l->columns; c += 2) {
                v8 x0 = SPLAT8(l->x[c]), x1 = SPLAT8(l->x[c + 1]);
#pragma GCC unroll 4
                for (int g = 0; g < 4; g++) a[g] += p[g] * x0;
#pragma GCC unroll 4
                for (int g = 0; g < 4; g++) z[g] += p[4 + g] * x1;
                p += 8;
            }
            if (c < l->columns) {
                v8 x0 = SPLAT8(l->x[c]);
#pragma GCC unroll 4
                for (int g = 0; g < 4; g++) a[g] += p[g] * x0;
            }
            /* gate g, lanes 8 half ... 8 half + 7: where recur_ymm puts them */
            for (int g = 0; g < 4; g++) {
                v8 sum = a[g] + z[g];
                memcpy(l->out + b * 64 + g * 16 + half * 8, &sum, 32);
            }
        }
    }
}

/* Recur's layout on AVX-512: two chains of 4 gates x 1 zmm. */
__attribute__((target("avx512f"), noinline)) static void recur_zmm(const layer *l) {
    for (int b = 0; b < l->blocks; b++) {
        const v16 *p = (const v16 *)(l->w + (size_t)b * l->columns * 64);
        v16 a[4] = {0}, z[4] = {0};
        int c = 0;
        for (; c + 1 < l->columns; c += 2) {
            v16 x0 = SPLAT16(l->x[c]), x1 = SPLAT16(l->x[c + 1]);
#pragma GCC unroll 4
            for (int g = 0; g < 4; g++) a[g] += p[g] * x0;
#pragma GCC unroll 4
            for (int g = 0; g < 4; g++) z[g] += p[4 + g] * x1;
            p += 8;
        }
        if (c < l->columns) {
            v16 x0 = SPLAT16(l->x[c]);
#pragma GCC unroll 4
            for (int g = 0; g < 4; g++) a[g] += p[g] * x0;
        }
        for (int g = 0; g < 4; g++) {
            v16 sum = a[g] + z[g];
            memcpy(l->out + b * 64 + g * 16, &sum, 64);
        }
    }
}

/* The bytes of Recur's layout, or-ed together 128 at a time. */
__attribute__((target("avx2"), noinline)) static void loads(const layer *l) {
    typedef long long v4i __attribute__((vector_size(32)));
    const v4i *p = (const v4i *)l->w;
    size_t n = (size_t)l->blocks * l->columns * 64 / 8;
    v4i a = {0}, b = {0}, c = {0}, d = {0};
    for (size_t i = 0; i < n; i += 4) {
        a |= p[i];
        b |= p[i + 1];
        c |= p[i + 2];
        d |= p[i + 3];
    }
    a |= b | c | d;
    memcpy(l->out, &a, 32);
}

typedef void (*kernel)(const layer *);

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, n, sizeof *v, compare);
    return v[n / 2];
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 31;
    if (rounds < 3) rounds = 3;
    int zmm = __builtin_cpu_supports("avx512f");
    const int sizes[][2] = {{16, 64}, {64, 128}, {128, 256}, {256, 512}};
    enum { K = 4 };
    kernel kernels[K] = {loads, recur_zmm, recur_ymm, halves_ymm};

    printf("LSTM gate sums, one pass over a layer's weights per step: GB/s, medians of %d rounds%s\n\n", rounds,
           zmm ? "" : " (no AVX-512 on this CPU)");
    printf("| I,H | weights | loads | recur (zmm) | recur (ymm) | halves (ymm) | halves/recur (ymm) time |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- |\n");
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int inputs = sizes[s][0], hidden = sizes[s][1];
        layer l = {.blocks = hidden / 16, .columns = inputs + hidden};
        size_t floats = (size_t)l.blocks * l.columns * 64, bytes = floats * 4;
        float *w = aligned_alloc(64, bytes), *halves = aligned_alloc(64, bytes), *x = malloc(l.columns * sizeof *x);
        float *out = aligned_alloc(64, (size_t)l.blocks * 64 * 4), *check = malloc((size_t)l.blocks * 64 * 4);
        uint32_t seed = 12345;
        for (size_t i = 0; i < floats; i++) {
            seed = seed * 1664525u + 1013904223u;
            w[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
        }
        for (int c = 0; c < l.columns; c++) x[c] = (float)((c * 37) % 17) / 17.0f - 0.5f;
        /* halves: block b, half h, column c, gate g, lane j = Recur's block b, column c, gate g, lane 8h + j */
        for (int b = 0; b < l.blocks; b++)
            for (int h = 0; h < 2; h++)
                for (int c = 0; c < l.columns; c++)
                    for (int g = 0; g < 4; g++)
                        memcpy(halves + (((size_t)b * 2 + h) * l.columns + c) * 32 + g * 8,
                               w + ((size_t)b * l.columns + c) * 64 + g * 16 + h * 8, 32);
        l.w = w;
        l.halves = halves;
        l.x = x;
        l.out = out;
        recur_ymm(&l);
        memcpy(check, out, (size_t)l.blocks * 64 * 4);
        halves_ymm(&l);
        if (memcmp(check, out, (size_t)l.blocks * 64 * 4) != 0) {
            fprintf(stderr, "%d,%d: the halves layout gave other bits than Recur's\n", inputs, hidden);
            return 1;
        }
        if (zmm) {
            recur_zmm(&l);
            if (memcmp(check, out, (size_t)l.blocks * 64 * 4) != 0) {
                fprintf(stderr, "%d,%d: zmm and ymm gave other bits\n", inputs, hidden);
                return 1;
            }
        }

        /* Passes per slice: about 2 ms at 50 GB/s. */
        long passes = (long)(1e8 / bytes) + 1;
        double *t[K], *ratio = malloc(rounds * sizeof *ratio);
        for (int k = 0; k < K; k++) t[k] = malloc(rounds * sizeof **t);
        /* Warm up (the clock, the caches) for 100 ms. */
        for (double t0 = now_ns(); now_ns() - t0 < 1e8;)
            for (int k = 0; k < K; k++)
                if (k != 1 || zmm) kernels[k](&l);
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < K; i++) {
                int k = (i + r) % K;
                if (k == 1 && !zmm) continue;
                double t0 = now_ns();
                for (long p = 0; p < passes; p++) kernels[k](&l);
                t[k][r] = (now_ns() - t0) / passes;
            }
            ratio[r] = t[3][r] / t[2][r];
        }
        printf("| %d,%d | %zu KB | %.1f | ", inputs, hidden, bytes / 1024, bytes / median(t[0], rounds));
        if (zmm)
            printf("%.1f", bytes / median(t[1], rounds));
        else
            printf("-");
        printf(" | %.1f | %.1f | %.2f |\n", bytes / median(t[2], rounds), bytes / median(t[3], rounds),
               median(ratio, rounds));
        for (int k = 0; k < K; k++) free(t[k]);
        free(ratio);
        free(w);
        free(halves);
        free(x);
        free(out);
        free(check);
    }
    return 0;
}
