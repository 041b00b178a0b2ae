/* Writes a model's outputs over 1000 deterministic steps (vectors in
 * [-2, 2), or tokens) to OUT as raw float32, stepping with whatever tier
 * this process chose; prints the tier. tests/isa/compare_tiers.py runs it
 * once per tier (RECUR_ISA) and compares the files.
 *
 *   tier_outputs MODEL.recur OUT.f32  */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <recur.h>

#include "narrow.h"  /* the reduced variants through their narrow kernels on each tier */

#define STEPS 1000

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: tier_outputs MODEL.recur OUT.f32\n");
        return 2;
    }
    recur_model *model = NULL;
    recur_stream *stream = NULL;
    if (load_narrow(argv[1], &model) != RECUR_OK || recur_stream_create(model, &stream) != RECUR_OK ||
        recur_stream_reserve(stream, STEPS) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], recur_last_error());
        return 1;
    }
    size_t in = recur_model_input_size(model), out = recur_model_output_size(model);
    size_t vocab = recur_model_vocab_size(model);
    float *xs = malloc(sizeof(float) * in * STEPS), *ys = malloc(sizeof(float) * out * STEPS);
    int32_t *tokens = malloc(sizeof(int32_t) * STEPS);
    uint32_t seed = 12345u;
    for (size_t i = 0; i < in * STEPS; i++) {
        seed = seed * 1664525u + 1013904223u;
        xs[i] = (float)(seed >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
    }
    for (size_t t = 0; t < STEPS; t++) tokens[t] = (int32_t)((t * 7919u) % (vocab ? vocab : 1));
    recur_status st = vocab ? recur_run_tokens(stream, STEPS, tokens, STEPS, ys, out * STEPS)
                            : recur_run(stream, STEPS, xs, in * STEPS, ys, out * STEPS);
    if (st != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], recur_last_error());
        return 1;
    }
    FILE *f = fopen(argv[2], "wb");
    if (!f || fwrite(ys, sizeof(float), out * STEPS, f) != out * STEPS || fclose(f) != 0) {
        perror(argv[2]);
        return 1;
    }
    printf("%s\n", recur_isa());
    recur_stream_free(stream);
    recur_model_free(model);
    free(xs);
    free(ys);
    free(tokens);
    return 0;
}
