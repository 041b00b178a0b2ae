/* The bundled translators in C, as a host decodes: for each held-out pair,
 * the encoder runs over the source tokens, the decoder starts from its
 * final state with its outputs as attention memory (when the decoder has an
 * attention layer) and decodes greedily. After the first sentence (whose
 * reserves allocate), encoding, handing over and decoding make no
 * allocator call. The translations must match the held-out French as
 * often as the decoder's metadata says (heldout_exact_greedy, measured
 * through the Python binding when it was trained), within 0.005.
 *
 *   test_translate ENCODER.recur DECODER.recur HELDOUT.tsv */
#define _GNU_SOURCE
#include "alloc_counter.h"
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <recur.h>

#define MAX_SOURCE 128
#define MAX_TARGET 96
#define MAX_VOCAB 256

static const char *meta(recur_model *m, const char *key) {
    for (size_t i = 0; i < recur_model_metadata_count(m); i++) {
        const char *k, *v;
        recur_model_metadata(m, i, &k, &v);
        if (strcmp(k, key) == 0) return v;
    }
    return NULL;
}

/* Splits a copy of `text` at spaces into at most `max` tokens. */
static size_t split(char *text, char **tokens, size_t max) {
    size_t n = 0;
    for (char *t = strtok(text, " "); t && n < max; t = strtok(NULL, " ")) tokens[n++] = t;
    return n;
}

static int find(char **vocab, size_t n, const char *word) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(vocab[i], word) == 0) return (int)i;
    return -1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s ENCODER.recur DECODER.recur HELDOUT.tsv\n", argv[0]);
        return 2;
    }
    recur_model *encoder, *decoder;
    if (recur_model_load_file(argv[1], &encoder) != RECUR_OK || recur_model_load_file(argv[2], &decoder) != RECUR_OK) {
        fprintf(stderr, "cannot load the models: %s\n", recur_last_error());
        return 2;
    }
    char *source_text = strdup(meta(decoder, "source_vocab")), *target_text = strdup(meta(decoder, "target_vocab"));
    char *source[MAX_VOCAB], *target[MAX_VOCAB];
    size_t ns = split(source_text, source, MAX_VOCAB), nt = split(target_text, target, MAX_VOCAB);
    int bos = find(target, nt, "<s>"), eos = find(target, nt, "</s>");
    double expected = atof(meta(decoder, "heldout_exact_greedy"));
    size_t hidden = recur_model_output_size(encoder), vocab = recur_model_output_size(decoder);
    long attention = -1;
    for (size_t l = 0; l < recur_model_layer_count(decoder); l++) {
        recur_layer_info info = {.struct_size = sizeof info};
        recur_model_layer_info(decoder, l, &info);
        if (info.kind == RECUR_LAYER_ATTENTION) attention = (long)l;
    }
    recur_stream *enc, *dec;
    recur_stream_create(encoder, &enc);
    recur_stream_create(decoder, &dec);
    if (attention >= 0) CHECK(recur_stream_reserve_memory(dec, MAX_SOURCE) == RECUR_OK, "reserve memory");
    static float memory[MAX_SOURCE * 1024], logits[MAX_VOCAB], h[1024], c[1024];

    FILE *f = fopen(argv[3], "r");
    CHECK(f != NULL, "cannot read %s", argv[3]);
    char line[8192];
    size_t pairs = 0, right = 0;
    long calls = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *english = strchr(line, '\t');
        char *french = english ? strchr(english + 1, '\t') : NULL;
        if (!french) break;
        *english++ = 0;
        *french++ = 0;
        char *words[MAX_SOURCE], *expected_words[MAX_TARGET];
        int32_t tokens[MAX_SOURCE];
        size_t n = split(english, words, MAX_SOURCE), ne = split(french, expected_words, MAX_TARGET);
        for (size_t i = 0; i < n; i++) tokens[i] = find(source, ns, words[i]);
        int32_t out[MAX_TARGET];
        size_t length = 0;
        int ok = 1;
        alloc_calls = 0;
        alloc_counting = pairs > 0;
        recur_stream_reset(enc);
        recur_stream_reset(dec);
        ok &= recur_run_tokens(enc, n, tokens, n, memory, n * hidden) == RECUR_OK;
        ok &= recur_stream_get_state(enc, 1, h, hidden, c, hidden) == RECUR_OK;
        ok &= recur_stream_set_state(dec, 1, h, hidden, c, hidden) == RECUR_OK;
        if (attention >= 0) ok &= recur_stream_set_memory(dec, (size_t)attention, memory, n, hidden) == RECUR_OK;
        int32_t token = bos;
        while (ok && length < MAX_TARGET) {
            ok &= recur_step_token(dec, token, logits, vocab) == RECUR_OK;
            token = 0;
            for (size_t t = 1; t < vocab; t++)
                if (logits[t] > logits[token]) token = (int32_t)t;
            if (token == eos) break;
            out[length++] = token;
        }
        alloc_counting = 0;
        calls += alloc_calls;
        CHECK(ok, "decoding pair %zu: %s", pairs, recur_last_error());
        int exact = length == ne;
        for (size_t i = 0; exact && i < length; i++) exact = strcmp(target[out[i]], expected_words[i]) == 0;
        right += (size_t)exact;
        pairs++;
    }
    if (f) fclose(f);
    double share = pairs ? (double)right / (double)pairs : 0;
    CHECK(pairs == 2000, "%zu held-out pairs", pairs);
    CHECK(calls == 0, "%ld allocator calls while encoding and decoding %zu sentences", calls, pairs - 1);
    CHECK(fabs(share - expected) <= 0.005, "greedy exact match %.4f, the decoder's metadata says %.4f", share, expected);
    printf("%s: greedy exact match %.4f (%zu/%zu), no allocation while decoding\n", argv[2], share, right, pairs);
    free(source_text);
    free(target_text);
    recur_stream_free(enc);
    recur_stream_free(dec);
    recur_model_free(encoder);
    recur_model_free(decoder);
    return check_summary("test_translate");
}
