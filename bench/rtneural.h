/* RTNeural behind a C interface, for bench.c (bench/rtneural.cpp). */
#ifndef RECUR_BENCH_RTNEURAL_H
#define RECUR_BENCH_RTNEURAL_H
#ifdef __cplusplus
extern "C" {
#endif
typedef struct rtn_layer rtn_layer;
/* One LSTM (gru = 0) or GRU layer with bench.c's .raw weights; NULL for a size not compiled in. */
rtn_layer *rtn_create(int gru, int in, int hid, const float *raw);
/* `steps` steps: row s of xs (in floats) in, row s of ys (hid floats) out. */
void rtn_run(rtn_layer *layer, const float *xs, float *ys, long steps);
void rtn_free(rtn_layer *layer);
#ifdef __cplusplus
}
#endif
#endif
