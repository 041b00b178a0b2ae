/* Sampling the next token from a language model's probabilities, with a
 * temperature and top-k, from a seeded generator: the same seed gives the
 * same text on every machine (the generator and the arithmetic are fixed;
 * Recur's probabilities agree across its FMA tiers bit for bit).
 *
 * Everything lives in a `sampler` the caller sets up once: sampling
 * allocates nothing. Header-only (static functions), shared by textgen.c and
 * tests/c/test_textgen.c. */
#ifndef RECUR_EXAMPLE_SAMPLER_H
#define RECUR_EXAMPLE_SAMPLER_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t state;      /* splitmix64 */
    double temperature;  /* 0: always the most likely token */
    size_t top_k;        /* 0: every token */
    size_t *candidates;  /* top_k (or vocab) slots, the caller's memory */
    double *weights;     /* likewise */
} sampler;

static uint64_t sampler_next(sampler *s) {
    uint64_t z = (s->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static double sampler_uniform(sampler *s) { return (double)(sampler_next(s) >> 11) * 0x1.0p-53; }

/* A token drawn from probabilities p[0..vocab): the top_k most likely
 * (ties: the lower token), each weighted p^(1/temperature). */
static size_t sampler_draw(sampler *s, const float *p, size_t vocab) {
    size_t k = s->top_k == 0 || s->top_k > vocab ? vocab : s->top_k;
    if (s->temperature <= 0) k = 1;
    /* The k largest, in decreasing order, by insertion. */
    size_t n = 0;
    for (size_t t = 0; t < vocab; t++) {
        if (n == k && p[t] <= p[s->candidates[n - 1]]) continue;
        size_t i = n < k ? n++ : n - 1;
        while (i > 0 && p[s->candidates[i - 1]] < p[t]) {
            s->candidates[i] = s->candidates[i - 1];
            i--;
        }
        s->candidates[i] = t;
    }
    if (n == 1) return s->candidates[0];
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        s->weights[i] = pow((double)p[s->candidates[i]], 1.0 / s->temperature);
        total += s->weights[i];
    }
    double u = sampler_uniform(s) * total;
    for (size_t i = 0; i < n; i++) {
        if (u < s->weights[i]) return s->candidates[i];
        u -= s->weights[i];
    }
    return s->candidates[n - 1];
}

#endif
