/* ns per recur_step for LSTM and GRU at (input, hidden) = (1,8), (16,64),
 * (128,256), (512,1024), against a plain C baseline in the same run (the
 * textbook loop: one dot product per gate row, expf/tanhf from libm, built
 * with -O3 -march=native). The machine is shared and noisy: read the
 * ratio column, and compare runs on one machine only.
 *
 *   bench MODEL_DIR      (models from bench/make_models.py; `make bench`)
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <recur.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

/* The baseline: PyTorch semantics, row-by-row. */
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

static int load_naive(naive *n, const char *path, int gru, int in, int hid) {
    int G = gru ? 3 : 4;
    size_t count = (size_t)G * hid * in + (size_t)G * hid * hid + 2 * (size_t)G * hid;
    float *w = malloc(count * sizeof(float));
    FILE *f = fopen(path, "rb");
    if (!f || fread(w, sizeof(float), count, f) != count) { if (f) fclose(f); free(w); return 0; }
    fclose(f);
    n->gru = gru; n->in = in; n->hid = hid;
    n->wih = w; n->whh = w + (size_t)G * hid * in; n->bih = n->whh + (size_t)G * hid * hid; n->bhh = n->bih + G * hid;
    n->h = calloc(hid, sizeof(float)); n->c = calloc(hid, sizeof(float)); n->hn = calloc(hid, sizeof(float));
    n->gx = calloc((size_t)G * hid, sizeof(float)); n->gh = calloc((size_t)G * hid, sizeof(float));
    return 1;
}

/* Steps for about `budget_ns`, best of `rounds`; returns ns per step. */
#define TIME_IT(stmt, steps_per_round, rounds, out) do { \
    double best_ = INFINITY; \
    for (int r_ = 0; r_ < (rounds); r_++) { \
        double t0_ = now_ns(); \
        for (long s_ = 0; s_ < (steps_per_round); s_++) { stmt; } \
        double per_ = (now_ns() - t0_) / (steps_per_round); \
        if (per_ < best_) best_ = per_; \
    } \
    (out) = best_; \
} while (0)

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s MODEL_DIR\n", argv[0]); return 2; }
    static const int sizes[][2] = {{1, 8}, {16, 64}, {128, 256}, {512, 1024}};
    printf("Recur %s (%s tier): ns per step, batch 1, one layer (best of 7 rounds)\n\n", recur_version(), recur_isa());
    printf("%-5s %6s %6s %10s %12s %12s %10s %10s\n", "cell", "input", "hidden", "weights", "recur ns",
           "naive C ns", "speed-up", "GB/s");
    for (int gru = 0; gru <= 1; gru++) {
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            int in = sizes[s][0], hid = sizes[s][1], G = gru ? 3 : 4;
            char path[4096], raw[4096];
            snprintf(path, sizeof path, "%s/%s_%d_%d.recur", argv[1], gru ? "gru" : "lstm", in, hid);
            snprintf(raw, sizeof raw, "%s/%s_%d_%d.raw", argv[1], gru ? "gru" : "lstm", in, hid);
            recur_model *model = NULL;
            recur_stream *stream = NULL;
            if (recur_model_load_file(path, &model) != RECUR_OK || recur_stream_create(model, &stream) != RECUR_OK) {
                fprintf(stderr, "%s: %s\n", path, recur_last_error());
                return 1;
            }
            naive n;
            if (!load_naive(&n, raw, gru, in, hid)) { fprintf(stderr, "cannot read %s\n", raw); return 1; }
            float *x = malloc(sizeof(float) * in), *y = malloc(sizeof(float) * hid);
            for (int k = 0; k < in; k++) x[k] = (float)((k * 37) % 17) / 17.0f - 0.5f;
            double bytes = 4.0 * G * hid * (in + hid + 2);
            long steps = (long)(2e8 / (bytes + 2000));  /* ~0.05 s a round */
            if (steps < 20) steps = 20;
            double t_recur, t_naive;
            TIME_IT(recur_step(stream, x, in, y, hid), steps, 7, t_recur);
            TIME_IT(naive_step(&n, x), steps, 7, t_naive);
            printf("%-5s %6d %6d %8.0fKB %12.1f %12.1f %9.1fx %10.1f\n", gru ? "gru" : "lstm", in, hid,
                   bytes / 1024, t_recur, t_naive, t_naive / t_recur, bytes / t_recur);
            free(x); free(y); free(n.wih); free(n.h); free(n.c); free(n.hn); free(n.gx); free(n.gh);
            recur_stream_free(stream);
            recur_model_free(model);
        }
    }
    return 0;
}
