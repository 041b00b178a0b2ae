/* RTNeural as a contender in bench.c, built only when RTNEURAL_DIR points at
 * a checkout of https://github.com/jatinchowdhury18/RTNeural (BSD-3-Clause;
 * nothing of it is in this repository). Its compile-time API with the Eigen
 * backend it bundles, -O3 -march=native, 64-byte alignment: RTNeural at its
 * fastest on this CPU. One layer, as bench.c measures Recur: the step is
 * `forward` and the outputs are read from `outs` into the caller's array.
 *
 * Weights come from the same .raw file as bench.c's plain C loop (PyTorch
 * layout: weight_ih [G*H][I], weight_hh [G*H][H], bias_ih, bias_hh) and are
 * handed to RTNeural in its Keras layout (kernel [I][G*H], recurrent
 * [H][G*H]; LSTM gates i, f, c, o with one bias; GRU gates z, r, h with the
 * input and recurrent biases apart, reset after).
 */
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include <RTNeural/RTNeural.h>

#include "rtneural.h"

namespace {

using Rows = std::vector<std::vector<float>>;

/* PyTorch's [G*H][n] block, transposed to [n][G*H] with its gates reordered. */
Rows keras(const float *w, int n, int H, const std::vector<int> &gates) {
    Rows out((size_t)n, std::vector<float>(gates.size() * H));
    for (int k = 0; k < n; k++)
        for (size_t g = 0; g < gates.size(); g++)
            for (int u = 0; u < H; u++) out[k][g * H + u] = w[((size_t)gates[g] * H + u) * n + k];
    return out;
}

std::vector<float> reorder(const float *b, int H, const std::vector<int> &gates) {
    std::vector<float> out(gates.size() * H);
    for (size_t g = 0; g < gates.size(); g++)
        for (int u = 0; u < H; u++) out[g * H + u] = b[(size_t)gates[g] * H + u];
    return out;
}

/* `steps` steps over rows of inputs and outputs, the loop inside so that
 * the compiled step inlines into it (the compile-time API's purpose). */
struct Base {
    virtual ~Base() = default;
    virtual void run(const float *x, float *y, long steps) = 0;
};

/* One RTNeural layer stepping over rows of inputs and outputs. */
template <typename Layer, int I, int H>
struct Stepper : Base {
    Layer layer;
    Eigen::Matrix<float, I, 1> in;
    void run(const float *xs, float *ys, long steps) override {
        for (long s = 0; s < steps; s++) {
            std::memcpy(in.data(), xs + s * I, sizeof(float) * I);
            layer.forward(in);
            std::memcpy(ys + s * H, layer.outs.data(), sizeof(float) * H);
        }
    }
};

template <int I, int H>
struct LSTM final : Stepper<RTNeural::LSTMLayerT<float, I, H>, I, H> {
    explicit LSTM(const float *w) {
        const std::vector<int> ifco{0, 1, 2, 3};  // PyTorch's i, f, g, o is Keras's i, f, c, o
        const float *whh = w + (size_t)4 * H * I, *bih = whh + (size_t)4 * H * H, *bhh = bih + 4 * H;
        this->layer.setWVals(keras(w, I, H, ifco));
        this->layer.setUVals(keras(whh, H, H, ifco));
        std::vector<float> b(4 * H);
        for (int r = 0; r < 4 * H; r++) b[r] = bih[r] + bhh[r];
        this->layer.setBVals(b);
        this->layer.reset();
    }
};

template <int I, int H>
struct GRU final : Stepper<RTNeural::GRULayerT<float, I, H>, I, H> {
    explicit GRU(const float *w) {
        const std::vector<int> zrh{1, 0, 2};  // PyTorch's r, z, n
        const float *whh = w + (size_t)3 * H * I, *bih = whh + (size_t)3 * H * H, *bhh = bih + 3 * H;
        this->layer.setWVals(keras(w, I, H, zrh));
        this->layer.setUVals(keras(whh, H, H, zrh));
        this->layer.setBVals({reorder(bih, H, zrh), reorder(bhh, H, zrh)});
        this->layer.reset();
    }
};

/* The layers hold their weights inline (fixed-size Eigen matrices, up to
 * 25 MB): always on the heap, aligned. */
template <typename L>
Base *make(const float *w) {
    void *p = ::operator new(sizeof(L), std::align_val_t(64));
    return new (p) L(w);
}

}  // namespace

extern "C" rtn_layer *rtn_create(int gru, int in, int hid, const float *raw) {
#define SIZE(I, H)                                                                       \
    if (in == I && hid == H) return (rtn_layer *)(gru ? make<GRU<I, H>>(raw) : make<LSTM<I, H>>(raw));
    SIZE(1, 8) SIZE(1, 32) SIZE(16, 64) SIZE(64, 128) SIZE(128, 256) SIZE(256, 512) SIZE(512, 1024)
#undef SIZE
    return nullptr;
}

extern "C" void rtn_run(rtn_layer *layer, const float *xs, float *ys, long steps) { ((Base *)layer)->run(xs, ys, steps); }

extern "C" void rtn_free(rtn_layer *layer) {
    Base *b = (Base *)layer;
    b->~Base();
    ::operator delete((void *)b, std::align_val_t(64));
}
