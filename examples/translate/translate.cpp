// Translates English number words to French with an encoder and a decoder
// (the survey's §4.2; with attention, §7.3), through recur.hpp:
//
//   1. the encoder reads the source tokens (run_tokens); its outputs are the
//      attention's memory, its final (h, c) the decoder's start;
//   2. the decoder starts from that state (set_state) with the memory set
//      (set_memory, when it has an attention layer), reads <s>, then each
//      token it chose, until </s>:
//      greedy: the most likely token each step;
//      beam search (-b N): the N best partial translations by the sum of
//      their tokens' log-probabilities, each in a stream of its own; a step
//      extends each by every token, keeps the best N (ties: the earlier
//      beam, then the lower token) and copies each kept one's parent state
//      into its stream (snapshot / restore, into buffers sized once). A
//      translation ending in </s> is finished; the search stops when the
//      best finished one scores at least as well as every unfinished one.
//   translate.py does the same in Python.
//
//   translate [-b BEAM] [-e EXAMPLES] ENCODER.recur DECODER.recur HELDOUT.tsv
//
// Translates every pair of HELDOUT.tsv (number, English, French, tab-separated)
// and prints the exact-match accuracy, overall and on the longest fifth of the
// inputs, and sentences per second; the first EXAMPLES (default 3)
// translations are shown. Build:
//   c++ -std=c++17 -O2 translate.cpp $(pkg-config --cflags --libs recur)
#include <recur.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

constexpr size_t max_length = 96;  // target tokens, </s> included

std::vector<std::string> split(const std::string &text, char by) {
    std::vector<std::string> out;
    std::string part;
    std::istringstream in(text);
    while (std::getline(in, part, by))
        if (!part.empty() || by == '\t') out.push_back(part);
    return out;
}

std::string metadata(const recur::model &m, const std::string &key) {
    for (auto &[k, v] : m.metadata())
        if (k == key) return v;
    throw std::runtime_error("the decoder has no \"" + key + "\" metadata");
}

struct Pair {
    std::string number, english;
    std::vector<int32_t> source;
    std::vector<std::string> french;
};

class Translator {
public:
    Translator(const recur::model &encoder, const recur::model &decoder, size_t beam)
        : encoder_(encoder), decoder_(decoder), encoding_(encoder), beam_(beam) {
        target_ = split(metadata(decoder, "target_vocab"), ' ');
        bos_ = index(target_, "<s>");
        eos_ = index(target_, "</s>");
        for (size_t l = 0; l < decoder.layer_count(); l++)
            if (decoder.layer(l).kind == RECUR_LAYER_ATTENTION) attention_ = l;
        hidden_ = encoder.output_size();
        for (size_t k = 0; k < beam; k++) {
            streams_.emplace_back(decoder);
            if (attention_) streams_.back().reserve_memory(max_source);
        }
        encoding_.reserve(max_source);
        memory_.resize(max_source * hidden_);
        h_.resize(hidden_);
        c_.resize(hidden_);
        logits_.resize(decoder.output_size());
        // Snapshots hold the memory rows too: sized for the longest source.
        snapshot_bytes_ = decoder.snapshot_size() + 4 * max_source * (attention_ ? decoder.layer(*attention_).memory_size : 0);
        saved_.assign(beam, std::vector<unsigned char>(snapshot_bytes_));
        saved_size_.assign(beam, 0);
    }

    static constexpr size_t max_source = 128;

    std::vector<int32_t> translate(const std::vector<int32_t> &source) {
        start(source);
        return beam_ == 1 ? greedy() : beam_search();
    }

    const std::vector<std::string> &target() const { return target_; }

private:
    static int32_t index(const std::vector<std::string> &vocab, const std::string &token) {
        auto at = std::find(vocab.begin(), vocab.end(), token);
        if (at == vocab.end()) throw std::runtime_error("no " + token + " in the target vocabulary");
        return int32_t(at - vocab.begin());
    }

