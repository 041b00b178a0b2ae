/* What is inside a model, through recur_model_layer_info,
 * recur_model_producer and recur_model_metadata: the values of one known
 * model (tests/c/make_variant_models.py's lstm_peephole_clip), the
 * extensible-struct rules, and the errors. (tests/python/test_inspect.py
 * checks every layer of every model against the file's protobuf message.)
 *
 *   test_inspect lstm_peephole_clip.recur token_lm.recur */
#include "check.h"

#include <string.h>

#include <recur.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: test_inspect lstm_peephole_clip.recur token_lm.recur\n");
        return 2;
    }
    recur_model *m, *t;
    CHECK(recur_model_load_file(argv[1], &m) == RECUR_OK, "%s", recur_last_error());
    CHECK(recur_model_load_file(argv[2], &t) == RECUR_OK, "%s", recur_last_error());

    recur_layer_info info = {.struct_size = sizeof info};
    CHECK(recur_model_layer_info(m, 0, &info) == RECUR_OK, "%s", recur_last_error());
    CHECK(info.kind == RECUR_LAYER_LSTM && info.direction == 0, "kind %d direction %d", info.kind, info.direction);
    CHECK(info.input_size == 3 && info.output_size == 17 && info.hidden_size == 17 && info.proj_size == 0 &&
          info.vocab_size == 0, "sizes %zu %zu %zu", info.input_size, info.output_size, info.hidden_size);
    /* weight_ih 68x3, weight_hh 68x17, two biases of 68, peephole 3x17 */
    CHECK(info.parameters == 68 * 3 + 68 * 17 + 2 * 68 + 3 * 17, "parameters %zu", info.parameters);
    CHECK(info.options == (RECUR_OPTION_BIAS | RECUR_OPTION_PEEPHOLE | RECUR_OPTION_CLIP | RECUR_OPTION_CELL_CLIP),
          "options 0x%x", info.options);
    CHECK(info.element_type == 1 && info.name && strcmp(info.name, "") == 0, "element type, name");
    CHECK(info.function_count == 3 && info.functions[0] == RECUR_FUNCTION_SIGMOID &&
          info.functions[1] == RECUR_FUNCTION_TANH && info.functions[2] == RECUR_FUNCTION_TANH, "f, g, h");
    CHECK(strcmp(recur_model_producer(m), "recur-python") == 0, "producer %s", recur_model_producer(m));
    CHECK(recur_model_metadata_count(m) == 2, "metadata count %zu", recur_model_metadata_count(m));
    const char *key = NULL, *value = NULL;
    CHECK(recur_model_metadata(m, 1, &key, &value) == RECUR_OK && strcmp(key, "name") == 0 &&
          strcmp(value, "lstm_peephole_clip") == 0, "metadata 1: %s=%s", key, value);
    CHECK(recur_model_metadata(m, 0, NULL, &value) == RECUR_OK && strcmp(value, "make_variant_models.py") == 0,
          "metadata 0 value");

    /* token_lm: embedding, lstm, dense, softmax. */
    const recur_layer_kind kinds[] = {RECUR_LAYER_EMBEDDING, RECUR_LAYER_LSTM, RECUR_LAYER_DENSE, RECUR_LAYER_SOFTMAX};
    CHECK(recur_model_layer_count(t) == 4, "token_lm layers");
    for (size_t l = 0; l < 4; l++) {
        recur_layer_info i = {.struct_size = sizeof i};
        CHECK(recur_model_layer_info(t, l, &i) == RECUR_OK && i.kind == kinds[l], "token_lm layer %zu kind %d", l, i.kind);
        if (l == 0) CHECK(i.vocab_size == 50 && i.input_size == 1 && i.output_size == 10 && i.parameters == 500 &&
                          i.function_count == 0, "embedding");
        if (l == 2) CHECK(i.function_count == 1 && i.functions[0] == RECUR_FUNCTION_IDENTITY, "dense activation");
    }

    /* An older caller's smaller struct gets only what fits; a newer caller's
     * larger one gets zeros past what this library knows. */
    unsigned char raw[sizeof(recur_layer_info) + 32];
    memset(raw, 0xEE, sizeof raw);
    recur_layer_info *small = (recur_layer_info *)raw;
    small->struct_size = offsetof(recur_layer_info, name);
    CHECK(recur_model_layer_info(m, 0, small) == RECUR_OK && small->kind == RECUR_LAYER_LSTM, "small struct");
    CHECK(raw[offsetof(recur_layer_info, name)] == 0xEE, "a small struct is written past its size");
    memset(raw, 0xEE, sizeof raw);
    small->struct_size = sizeof raw;
    CHECK(recur_model_layer_info(m, 0, small) == RECUR_OK && small->input_size == 3, "large struct");
    int zeros = 1;
    for (size_t k = sizeof(recur_layer_info); k < sizeof raw; k++) zeros &= raw[k] == 0;
    CHECK(zeros, "a larger struct's unknown tail is zeroed");

    /* Errors, in the header's order. */
    recur_layer_info bad = {.struct_size = 4};
    CHECK(recur_model_layer_info(NULL, 0, &info) == RECUR_ERROR_INVALID_ARGUMENT, "NULL model");
    CHECK(recur_model_layer_info(m, 0, NULL) == RECUR_ERROR_INVALID_ARGUMENT, "NULL info");
    CHECK(recur_model_layer_info(m, 0, &bad) == RECUR_ERROR_INVALID_ARGUMENT, "struct_size 4");
    CHECK(recur_model_layer_info(m, 1, &info) == RECUR_ERROR_OUT_OF_RANGE, "layer 1 of 1");
    CHECK(recur_model_metadata(m, 2, &key, &value) == RECUR_ERROR_OUT_OF_RANGE, "metadata 2 of 2");
    recur_model_free(m);
    CHECK(recur_model_layer_info(m, 0, &info) == RECUR_ERROR_BAD_HANDLE, "freed model");
    CHECK(recur_model_metadata(m, 0, &key, &value) == RECUR_ERROR_BAD_HANDLE, "freed model");
    CHECK(recur_model_metadata_count(m) == 0 && strcmp(recur_model_producer(m), "") == 0, "freed model's getters");
    recur_model_free(t);
    return check_summary("test_inspect");
}
