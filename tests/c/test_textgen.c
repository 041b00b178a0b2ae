/* The text generator of examples/textgen on the bundled language model:
 * the same seed gives the same text, another seed another text; greedy
 * decoding is the argmax at every step; the draw honours top-k; and
 * generating (stepping plus sampling) allocates nothing.
 *
 *   test_textgen examples/textgen/kjv.recur */
#include <string.h>

#include <recur.h>

#include "../../examples/textgen/sampler.h"
#include "alloc_counter.h"
#include "check.h"

#define LENGTH 300

typedef struct {
    recur_stream *stream;
    const char *vocab;
    size_t V;
    float *p;
} lm;

/* The continuation of `prompt` (LENGTH characters into `out`), generation
 * counted by the allocation counter. */
static void generate(lm *m, sampler *s, const char *prompt, char *out) {
    recur_stream_reset(m->stream);
    for (const char *c = prompt; *c; c++)
        recur_step_token(m->stream, (int32_t)(strchr(m->vocab, *c) - m->vocab), m->p, m->V);
    alloc_counting = 1;
    for (int i = 0; i < LENGTH; i++) {
        size_t t = sampler_draw(s, m->p, m->V);
        out[i] = m->vocab[t];
        recur_step_token(m->stream, (int32_t)t, m->p, m->V);
    }
    alloc_counting = 0;
    out[LENGTH] = 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.recur\n", argv[0]);
        return 2;
    }
    recur_model *model;
    CHECK(recur_model_load_file(argv[1], &model) == RECUR_OK, "%s: %s", argv[1], recur_last_error());
    if (check_failed) return check_summary("test_textgen");
    lm m = {.V = recur_model_vocab_size(model)};
    for (size_t i = 0; i < recur_model_metadata_count(model); i++) {
        const char *key, *value;
        if (recur_model_metadata(model, i, &key, &value) == RECUR_OK && strcmp(key, "vocab") == 0) m.vocab = value;
    }
    CHECK(m.vocab && strlen(m.vocab) == m.V && recur_model_output_size(model) == m.V, "the model's vocab metadata");
    if (check_failed) return check_summary("test_textgen");
    CHECK(recur_stream_create(model, &m.stream) == RECUR_OK, "recur_stream_create");
    m.p = malloc(sizeof(float) * m.V);
    size_t *candidates = malloc(sizeof(size_t) * m.V);
    double *weights = malloc(sizeof(double) * m.V);
    char a[LENGTH + 1], b[LENGTH + 1], c[LENGTH + 1];

    sampler s = {.state = 7, .temperature = 0.8, .top_k = 20, .candidates = candidates, .weights = weights};
    alloc_calls = 0;
    generate(&m, &s, "And God said", a);
    s.state = 7;
    generate(&m, &s, "And God said", b);
    CHECK(strcmp(a, b) == 0, "the same seed gave two texts:\n%s\n---\n%s", a, b);
    s.state = 8;
    generate(&m, &s, "And God said", c);
    CHECK(strcmp(a, c) != 0, "seeds 7 and 8 gave the same text");
    CHECK(alloc_calls == 0, "generating %d characters 3 times made %ld allocator calls", LENGTH, alloc_calls);
    printf("seed 7: And God said%.120s...\n", a);

    /* Greedy: the argmax at every step, whatever the seed. */
    sampler g = {.state = 1, .temperature = 0, .candidates = candidates, .weights = weights};
    generate(&m, &g, "In the beginning", a);
    recur_stream_reset(m.stream);
    for (const char *ch = "In the beginning"; *ch; ch++)
        recur_step_token(m.stream, (int32_t)(strchr(m.vocab, *ch) - m.vocab), m.p, m.V);
    int argmax_ok = 1;
    for (int i = 0; i < LENGTH; i++) {
        size_t best = 0;
        for (size_t t = 1; t < m.V; t++)
            if (m.p[t] > m.p[best]) best = t;
        argmax_ok &= m.vocab[best] == a[i];
        recur_step_token(m.stream, (int32_t)best, m.p, m.V);
    }
    CHECK(argmax_ok, "temperature 0 is not the argmax at every step");

    /* Top-k: only the k most likely tokens are ever drawn. */
    float probs[5] = {0.1f, 0.4f, 0.05f, 0.3f, 0.15f};
    sampler k2 = {.state = 3, .temperature = 1, .top_k = 2, .candidates = candidates, .weights = weights};
    int seen[5] = {0};
    for (int i = 0; i < 2000; i++) seen[sampler_draw(&k2, probs, 5)]++;
    CHECK(seen[0] == 0 && seen[2] == 0 && seen[4] == 0 && seen[1] > 0 && seen[3] > 0,
          "top-2 drew %d %d %d %d %d", seen[0], seen[1], seen[2], seen[3], seen[4]);
    /* Temperature 1 over all tokens: frequencies near the probabilities. */
    sampler all = {.state = 5, .temperature = 1, .candidates = candidates, .weights = weights};
    int n[5] = {0};
    for (int i = 0; i < 100000; i++) n[sampler_draw(&all, probs, 5)]++;
    int near = 1;
    for (int t = 0; t < 5; t++) near &= fabs(n[t] / 1e5 - probs[t]) < 0.01;
    CHECK(near, "frequencies %d %d %d %d %d out of 100000", n[0], n[1], n[2], n[3], n[4]);

    free(m.p), free(candidates), free(weights);
    recur_stream_free(m.stream);
    recur_model_free(model);
    return check_summary("test_textgen");
}
