// include/recur.hpp against the C API it wraps: the same numbers bit for
// bit, RAII in any order, errors as recur::error with the status and the
// detail message, snapshots, what is inside a model. make test also checks
// the disassembly of step_once: the wrapper's step is one call to recur_step
// (and a cold path that throws).
//
//   test_wrapper sunspots.recur
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <recur.hpp>

static int passed, failed;
#define CHECK(cond, what) do { if (cond) passed++; else { failed++; std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, what); } } while (0)

// What the disassembly check looks at.
extern "C" [[gnu::noinline]] void step_once(recur::stream &s, const float *x, float *y) { s.step({x, 1}, {y, 1}); }

template <class F> static recur_status status_of(F f) {
    try {
        f();
    } catch (const recur::error &e) {
        return e.status();
    }
    return RECUR_OK;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: test_wrapper sunspots.recur\n");
        return 2;
    }
    const std::string path = argv[1];

    // The same outputs as the C API.
    recur_model *cm = nullptr;
    recur_stream *cs = nullptr;
    recur_model_load_file(path.c_str(), &cm);
    recur_stream_create(cm, &cs);
    std::vector<float> want(20);
    for (int t = 0; t < 20; t++) {
        float x = float(t * 7 % 13);
        recur_step(cs, &x, 1, &want[t], 1);
    }
    recur_stream_free(cs);
    recur_model_free(cm);

    std::vector<float> got(20);
    {
        auto stream = [&] {
            recur::model model = recur::model::load(path);
            CHECK(model.input_size() == 1 && model.output_size() == 1 && model.layer_count() == 2, "sizes");
            CHECK(model.layer(0).kind == RECUR_LAYER_LSTM && std::string(model.layer(1).name) == "forecast", "layers");
            CHECK(!model.producer().empty() && !model.metadata().empty(), "producer and metadata");
            return model.new_stream();  // the model goes first: the stream keeps its weights
        }();
        for (int t = 0; t < 10; t++) {
            float x[1] = {float(t * 7 % 13)}, y[1];
            stream.step(x, y);
            got[t] = y[0];
        }
        auto saved = stream.snapshot();
        for (int t = 10; t < 20; t++) {
            std::vector<float> x{float(t * 7 % 13)};
            got[t] = stream.step(x)[0];
        }
        CHECK(std::memcmp(got.data(), want.data(), sizeof(float) * 20) == 0, "outputs differ from the C API's");

        // A snapshot restored into a stream of a fresh load continues alike.
        recur::model again = recur::model::load(path);
        recur::stream other(again);
        other.restore(saved);
        std::vector<float> rest;
        for (int t = 10; t < 20; t++) rest.push_back(other.step(std::vector<float>{float(t * 7 % 13)})[0]);
        CHECK(std::memcmp(rest.data(), want.data() + 10, sizeof(float) * 10) == 0, "restored stream differs");

        // Errors carry the status and the library's message.
        float x2[2] = {1, 2}, y[1];
        CHECK(status_of([&] { stream.step(x2, y); }) == RECUR_ERROR_SIZE_MISMATCH, "size mismatch");
        CHECK(status_of([&] { stream.step_token(3, y); }) == RECUR_ERROR_UNSUPPORTED, "tokens on a vector model");
        CHECK(status_of([&] { other.restore(saved.data(), saved.size() - 1); }) == RECUR_ERROR_BAD_SNAPSHOT, "truncated");
        try {
            recur::model::load("/nonexistent.recur");
            CHECK(false, "loading a missing file throws");
        } catch (const recur::error &e) {
            CHECK(e.status() == RECUR_ERROR_IO && std::strstr(e.what(), "/nonexistent.recur"), e.what());
            CHECK(std::string(e.status_name()) == "i/o error", e.status_name());
        }

        // Many streams together: the same outputs as the C API's single steps.
        {
            recur::model m = recur::model::load(path);
            std::vector<recur::stream> streams;
            for (int k = 0; k < 4; k++) streams.push_back(m.new_stream());
            std::vector<recur_stream *> handles;
            for (auto &s : streams) handles.push_back(s.get());
            std::vector<float> xs(4), ys(4);
            for (int t = 0; t < 20; t++) {
                for (int k = 0; k < 4; k++) xs[k] = float(t * 7 % 13);
                m.step_streams(handles.data(), handles.size(), xs, ys);
                for (int k = 0; k < 4; k++) CHECK(std::memcmp(&ys[k], &want[t], sizeof(float)) == 0, "step_streams");
            }
            handles[3] = handles[0];
            CHECK(status_of([&] { m.step_streams(handles.data(), 4, xs, ys); }) == RECUR_ERROR_INVALID_ARGUMENT,
                  "a stream listed twice");
        }

        // Moves keep one owner.
        recur::stream moved = std::move(other);
        CHECK(moved.get() != nullptr && other.get() == nullptr, "move");
        float one = 0.5f, out1;
        step_once(moved, &one, &out1);
        CHECK(out1 == out1, "step_once");
    }
    std::printf("test_wrapper: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
