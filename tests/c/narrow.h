/* Loading for the C tests: bf16 and int8 weight matrices kept narrow
 * wherever a kernel exists (RECUR_WEIGHTS_NARROW). The default
 * (RECUR_WEIGHTS_AUTO) widens layers small enough to stay in a core's
 * caches, and the tests' reduced variants are small: this way they run the
 * narrow kernels through every check. float32 files load as they would. */
#ifndef NARROW_H
#define NARROW_H
#include <recur.h>

static inline recur_status load_narrow(const char *path, recur_model **out) {
    recur_load_options o = recur_load_options_default();
    o.weight_storage = RECUR_WEIGHTS_NARROW;
    return recur_model_load_file_ex(path, &o, out);
}

static inline recur_status load_narrow_memory(const void *data, size_t size, recur_model **out) {
    recur_load_options o = recur_load_options_default();
    o.weight_storage = RECUR_WEIGHTS_NARROW;
    return recur_model_load_memory_ex(data, size, &o, out);
}
#endif
