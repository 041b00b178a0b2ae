// recur.hpp: a header-only C++17 wrapper over recur.h.
//
//   recur::model model = recur::model::load("model.recur");
//   recur::stream stream = model.new_stream();
//   float x[1] = {120.0f}, y[1];
//   stream.step(x, y);                 // views over arrays, vectors or (pointer, count)
//   std::vector<float> ys = stream.run(xs_vector);
//
// model and stream own their handles (move-only; freed by the destructor,
// in either order, as in C). A failing call throws recur::error, which
// carries the recur_status and the library's detail message. The stepping
// calls are inline: one call into the library and a test of its status, so
// they cost what the C calls cost (make test checks the disassembly).
#ifndef RECUR_HPP
#define RECUR_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "recur.h"

namespace recur {

// A failed call: what() is the detail message of recur_last_error().
class error : public std::runtime_error {
public:
    error(recur_status status, const char *detail) : std::runtime_error(detail), status_(status) {}
    recur_status status() const noexcept { return status_; }
    const char *status_name() const noexcept { return recur_status_string(status_); }

private:
    recur_status status_;
};

namespace detail {
[[noreturn, gnu::cold, gnu::noinline]] inline void fail(recur_status status) { throw error(status, recur_last_error()); }
inline void check(recur_status status) {
    if (__builtin_expect(status != RECUR_OK, 0)) fail(status);
}
struct model_free { void operator()(recur_model *m) const noexcept { recur_model_free(m); } };
struct stream_free { void operator()(recur_stream *s) const noexcept { recur_stream_free(s); } };
}  // namespace detail

// A view of floats the library reads: an array, a vector, or a pointer and a count.
struct in {
    const float *data;
    size_t size;
    in(const float *d, size_t n) noexcept : data(d), size(n) {}
    template <size_t N> in(const float (&a)[N]) noexcept : data(a), size(N) {}
    template <class C, class = decltype(std::declval<const C &>().data())>
    in(const C &c) noexcept : data(c.data()), size(c.size()) {}
};

// A view of floats the library writes.
struct out {
    float *data;
    size_t size;
    out(float *d, size_t n) noexcept : data(d), size(n) {}
    template <size_t N> out(float (&a)[N]) noexcept : data(a), size(N) {}
    template <class C, class = decltype(std::declval<C &>().data())>
    out(C &c) noexcept : data(c.data()), size(c.size()) {}
};

class stream;

// An immutable model; share it between threads.
class model {
public:
    static model load(const std::string &path, const recur_load_options *options = nullptr) {
        recur_model *m = nullptr;
        detail::check(recur_model_load_file_ex(path.c_str(), options, &m));
        return model(m);
    }
    static model load(const void *data, size_t size, const recur_load_options *options = nullptr) {
        recur_model *m = nullptr;
        detail::check(recur_model_load_memory_ex(data, size, options, &m));
        return model(m);
    }

    size_t input_size() const noexcept { return recur_model_input_size(get()); }
    size_t output_size() const noexcept { return recur_model_output_size(get()); }
    size_t layer_count() const noexcept { return recur_model_layer_count(get()); }
    size_t vocab_size() const noexcept { return recur_model_vocab_size(get()); }
    size_t snapshot_size() const noexcept { return recur_stream_snapshot_size(get()); }

    recur_layer_info layer(size_t index) const {
        recur_layer_info info{};
        info.struct_size = sizeof info;
        detail::check(recur_model_layer_info(get(), index, &info));
        return info;
    }
    std::string producer() const { return recur_model_producer(get()); }
    std::vector<std::pair<std::string, std::string>> metadata() const {
        std::vector<std::pair<std::string, std::string>> entries;
        for (size_t i = 0, n = recur_model_metadata_count(get()); i < n; i++) {
            const char *key = nullptr, *value = nullptr;
            detail::check(recur_model_metadata(get(), i, &key, &value));
            entries.emplace_back(key, value);
        }
        return entries;
    }

    inline stream new_stream() const;

