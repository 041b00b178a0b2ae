/* Continues a prompt with a character-level language model, one token at a
 * time: each character of the prompt goes through recur_step_token, then
 * each next character is drawn from the model's probabilities (temperature,
 * top-k, a seeded generator: the same seed gives the same text) and fed
 * back. The vocabulary is the model's "vocab" metadata: token i is its i-th
 * character.
 *
 *   textgen [-p PROMPT] [-n CHARACTERS] [-t TEMPERATURE] [-k TOP_K] [-s SEED] MODEL.recur
 *
 * Prints the prompt and its continuation, then (to stderr) the characters
 * generated per second. Build: cc textgen.c $(pkg-config --cflags --libs recur) -lm */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <recur.h>

#include "sampler.h"

static int fail(const char *what, recur_status st) {
    fprintf(stderr, "%s: %s: %s\n", what, recur_status_string(st), recur_last_error());
    return 1;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
    const char *prompt = "And God said", *usage =
        "usage: %s [-p PROMPT] [-n CHARACTERS] [-t TEMPERATURE] [-k TOP_K] [-s SEED] MODEL.recur\n";
    long length = 400;
    sampler smp = {.state = 1, .temperature = 0.7, .top_k = 20};
    int opt;
    while ((opt = getopt(argc, argv, "p:n:t:k:s:")) != -1) {
        switch (opt) {
        case 'p': prompt = optarg; break;
        case 'n': length = atol(optarg); break;
        case 't': smp.temperature = atof(optarg); break;
        case 'k': smp.top_k = (size_t)atol(optarg); break;
        case 's': smp.state = strtoull(optarg, NULL, 10); break;
        default: fprintf(stderr, usage, argv[0]); return 2;
        }
    }
    if (optind != argc - 1 || length < 0) {
        fprintf(stderr, usage, argv[0]);
        return 2;
    }

    recur_model *model;
    recur_status st = recur_model_load_file(argv[optind], &model);
    if (st != RECUR_OK) return fail(argv[optind], st);
    const char *vocab = NULL;
    for (size_t i = 0; i < recur_model_metadata_count(model); i++) {
        const char *key, *value;
        if (recur_model_metadata(model, i, &key, &value) == RECUR_OK && strcmp(key, "vocab") == 0) vocab = value;
    }
    size_t V = recur_model_vocab_size(model);
    if (!vocab || strlen(vocab) != V || recur_model_output_size(model) != V) {
        fprintf(stderr, "%s: not a character model (it needs a \"vocab\" metadata string of one character per token, "
                        "and as many outputs as tokens)\n", argv[optind]);
        return 1;
    }

    /* Everything generation needs, before it starts: it allocates nothing. */
    recur_stream *stream;
    if ((st = recur_stream_create(model, &stream)) != RECUR_OK) return fail("recur_stream_create", st);
    float *p = malloc(sizeof(float) * V);
    smp.candidates = malloc(sizeof(size_t) * V);
    smp.weights = malloc(sizeof(double) * V);
    char *text = malloc((size_t)length + 1);

    /* An empty prompt starts where a verse starts: after a newline. */
    for (const char *c = *prompt ? prompt : "\n"; *c; c++) {
        const char *at = strchr(vocab, *c);
        if (!at) {
            fprintf(stderr, "the prompt's character '%c' is not in the model's vocabulary\n", *c);
            return 1;
        }
        if ((st = recur_step_token(stream, (int32_t)(at - vocab), p, V)) != RECUR_OK) return fail("recur_step_token", st);
    }
    double t0 = now_ns();
    for (long i = 0; i < length; i++) {
        size_t token = sampler_draw(&smp, p, V);
        text[i] = vocab[token];
        if ((st = recur_step_token(stream, (int32_t)token, p, V)) != RECUR_OK) return fail("recur_step_token", st);
    }
    double seconds = (now_ns() - t0) / 1e9;
    text[length] = 0;
    printf("%s%s\n", prompt, text);
    fprintf(stderr, "%ld characters in %.2f ms: %.0f characters per second (%s tier)\n", length, seconds * 1e3,
            length / (seconds > 0 ? seconds : 1e-9), recur_isa());

    free(text), free(smp.weights), free(smp.candidates), free(p);
    recur_stream_free(stream);
    recur_model_free(model);
    return 0;
}