    void start(const std::vector<int32_t> &source) {
        if (source.size() > max_source) throw std::runtime_error("source longer than " + std::to_string(max_source));
        encoding_.reset();
        size_t rows = source.size();
        encoding_.run_tokens(source, recur::out(memory_.data(), rows * hidden_));
        encoding_.get_state(1, h_, c_);
        for (auto &s : streams_) {
            s.reset();
            s.set_state(1, h_, c_);
            if (attention_) s.set_memory(*attention_, recur::in(memory_.data(), rows * hidden_), hidden_);
        }
    }

    std::vector<int32_t> greedy() {
        std::vector<int32_t> out;
        int32_t token = bos_;
        while (out.size() < max_length) {
            streams_[0].step_token(token, logits_);
            token = int32_t(std::max_element(logits_.begin(), logits_.end()) - logits_.begin());
            if (token == eos_) break;
            out.push_back(token);
        }
        return out;
    }

    struct Beam {
        double score;
        std::vector<int32_t> tokens;
        size_t stream;
    };
    struct Candidate {
        double score;
        size_t beam;
        int32_t token;
    };

    std::vector<int32_t> beam_search() {
        std::vector<Beam> live{{0.0, {}, 0}}, kept;
        std::vector<std::pair<double, std::vector<int32_t>>> finished;
        std::vector<Candidate> candidates;
        std::vector<double> logp(logits_.size());
        for (size_t step = 0; step < max_length; step++) {
            candidates.clear();
            for (size_t b = 0; b < live.size(); b++) {
                auto &s = streams_[live[b].stream];
                s.step_token(live[b].tokens.empty() ? bos_ : live[b].tokens.back(), logits_);
                double top = *std::max_element(logits_.begin(), logits_.end()), sum = 0;
                for (size_t t = 0; t < logits_.size(); t++) sum += std::exp(double(logits_[t]) - top);
                double log_sum = std::log(sum);
                for (size_t t = 0; t < logits_.size(); t++)
                    candidates.push_back({live[b].score + (double(logits_[t]) - top - log_sum), b, int32_t(t)});
                saved_size_[b] = s.snapshot(saved_[b].data(), snapshot_bytes_);
            }
            size_t n = std::min(beam_, candidates.size());
            std::partial_sort(candidates.begin(), candidates.begin() + n, candidates.end(),
                              [](const Candidate &a, const Candidate &b) {
                                  if (a.score != b.score) return a.score > b.score;
                                  return a.beam != b.beam ? a.beam < b.beam : a.token < b.token;
                              });
            kept.clear();
            for (size_t i = 0; i < n; i++) {
                const Candidate &c = candidates[i];
                if (c.token == eos_) {
                    finished.emplace_back(c.score, live[c.beam].tokens);
                } else {
                    Beam next{c.score, live[c.beam].tokens, kept.size()};
                    next.tokens.push_back(c.token);
                    streams_[next.stream].restore(saved_[c.beam].data(), saved_size_[c.beam]);
                    kept.push_back(std::move(next));
                }
            }
            live.swap(kept);
            auto best = std::max_element(finished.begin(), finished.end(),
                                         [](auto &a, auto &b) { return a.first < b.first; });
            if (live.empty() || (best != finished.end() && best->first >= live[0].score)) break;
        }
        auto best = std::max_element(finished.begin(), finished.end(), [](auto &a, auto &b) { return a.first < b.first; });
        return best != finished.end() ? best->second : live[0].tokens;
    }

    const recur::model &encoder_, &decoder_;
    recur::stream encoding_;
    std::vector<recur::stream> streams_;
    size_t beam_, hidden_ = 0;
    std::optional<size_t> attention_;
    int32_t bos_ = 0, eos_ = 0;
    std::vector<std::string> target_;
    std::vector<float> memory_, h_, c_, logits_;
    size_t snapshot_bytes_ = 0;
    std::vector<std::vector<unsigned char>> saved_;
    std::vector<size_t> saved_size_;
};