    // One step of n streams of this model together (recur_step_streams):
    // streams[k] (a stream::get() handle) reads row k of xs and writes row k
    // of ys. Build the handle array once and reuse it: nothing allocates.
    void step_streams(recur_stream *const *streams, size_t n, in xs, out ys) const {
        detail::check(recur_step_streams(get(), streams, n, xs.data, xs.size, ys.data, ys.size));
    }
    void step_streams_tokens(recur_stream *const *streams, size_t n, const int32_t *tokens, out ys) const {
        detail::check(recur_step_streams_tokens(get(), streams, n, tokens, n, ys.data, ys.size));
    }

    recur_model *get() const noexcept { return handle_.get(); }

private:
    explicit model(recur_model *m) noexcept : handle_(m) {}
    std::unique_ptr<recur_model, detail::model_free> handle_;
};

// One sequence's state; one thread at a time.
class stream {
public:
    explicit stream(const model &m) {
        recur_stream *s = nullptr;
        detail::check(recur_stream_create(m.get(), &s));
        handle_.reset(s);
        input_ = m.input_size();
        output_ = m.output_size();
    }

    // One step: x.size == input_size, y.size == output_size.
    void step(in x, out y) { detail::check(recur_step(get(), x.data, x.size, y.data, y.size)); }
    std::vector<float> step(in x) {
        std::vector<float> y(output_);
        step(x, y);
        return y;
    }
    void step_token(int32_t token, out y) { detail::check(recur_step_token(get(), token, y.data, y.size)); }

    // `steps` steps, row-major (recur_run): xs.size == steps * input_size.
    void run(size_t steps, in xs, out ys) { detail::check(recur_run(get(), steps, xs.data, xs.size, ys.data, ys.size)); }
    std::vector<float> run(in xs) {
        size_t steps = input_ ? xs.size / input_ : 0;
        std::vector<float> ys(steps * output_);
        run(steps, xs, ys);
        return ys;
    }
    void run_tokens(const std::vector<int32_t> &tokens, out ys) {
        detail::check(recur_run_tokens(get(), tokens.size(), tokens.data(), tokens.size(), ys.data, ys.size));
    }

    void reset() noexcept { recur_stream_reset(get()); }
    void reserve(size_t max_steps) { detail::check(recur_stream_reserve(get(), max_steps)); }

    // Attention memory (recur_stream_reserve_memory, recur_stream_set_memory):
    // room for max_rows rows once, then rows of `width` floats, allocation-free.
    void reserve_memory(size_t max_rows) { detail::check(recur_stream_reserve_memory(get(), max_rows)); }
    // values.size must be a multiple of width (rows = values.size / width).
    void set_memory(size_t layer, in values, size_t width) {
        if (width == 0 || values.size % width != 0)
            throw error(RECUR_ERROR_SIZE_MISMATCH, "recur::stream::set_memory: values.size is not a multiple of width");
        detail::check(recur_stream_set_memory(get(), layer, values.data, values.size / width, width));
    }

    void get_state(size_t layer, out h, out c) const {
        detail::check(recur_stream_get_state(get(), layer, h.data, h.size, c.data, c.size));
    }
    void set_state(size_t layer, in h, in c) {
        detail::check(recur_stream_set_state(get(), layer, h.data, h.size, c.data, c.size));
    }

    // The whole state as checked bytes, and back (docs/format.md).
    std::vector<unsigned char> snapshot() const {
        size_t n = 0;
        recur_stream_snapshot(get(), nullptr, 0, &n);
        std::vector<unsigned char> bytes(n);
        detail::check(recur_stream_snapshot(get(), bytes.data(), bytes.size(), &n));
        return bytes;
    }
    // Into caller memory, allocation-free: returns the bytes written.
    size_t snapshot(void *buffer, size_t size) const {
        size_t n = 0;
        detail::check(recur_stream_snapshot(get(), buffer, size, &n));
        return n;
    }
    void restore(const std::vector<unsigned char> &bytes) { restore(bytes.data(), bytes.size()); }
    void restore(const void *data, size_t size) { detail::check(recur_stream_restore(get(), data, size)); }

    size_t input_size() const noexcept { return input_; }
    size_t output_size() const noexcept { return output_; }
    recur_stream *get() const noexcept { return handle_.get(); }

private:
    std::unique_ptr<recur_stream, detail::stream_free> handle_;
    size_t input_ = 0, output_ = 0;
};

inline stream model::new_stream() const { return stream(*this); }

}  // namespace recur

#endif  // RECUR_HPP