std::string words(const std::vector<std::string> &tokens) {
    std::string out;
    for (auto &t : tokens) {
        if (t == "-" || t == "," || (!out.empty() && out.back() == '-')) out += t;  // hyphens join, commas follow
        else out += (out.empty() ? "" : " ") + t;
    }
    return out;
}

}  // namespace

int main(int argc, char **argv) {
    size_t beam = 1, examples = 3;
    int opt;
    while ((opt = getopt(argc, argv, "b:e:")) != -1) {
        switch (opt) {
        case 'b': beam = size_t(std::max(1L, std::atol(optarg))); break;
        case 'e': examples = size_t(std::atol(optarg)); break;
        default: std::fprintf(stderr, "usage: %s [-b BEAM] [-e EXAMPLES] ENCODER.recur DECODER.recur HELDOUT.tsv\n", argv[0]); return 2;
        }
    }
    if (argc - optind != 3) {
        std::fprintf(stderr, "usage: %s [-b BEAM] [-e EXAMPLES] ENCODER.recur DECODER.recur HELDOUT.tsv\n", argv[0]);
        return 2;
    }
    try {
        auto encoder = recur::model::load(argv[optind]);
        auto decoder = recur::model::load(argv[optind + 1]);
        auto source_vocab = split(metadata(decoder, "source_vocab"), ' ');
        std::map<std::string, int32_t> source_index;
        for (size_t i = 0; i < source_vocab.size(); i++) source_index[source_vocab[i]] = int32_t(i);

        std::vector<Pair> pairs;
        std::ifstream file(argv[optind + 2]);
        if (!file) throw std::runtime_error(std::string("cannot read ") + argv[optind + 2]);
        for (std::string line; std::getline(file, line);) {
            auto fields = split(line, '\t');
            if (fields.size() != 3) throw std::runtime_error("not number<TAB>English<TAB>French: " + line);
            Pair p{fields[0], fields[1], {}, split(fields[2], ' ')};
            for (auto &w : split(fields[1], ' ')) {
                auto at = source_index.find(w);
                if (at == source_index.end()) throw std::runtime_error("not in the source vocabulary: " + w);
                p.source.push_back(at->second);
            }
            pairs.push_back(std::move(p));
        }
        Translator translator(encoder, decoder, beam);
        std::vector<std::vector<int32_t>> out(pairs.size());
        auto begin = std::chrono::steady_clock::now();
        for (size_t i = 0; i < pairs.size(); i++) out[i] = translator.translate(pairs[i].source);
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();

        // The longest fifth of the inputs: by source tokens, ties to the later pair.
        std::vector<size_t> order(pairs.size());
        for (size_t i = 0; i < order.size(); i++) order[i] = i;
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t a, size_t b) { return pairs[a].source.size() < pairs[b].source.size(); });
        std::vector<bool> longest(pairs.size(), false);
        for (size_t k = pairs.size() - pairs.size() / 5; k < pairs.size(); k++) longest[order[k]] = true;
        size_t right = 0, right_longest = 0;
        for (size_t i = 0; i < pairs.size(); i++) {
            std::vector<std::string> got;
            for (int32_t t : out[i]) got.push_back(translator.target()[size_t(t)]);
            bool exact = got == pairs[i].french;
            right += exact;
            right_longest += exact && longest[i];
            if (i < examples)
                std::printf("%s\n  %s\n  %s %s\n", pairs[i].number.c_str(), words(split(pairs[i].english, ' ')).c_str(),
                            words(got).c_str(), exact ? "(exact)" : ("(expected: " + words(pairs[i].french) + ")").c_str());
        }
        size_t n = pairs.size(), n_longest = n / 5;
        std::printf("%s%s: exact %zu/%zu = %.4f, longest fifth %zu/%zu = %.4f; %.0f sentences per second (%s tier)\n",
                    beam == 1 ? "greedy" : "beam ", beam == 1 ? "" : std::to_string(beam).c_str(), right, n,
                    double(right) / double(n), right_longest, n_longest, double(right_longest) / double(n_longest),
                    double(n) / seconds, recur_isa());
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "translate: %s\n", e.what());
        return 1;
    }
}
