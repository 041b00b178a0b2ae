# Recur — build, install, demo and tests.
#
#   make                      build out/lib/librecur.so and librecur.a
#   make demo                 forecast the bundled sunspot series through the C API, and translate
#                             held-out numbers with the bundled translators in C++ (demo-translate)
#   make demo-plot            the forecaster's held-out years as a picture, 1 to 11 years ahead
#   make demo-textgen         continue a prompt with the bundled language model, in C and Python
#   make demo-translate       English number words to French, without and with attention, greedy and beam
#   make test                 every test (Swift, C, Python, sanitizers, brief fuzzing)
#   make fuzz                 fuzz each target for FUZZ_SECONDS (tests/fuzz/README.md)
#   make bench                ns per step for LSTM and GRU at seven sizes against baselines;
#                             many streams' GFLOP/s against one stream and the FMA peak;
#                             recur_run against onnxruntime's LSTM and GRU operators
#                             (RTNEURAL_DIR=checkout adds RTNeural)
#   make install PREFIX=DIR   include/recur.h, lib/librecur.so, lib/librecur.a, lib/pkgconfig/recur.pc
#
# `make demo` and `make test` install what a fresh Debian 12 machine lacks:
# the apt packages below and a Python venv in .venv.

# include/recur.h is the one place the version is written.
VERSION    := $(shell for part in MAJOR MINOR PATCH; do \
                sed -n "s/^\#define RECUR_VERSION_$$part \([0-9]*\)$$/\1/p" include/recur.h; done | paste -sd.)
SONAME     := librecur.so.0
PREFIX     ?= /usr/local
CC         ?= cc
PYTHON     ?= python3
VENV       := .venv
PY         := $(VENV)/bin/python
OUT        := out
SWIFT_BIN  := .build/release
APT_PKGS   := liblz4-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler lz4 pkg-config qemu-user cmake
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

SWIFT_RELEASE := -c release
LINK_SHARED   := -Xswiftc -static-stdlib -Xlinker -soname=$(SONAME) \
                 -Xlinker --version-script=$(CURDIR)/Sources/Recur/librecur.map
CFLAGS_TEST   := -O2 -g -Wall -Wextra -std=c11 -Iinclude
LDFLAGS_TEST  := -L$(OUT)/lib -Wl,-rpath,$(CURDIR)/$(OUT)/lib -lrecur -lm

# librecur.a is self-contained: the library's objects, the Swift runtime's
# swiftrt.o (it registers the metadata sections; without it a static program
# crashes on the first runtime type lookup) and the runtime archive members
# they need, linked into one relocatable object whose only global symbols
# are recur_*. A static link then needs no Swift toolchain, and a host's own
# Swift code cannot clash with the copy inside. What it still needs:
SWIFT_ROOT := $(abspath $(dir $(shell command -v swift 2>/dev/null))/../..)
SWIFT_STATIC_DIR := $(shell dirname $$(dirname $$(command -v swift 2>/dev/null || echo /x/x)))/lib/swift_static/linux
SWIFT_RUNTIME_ARCHIVES := -lswiftCore -lswiftGlibc -lswift_RegexParser -lswift_StringProcessing -lswift_Builtin_float
STATIC_LIBS := -lstdc++ -lm -ldl -lpthread

SWIFT_SOURCES := $(shell find Sources -type f) Package.swift $(OUT)/.build-flags

# Opt-in builds for one CPU (Package.swift, README): the library is rebuilt
# whenever these change.
export RECUR_TARGET_CPU RECUR_TUNE_CPU
BUILD_FLAGS := RECUR_TARGET_CPU=$(RECUR_TARGET_CPU) RECUR_TUNE_CPU=$(RECUR_TUNE_CPU)
# Every tracked model; those with attention layers (which need memory set
# on each stream before it steps) go to test_attention, the others to every
# C test.
TRACKED_MODELS := $(shell git ls-files "*.recur" 2>/dev/null)
ATTENTION_MODELS := $(filter %-attention.recur,$(TRACKED_MODELS))
MODELS := $(filter-out $(ATTENTION_MODELS),$(TRACKED_MODELS))

.PHONY: all lib deps venv variants hostile demo demo-plot demo-textgen demo-translate test test-swift test-asan test-c test-install test-tiers test-python \
        test-tsan test-fuzz fuzz bench bench-python bench-layouts install clean
# (test-fuzz-TARGET and fuzz-TARGET are pattern rules, which make skips for
# .PHONY targets.)

all: lib

# ---- set-up on a fresh machine ---------------------------------------------
deps: $(OUT)/.deps
$(OUT)/.deps:
	@mkdir -p $(OUT)
	@if pkg-config --exists liblz4 libprotobuf-c && command -v lz4 >/dev/null && command -v protoc >/dev/null && \
	    command -v qemu-x86_64 >/dev/null && command -v cmake >/dev/null; then :; \
	elif [ -n "$(RECUR_NO_APT)" ]; then \
	  pkg-config --exists liblz4 libprotobuf-c || { echo "recur: building the library needs liblz4-dev and libprotobuf-c-dev (Debian), and pkg-config"; exit 1; }; \
	else \
	  echo "installing Debian packages: $(APT_PKGS)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PKGS); fi
	@[ -n "$(RECUR_NO_APT)" ] || touch $@

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt
	@[ -n "$(RECUR_NO_APT)" ] || touch $@

# ---- the library -------------------------------------------------------------
$(OUT)/.build-flags: FORCE
	@mkdir -p $(OUT)
	@echo '$(BUILD_FLAGS)' | cmp -s - $@ || echo '$(BUILD_FLAGS)' > $@
FORCE:

lib: $(OUT)/lib/librecur.so $(OUT)/lib/librecur.a

$(OUT)/lib/librecur.so: $(SWIFT_SOURCES) include/recur.h | deps
	swift build $(SWIFT_RELEASE) --product recur $(LINK_SHARED)
	@mkdir -p $(OUT)/lib
	cp $(SWIFT_BIN)/librecur.so $(OUT)/lib/librecur.so.$(VERSION)
	ln -sf librecur.so.$(VERSION) $(OUT)/lib/$(SONAME)
	ln -sf $(SONAME) $(OUT)/lib/librecur.so

# SwiftPM updates an existing archive in place, so members of deleted source
# files would linger in it (and their symbols shadow the new ones): start anew.
$(OUT)/lib/librecur.a: $(SWIFT_SOURCES) include/recur.h | deps
	rm -f $(SWIFT_BIN)/librecur_static.a
	swift build $(SWIFT_RELEASE) --product recur_static
	@mkdir -p $(OUT)/lib
	ld -r -o $(OUT)/lib/recur-all.o $(SWIFT_STATIC_DIR)/$(shell uname -m)/swiftrt.o \
	  --whole-archive $(SWIFT_BIN)/librecur_static.a --no-whole-archive \
	  --start-group -L$(SWIFT_STATIC_DIR) $(SWIFT_RUNTIME_ARCHIVES) --end-group
	objcopy -w --keep-global-symbol='recur_[a-z]*' $(OUT)/lib/recur-all.o
	rm -f $@ && ar rcs $@ $(OUT)/lib/recur-all.o && rm $(OUT)/lib/recur-all.o

install: lib
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/share/doc/recur
	install -m 644 include/recur.h include/recur.hpp $(DESTDIR)$(PREFIX)/include/
	install -m 644 LICENSE NOTICE $(DESTDIR)$(PREFIX)/share/doc/recur/
	install -m 755 -s $(OUT)/lib/librecur.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/librecur.so.$(VERSION)
	ln -sf librecur.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/librecur.so
	install -m 644 $(OUT)/lib/librecur.a $(DESTDIR)$(PREFIX)/lib/librecur.a
	strip --strip-debug $(DESTDIR)$(PREFIX)/lib/librecur.a
	install -d $(DESTDIR)$(PREFIX)/lib/cmake/recur
	for f in recurConfig recurConfigVersion; do \
	  sed -e 's|@VERSION@|$(VERSION)|' -e 's|@SONAME@|$(SONAME)|' -e 's|@MAJOR@|$(firstword $(subst ., ,$(VERSION)))|' \
	    cmake/$$f.cmake.in > $(DESTDIR)$(PREFIX)/lib/cmake/recur/$$f.cmake; done
	for pc in recur recur-static; do \
	  sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@STATIC_LIBS@|$(STATIC_LIBS)|' \
	    $$pc.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/$$pc.pc; done

# ---- the main job: the bundled forecaster --------------------------------------
$(OUT)/forecast: examples/forecast/forecast.c include/recur.h $(OUT)/lib/librecur.so
	$(CC) -O2 -Wall -Wextra -std=c11 -Iinclude $< $(LDFLAGS_TEST) -o $@

demo: $(OUT)/forecast $(OUT)/translate
	$(OUT)/forecast examples/forecast/sunspots.recur examples/forecast/sunspots.csv 1949
	@echo
	$(MAKE) --no-print-directory demo-translate

# The held-out years as a picture (examples/forecast/forecast.png) and the
# error of forecasts 1 to 11 years ahead against the naive forecast.
demo-plot: venv lib
	RECUR_LIBRARY=$(CURDIR)/$(OUT)/lib/librecur.so $(PY) examples/forecast/plot.py

# ---- text generation: the bundled character-level language model ----------------
$(OUT)/textgen: examples/textgen/textgen.c examples/textgen/sampler.h include/recur.h $(OUT)/lib/librecur.so
	$(CC) -O2 -Wall -Wextra -std=c11 -Iinclude $< $(LDFLAGS_TEST) -o $@

# The same prompt and seed in C and in Python, then the held-out bits per
# character against the bigram baseline.
TEXTGEN_ARGS = -p "And God said" -n 400 -t 0.7 -k 20 -s 1
demo-textgen: $(OUT)/textgen venv
	$(OUT)/textgen $(TEXTGEN_ARGS) examples/textgen/kjv.recur
	@echo
	RECUR_LIBRARY=$(CURDIR)/$(OUT)/lib/librecur.so $(PY) examples/textgen/textgen.py examples/textgen/kjv.recur $(TEXTGEN_ARGS)
	@echo
	RECUR_LIBRARY=$(CURDIR)/$(OUT)/lib/librecur.so $(PY) examples/textgen/bits.py

# ---- translation: the bundled encoder-decoders (without and with attention) -----
$(OUT)/translate: examples/translate/translate.cpp include/recur.hpp include/recur.h $(OUT)/lib/librecur.so
	$(CXX) -std=c++17 -O2 -Wall -Wextra -Iinclude $< $(LDFLAGS_TEST) -o $@

# The 2000 held-out numbers, each translator greedy and with a beam of 4.
TRANSLATE := examples/translate
demo-translate: $(OUT)/translate
	$(OUT)/translate -e 2 $(TRANSLATE)/encoder.recur $(TRANSLATE)/decoder.recur $(TRANSLATE)/heldout.tsv
	$(OUT)/translate -e 0 -b 4 $(TRANSLATE)/encoder.recur $(TRANSLATE)/decoder.recur $(TRANSLATE)/heldout.tsv
	$(OUT)/translate -e 2 $(TRANSLATE)/encoder-attention.recur $(TRANSLATE)/decoder-attention.recur $(TRANSLATE)/heldout.tsv
	$(OUT)/translate -e 0 -b 4 $(TRANSLATE)/encoder-attention.recur $(TRANSLATE)/decoder-attention.recur $(TRANSLATE)/heldout.tsv

# ---- tests -------------------------------------------------------------------
test: test-swift test-asan test-tsan test-fuzz test-c test-install test-tiers test-python
	@echo "all test suites passed"

test-swift: | deps
	swift test --disable-swift-testing

# The loader, handle and snapshot tests once more against a librecur.so whose Swift
# code has AddressSanitizer and whose C code (support, generated protobuf
# descriptors) AddressSanitizer and UndefinedBehaviorSanitizer (swiftc has
# no UBSan); the test programs have both, and LeakSanitizer checks for leaks.
# (XCTest itself leaks test-case objects, so the C programs are the hosts.)
SWIFT_CLANG := $(dir $(shell command -v swift 2>/dev/null))clang
SWIFT_LIBDIR := $(dir $(shell command -v swift 2>/dev/null))../lib/swift/linux
SAN_CC := $(SWIFT_CLANG) -fuse-ld=bfd -g -O1 -fno-omit-frame-pointer -Wall -Wextra -std=c11 -Iinclude -I$(OUT)/gen
UBSAN := -fsanitize=undefined -fno-sanitize-recover=undefined
SWIFT_UBSAN := -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined
ASAN_LIB := -L.build-asan/debug -Wl,-rpath,$(CURDIR)/.build-asan/debug -lrecur
ASAN_RUN := SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
test-asan: variants hostile $(OUT)/gen/status_names.h | deps
	swift build --sanitize=address $(SWIFT_UBSAN) --scratch-path .build-asan --product recur
	$(SAN_CC) -fsanitize=address $(UBSAN) -DNO_ALLOC_COUNTER tests/c/test_bad_files.c $(ASAN_LIB) -o $(OUT)/test_bad_files_asan
	$(ASAN_RUN) $(OUT)/test_bad_files_asan tests/fixtures/bad tests/fixtures/bad/good.model $(MODELS)
	$(SAN_CC) -fsanitize=address $(UBSAN) -DNO_ALLOC_COUNTER tests/c/test_handles.c $(ASAN_LIB) -o $(OUT)/test_handles_asan
	$(ASAN_RUN) $(OUT)/test_handles_asan $(HANDLE_MODELS)
	$(SAN_CC) -fsanitize=address $(UBSAN) -DNO_ALLOC_COUNTER tests/c/test_loading.c $(ASAN_LIB) -o $(OUT)/test_loading_asan
	$(ASAN_RUN) $(OUT)/test_loading_asan $(OUT)/hostile $(OUT)/variants $(LOADING_MODELS)
	$(SAN_CC) -fsanitize=address $(UBSAN) -DNO_ALLOC_COUNTER tests/c/test_snapshots.c $(ASAN_LIB) -llz4 -o $(OUT)/test_snapshots_asan
	$(ASAN_RUN) $(OUT)/test_snapshots_asan $(MODELS) $(OUT)/variants/*.recur
	$(SAN_CC) -fsanitize=address $(UBSAN) -DNO_ALLOC_COUNTER tests/c/test_step_streams.c $(ASAN_LIB) -o $(OUT)/test_step_streams_asan
	$(ASAN_RUN) $(OUT)/test_step_streams_asan $(MODELS) $(OUT)/variants/*.recur
	$(SAN_CC) -fsanitize=address $(UBSAN) -DNO_ALLOC_COUNTER tests/c/test_attention.c $(ASAN_LIB) -o $(OUT)/test_attention_asan
	$(ASAN_RUN) $(OUT)/test_attention_asan $(ATTENTION_MODELS) $(OUT)/attention/*.recur

# The threading contract under ThreadSanitizer (tests/c/test_threads.c):
# streams of one model stepped on several threads while another thread loads
# and frees models, the shared model freed halfway. This toolchain's TSan
# runtime needs libdispatch and BlocksRuntime from its own library folder.
THREAD_MODELS := examples/forecast/sunspots.recur tests/fixtures/lstm_i64_h130.recur $(OUT)/variants/token_lm.recur \
                 $(OUT)/variants/seq_bidirectional.recur $(OUT)/variants/lstm_projection_layernorm.recur
CHURN_MODELS  := tests/fixtures/gru_i1_h5.recur tests/fixtures/mixed_i7.recur $(OUT)/variants/lstm_peephole_clip.recur \
                 $(OUT)/variants/seq_token_bidirectional_rnn.recur
test-tsan: variants | deps
	swift build -c release --sanitize=thread --scratch-path .build-tsan --product recur
	$(SAN_CC) -fsanitize=thread -pthread tests/c/test_threads.c -L.build-tsan/release \
	  -Wl,-rpath,$(CURDIR)/.build-tsan/release -lrecur -L$(SWIFT_LIBDIR) -Wl,-rpath,$(SWIFT_LIBDIR) \
	  -ldispatch -lBlocksRuntime -lm -o $(OUT)/test_threads_tsan
	SWIFT_BACKTRACE=enable=no TSAN_OPTIONS=halt_on_error=1 $(OUT)/test_threads_tsan $(THREAD_MODELS) -- $(CHURN_MODELS)

# ---- fuzzing (tests/fuzz/README.md) ---------------------------------------------
# libFuzzer targets over a release librecur.so with coverage, ASan and (C
# code) UBSan. SwiftPM passes swiftc one -sanitize flag per sanitizer and
# swiftc keeps only the last, so the Swift code gets both through -Xswiftc.
FUZZ_TARGETS := file proto
FUZZ_LIB     := .build-fuzz/release
FUZZ_ENV     := SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
FUZZ_LIMITS  := -rss_limit_mb=1024 -malloc_limit_mb=1024 -timeout=1
FUZZ_SECONDS ?= 600
$(FUZZ_LIB)/librecur.so: $(SWIFT_SOURCES) include/recur.h | deps
	swift build -c release --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address $(SWIFT_UBSAN) \
	  --scratch-path .build-fuzz --product recur
	@[ -n "$(RECUR_NO_APT)" ] || touch $@
.SECONDARY: $(addprefix $(OUT)/fuzz/fuzz_,$(FUZZ_TARGETS))
$(OUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/exercise.h $(FUZZ_LIB)/librecur.so
	@mkdir -p $(dir $@)
	$(SAN_CC) -fsanitize=fuzzer,address $(UBSAN) $< -L$(FUZZ_LIB) -Wl,-rpath,$(CURDIR)/$(FUZZ_LIB) -lrecur -llz4 -lm -o $@

# In `make test`: every corpus and regression input on each instruction-set
# tier, then a short deterministic run of each target (fixed seed and count).
FUZZ_RUNS_file  := 300000
FUZZ_RUNS_proto := 60000
FUZZ_INPUTS = tests/fuzz/corpus/$* $(wildcard tests/fuzz/regressions/$*)
test-fuzz: $(addprefix test-fuzz-,$(FUZZ_TARGETS))
test-fuzz-%: $(OUT)/fuzz/fuzz_%
	@for isa in avx512 avx2 baseline; do echo "fuzz_$*: replaying $(FUZZ_INPUTS) (RECUR_ISA=$$isa)"; \
	  $(FUZZ_ENV) RECUR_ISA=$$isa $< $(FUZZ_LIMITS) -runs=0 $(FUZZ_INPUTS) > $(OUT)/fuzz/replay-$*.log 2>&1 \
	    || { tail -40 $(OUT)/fuzz/replay-$*.log; exit 1; }; done
	@rm -rf $(OUT)/fuzz/brief-$* && mkdir -p $(OUT)/fuzz/brief-$*
	@echo "fuzz_$*: $(FUZZ_RUNS_$*) runs, seed 1"
	@$(FUZZ_ENV) $< $(FUZZ_LIMITS) -seed=1 -runs=$(FUZZ_RUNS_$*) -artifact_prefix=$(OUT)/fuzz/crash-$*- \
	  $(OUT)/fuzz/brief-$* $(FUZZ_INPUTS) > $(OUT)/fuzz/brief-$*.log 2>&1 || { tail -60 $(OUT)/fuzz/brief-$*.log; exit 1; }
	@grep -E "^#[0-9]+.*DONE" $(OUT)/fuzz/brief-$*.log

# `make -j2 fuzz FUZZ_SECONDS=3600` (or FUZZ_EXECS=10000000): each target
# for a set time or number of executions, growing its corpus in
# out/fuzz/corpus-TARGET, then a table of the coverage that corpus reaches.
# A crash is saved as out/fuzz/crash-TARGET-* (tests/fuzz/README.md says
# what to do with it).
FUZZ_LENGTH = $(if $(FUZZ_EXECS),-runs=$(FUZZ_EXECS),-max_total_time=$(FUZZ_SECONDS))
fuzz: $(addprefix fuzz-,$(FUZZ_TARGETS))
fuzz-%: $(OUT)/fuzz/fuzz_%
	@mkdir -p $(OUT)/fuzz/corpus-$*
	$(FUZZ_ENV) $< $(FUZZ_LIMITS) $(FUZZ_LENGTH) -print_final_stats=1 \
	  -artifact_prefix=$(OUT)/fuzz/crash-$*- $(OUT)/fuzz/corpus-$* $(FUZZ_INPUTS) \
	  > $(OUT)/fuzz/fuzz-$*.log 2>&1 || { tail -60 $(OUT)/fuzz/fuzz-$*.log; exit 1; }
	@grep -E "^#[0-9]+.*DONE|^stat::|^Done" $(OUT)/fuzz/fuzz-$*.log
	$(FUZZ_ENV) $< -runs=0 -print_coverage=1 $(OUT)/fuzz/corpus-$* $(FUZZ_INPUTS) 2>&1 | $(PYTHON) tests/fuzz/coverage.py

$(OUT)/test_api: tests/c/test_api.c tests/c/alloc_counter.h tests/c/check.h tests/c/narrow.h $(OUT)/gen/status_names.h include/recur.h $(OUT)/lib/librecur.so
	$(CC) $(CFLAGS_TEST) -I$(OUT)/gen $< $(LDFLAGS_TEST) -o $@
$(OUT)/test_bad_files: tests/c/test_bad_files.c tests/c/alloc_counter.h tests/c/check.h tests/c/narrow.h $(OUT)/gen/status_names.h include/recur.h $(OUT)/lib/librecur.so
	$(CC) $(CFLAGS_TEST) -I$(OUT)/gen $< $(LDFLAGS_TEST) -o $@
$(OUT)/test_loading: tests/c/test_loading.c tests/c/alloc_counter.h tests/c/check.h tests/c/narrow.h $(OUT)/gen/status_names.h include/recur.h $(OUT)/lib/librecur.so
	$(CC) $(CFLAGS_TEST) -I$(OUT)/gen $< $(LDFLAGS_TEST) -o $@
$(OUT)/test_handles: tests/c/test_handles.c tests/c/alloc_counter.h tests/c/check.h tests/c/narrow.h include/recur.h $(OUT)/lib/librecur.so
	$(CC) $(CFLAGS_TEST) $< $(LDFLAGS_TEST) -o $@
$(OUT)/test_threads: tests/c/test_threads.c tests/c/check.h tests/c/narrow.h include/recur.h $(OUT)/lib/librecur.so
	$(CC) $(CFLAGS_TEST) -pthread $< $(LDFLAGS_TEST) -o $@
$(OUT)/test_snapshots: tests/c/test_snapshots.c tests/c/alloc_counter.h tests/c/check.h tests/c/narrow.h include/recur.h $(OUT)/lib/librecur.so
	$(CC) $(CFLAGS_TEST) $< $(LDFLAGS_TEST) -llz4 -o $@
$(OUT)/test_step_streams: tests/c/test_step_streams.c tests/c/alloc_counter.h tests/c/check.h tests/c/narrow.h include/recur.h $(OUT)/lib/librecur.so
	$(CC) $(CFLAGS_TEST) $< $(LDFLAGS_TEST) -o $@
$(OUT)/test_inspect: tests/c/test_inspect.c tests/c/check.h tests/c/narrow.h include/recur.h $(OUT)/lib/librecur.so
	$(CC) $(CFLAGS_TEST) $< $(LDFLAGS_TEST) -o $@
$(OUT)/test_no_syscalls: tests/c/test_no_syscalls.c tests/c/check.h tests/c/narrow.h include/recur.h $(OUT)/lib/librecur.so
	$(CC) $(CFLAGS_TEST) $< $(LDFLAGS_TEST) -o $@
$(OUT)/test_attention: tests/c/test_attention.c tests/c/alloc_counter.h tests/c/check.h tests/c/narrow.h include/recur.h $(OUT)/lib/librecur.so
	$(CC) $(CFLAGS_TEST) $< $(LDFLAGS_TEST) -o $@
$(OUT)/test_translate: tests/c/test_translate.c tests/c/alloc_counter.h tests/c/check.h tests/c/narrow.h include/recur.h $(OUT)/lib/librecur.so
	$(CC) $(CFLAGS_TEST) $< $(LDFLAGS_TEST) -o $@
$(OUT)/test_textgen: tests/c/test_textgen.c examples/textgen/sampler.h tests/c/alloc_counter.h tests/c/check.h tests/c/narrow.h include/recur.h $(OUT)/lib/librecur.so
	$(CC) $(CFLAGS_TEST) $< $(LDFLAGS_TEST) -o $@

# The status names for the C tests, generated from the header's enum.
$(OUT)/gen/status_names.h: include/recur.h
	@mkdir -p $(dir $@)
	sed -n 's/^ *RECUR_\(OK\|ERROR_\([A-Z_]*\)\) = \([0-9]*\).*/    [\3] = "\1",/p' $< | sed 's/"ERROR_/"/' > $@.tmp
	mv $@.tmp $@

# A small model, one of >= 128 KiB of weights, one with a stream >= 256 KiB.
HANDLE_MODELS := examples/forecast/sunspots.recur tests/fixtures/lstm_i64_h130.recur $(OUT)/variants/big_stream.recur

# Every tracked model, plus one model per cell type and option (generated).
test-c: $(OUT)/test_api $(OUT)/test_bad_files $(OUT)/test_handles $(OUT)/test_loading $(OUT)/test_threads \
        $(OUT)/test_no_syscalls $(OUT)/test_snapshots $(OUT)/test_step_streams $(OUT)/test_inspect $(OUT)/test_textgen \
        $(OUT)/test_attention $(OUT)/test_translate variants hostile
	$(OUT)/test_api $(MODELS) $(OUT)/variants/*.recur
	$(OUT)/test_attention $(ATTENTION_MODELS) $(OUT)/attention/*.recur examples/forecast/sunspots.recur
	$(OUT)/test_translate $(TRANSLATE)/encoder.recur $(TRANSLATE)/decoder.recur $(TRANSLATE)/heldout.tsv
	$(OUT)/test_translate $(TRANSLATE)/encoder-attention.recur $(TRANSLATE)/decoder-attention.recur $(TRANSLATE)/heldout.tsv
	$(OUT)/test_step_streams $(MODELS) $(OUT)/variants/*.recur
	$(OUT)/test_textgen examples/textgen/kjv.recur
	$(OUT)/test_snapshots $(MODELS) $(OUT)/variants/*.recur
	$(OUT)/test_inspect $(OUT)/variants/lstm_peephole_clip.recur $(OUT)/variants/token_lm.recur
	$(OUT)/test_no_syscalls $(MODELS) $(OUT)/variants/*.recur $(ATTENTION_MODELS) $(OUT)/attention/*.recur
	$(OUT)/test_threads $(THREAD_MODELS) -- $(CHURN_MODELS)
	$(OUT)/test_bad_files tests/fixtures/bad tests/fixtures/bad/good.model $(MODELS)
	$(OUT)/test_handles $(HANDLE_MODELS)
	$(OUT)/test_loading $(OUT)/hostile $(OUT)/variants $(LOADING_MODELS)

variants: venv
	$(PY) tests/c/make_variant_models.py $(OUT)/variants $(OUT)/attention

# Small files that ask for far more memory than they hold (generated: some
# hold 64 MiB of content).
hostile: venv
	$(PY) tests/fixtures/hostile/generate.py $(OUT)/hostile

# Models whose every allocation test_loading fails in turn.
LOADING_MODELS := examples/forecast/sunspots.recur tests/fixtures/mixed_i7.recur $(OUT)/variants/token_lm.recur \
                  $(OUT)/variants/lstm_projection_layernorm.recur

# Install into out/prefix and build the C API test as a user would, with
# pkg-config: once against the shared library, once fully static.
test-install: lib $(OUT)/gen/status_names.h
	rm -rf $(OUT)/prefix
	$(MAKE) --no-print-directory install PREFIX=$(CURDIR)/$(OUT)/prefix
	export PKG_CONFIG_PATH=$(CURDIR)/$(OUT)/prefix/lib/pkgconfig; \
	$(CC) $(CFLAGS_TEST) -Itests/c -I$(OUT)/gen tests/c/test_api.c $$(pkg-config --cflags --libs recur) -lm \
	  -Wl,-rpath,$(CURDIR)/$(OUT)/prefix/lib -o $(OUT)/test_api_shared && \
	$(CC) $(CFLAGS_TEST) -Itests/c -I$(OUT)/gen tests/c/test_api.c $$(pkg-config --cflags --libs recur-static) -o $(OUT)/test_api_static && \
	$(CXX) -std=c++17 -O2 -Wall -Wextra tests/cpp/test_wrapper.cpp $$(pkg-config --cflags --libs recur) \
	  -Wl,-rpath,$(CURDIR)/$(OUT)/prefix/lib -o $(OUT)/test_wrapper
	! grep -q rpath $(OUT)/prefix/lib/pkgconfig/recur.pc
	ldd $(OUT)/test_api_shared | grep -q "$(CURDIR)/$(OUT)/prefix/lib/$(SONAME)"
	! ldd $(OUT)/test_api_static | grep -q librecur
	@extra=$$(ldd $(OUT)/prefix/lib/librecur.so | awk '{print $$1}' | grep -vE '^(linux-vdso|/lib64/ld-linux)' | \
	  grep -vxE 'lib(c|m|stdc\+\+|gcc_s|lz4|protobuf-c)\.so\.[0-9]+'); \
	  if [ -n "$$extra" ]; then echo "librecur.so needs more than libc, libm, libstdc++, libgcc_s, liblz4, libprotobuf-c: $$extra"; exit 1; fi
	$(OUT)/test_api_shared $(MODELS)
	$(OUT)/test_api_static $(MODELS)
	$(OUT)/test_wrapper examples/forecast/sunspots.recur
	@# CMake consumers (tests/cmake): the C and C++ tests against recur::recur and recur::recur_static.
	rm -rf $(OUT)/cmake-consumer
	cmake -S tests/cmake -B $(OUT)/cmake-consumer -DCMAKE_PREFIX_PATH=$(CURDIR)/$(OUT)/prefix \
	  -DRECUR_STATUS_NAMES_DIR=$(CURDIR)/$(OUT)/gen > $(OUT)/cmake-consumer.log
	cmake --build $(OUT)/cmake-consumer -j2 >> $(OUT)/cmake-consumer.log
	for k in shared static; do $(OUT)/cmake-consumer/test_api_$$k $(MODELS) | tail -1 && \
	  $(OUT)/cmake-consumer/test_wrapper_$$k examples/forecast/sunspots.recur || exit 1; done
	ldd $(OUT)/cmake-consumer/test_api_shared | grep -q "$(CURDIR)/$(OUT)/prefix/lib/$(SONAME)"
	! ldd $(OUT)/cmake-consumer/test_api_static | grep -q librecur
	@# librecur.a needs no Swift toolchain: link and run the malformed-file test
	@# (whose errors print tensor shapes) with the toolchain's folder hidden
	@# under an empty directory, in a private mount namespace.
	mkdir -p $(OUT)/empty
	PKG_CONFIG_PATH=$(CURDIR)/$(OUT)/prefix/lib/pkgconfig unshare -m sh -c 'mount --bind $(CURDIR)/$(OUT)/empty $(SWIFT_ROOT) && \
	  test ! -e $(SWIFT_ROOT)/usr && $(CC) $(CFLAGS_TEST) -I$(OUT)/gen tests/c/test_bad_files.c \
	    $$(pkg-config --cflags --libs recur-static) -o $(OUT)/test_bad_files_static && \
	  $(OUT)/test_bad_files_static tests/fixtures/bad tests/fixtures/bad/good.model $(MODELS)'
	@# The C++ wrapper's step is the C call: one call (recur_step) and a status test.
	@calls=$$(objdump -d --no-show-raw-insn $(OUT)/test_wrapper | awk '/<step_once>:/,/^$$/' | grep -E '\bcall'); \
	  if [ "$$(echo "$$calls" | grep -c .)" != 1 ] || ! echo "$$calls" | grep -q '<recur_step@plt>'; then \
	    echo "recur::stream::step is not one call to recur_step:"; echo "$$calls"; exit 1; fi
	@echo "recur.hpp: stream::step compiles to one call of recur_step"
	@ls -l $(OUT)/prefix/lib/librecur.so.$(VERSION) $(OUT)/prefix/lib/librecur.a | awk '{print "installed", $$NF, $$5, "bytes"}'
	@# Python like any binary package: pip install into a fresh venv (a platform
	@# wheel that builds and carries librecur), the source tree left as it was,
	@# then used from /tmp with no environment variable.
	rm -rf $(OUT)/pip-venv && $(PYTHON) -m venv $(OUT)/pip-venv
	before=$$(git status --porcelain); $(OUT)/pip-venv/bin/pip install -q ./bindings/python && \
	  [ "$$before" = "$$(git status --porcelain)" ] || { echo "pip install changed the source tree"; git status --porcelain; exit 1; }
	cd /tmp && env -u RECUR_LIBRARY -u PYTHONPATH $(CURDIR)/$(OUT)/pip-venv/bin/python \
	  $(CURDIR)/tests/python/installed_check.py $(CURDIR)/README.md
	cd /tmp && env -u RECUR_LIBRARY -u PYTHONPATH $(CURDIR)/$(OUT)/pip-venv/bin/recur info $(CURDIR)/examples/forecast/sunspots.recur | head -3
	cd /tmp && printf '5\n11\n16\n' | env -u RECUR_LIBRARY -u PYTHONPATH $(CURDIR)/$(OUT)/pip-venv/bin/recur run \
	  $(CURDIR)/examples/forecast/sunspots.recur | wc -l | grep -qx 3

# The instruction-set tiers (Sources/RecurAVX512, RecurAVX2, RecurBaseline):
# the disassembly keeps each tier's instructions and calls to itself; the
# FMA tiers agree bit for bit and the baseline within 1e-5; the C API test
# passes natively on each tier, and on the installed library under qemu's
# Haswell (AVX2, FMA) and Nehalem (SSE4.2) CPUs, which fault on any
# instruction above them. qemu is ~100x slower: the models there skip the
# 2.4 MB big_stream and the 300-layer deep variants.
# The translators' layers are those of other models (qemu would add minutes),
# and compare_tiers does not take them either: fed 1000 steps of tokens
# (sixteen times their longest sentence), their encoders amplify rounding,
# so the baseline's mul-then-add drifts to 1.1e-5 of the FMA tiers' outputs
# (on 300 of their held-out sentences it stays within 1.4e-6).
QEMU_TRACKED = $(filter-out examples/translate/%,$(MODELS))
QEMU_MODELS = $(QEMU_TRACKED) $$(ls $(OUT)/variants/*.recur | grep -v -e big_stream -e /deep)
$(OUT)/tier_outputs: tests/c/tier_outputs.c tests/c/narrow.h include/recur.h $(OUT)/lib/librecur.so
	$(CC) $(CFLAGS_TEST) $< $(LDFLAGS_TEST) -o $@
test-tiers: $(OUT)/tier_outputs $(OUT)/test_api $(OUT)/test_bad_files $(OUT)/test_handles $(OUT)/test_step_streams \
            $(OUT)/test_attention variants test-install
	$(PY) tests/isa/check_disassembly.py $(OUT)/lib/librecur.so
	$(PY) tests/isa/compare_tiers.py $(OUT)/tier_outputs $(QEMU_TRACKED) $(OUT)/variants/*.recur
	RECUR_ISA=avx2 RECUR_EXPECT_ISA=avx2 $(OUT)/test_api $(MODELS) $(OUT)/variants/*.recur
	RECUR_ISA=baseline RECUR_EXPECT_ISA=baseline $(OUT)/test_api $(MODELS) $(OUT)/variants/*.recur
	RECUR_ISA=avx2 $(OUT)/test_step_streams $(MODELS) $(OUT)/variants/*.recur
	RECUR_ISA=baseline $(OUT)/test_step_streams $(MODELS) $(OUT)/variants/*.recur
	qemu-x86_64 -cpu Haswell $(OUT)/test_step_streams $(QEMU_TRACKED) $(OUT)/variants/token_lm.recur
	for isa in avx2 baseline; do RECUR_ISA=$$isa $(OUT)/test_attention $(ATTENTION_MODELS) $(OUT)/attention/*.recur || exit 1; done
	qemu-x86_64 -cpu Haswell $(OUT)/test_attention $(OUT)/attention/*.recur
	RECUR_EXPECT_ISA=avx2 qemu-x86_64 -cpu Haswell $(OUT)/test_api_shared $(QEMU_MODELS)
	RECUR_EXPECT_ISA=baseline qemu-x86_64 -cpu Nehalem $(OUT)/test_api_shared $(QEMU_MODELS)
	RECUR_EXPECT_ISA=baseline qemu-x86_64 -cpu Nehalem $(OUT)/test_api_static $(QEMU_TRACKED)
	qemu-x86_64 -cpu Nehalem $(OUT)/test_handles $(HANDLE_MODELS)
	qemu-x86_64 -cpu Nehalem $(OUT)/test_bad_files tests/fixtures/bad tests/fixtures/bad/good.model $(QEMU_TRACKED)

test-python: venv lib $(OUT)/translate
	RECUR_LIBRARY=$(CURDIR)/$(OUT)/lib/librecur.so $(PY) -m pytest -q tests/python

# ---- benchmarks ----------------------------------------------------------------
# The baselines inside bench.c (plain C, roof, RTNeural) are compiled for the
# tier Recur runs on in each table: -march=native beside the best tier, and
# -march=haswell (AVX2, FMA) beside RECUR_ISA=avx2, so that the AVX2 table
# is what an AVX2 machine would show.
# With RTNEURAL_DIR (a checkout of RTNeural), RTNeural joins the contenders:
# its compile-time API on its bundled Eigen, at its fastest for the CPU.
RTNEURAL_FLAGS = -std=c++17 -O3 -DRTNEURAL_USE_EIGEN=1 -DRTNEURAL_DEFAULT_ALIGNMENT=32 -DEIGEN_STACK_ALLOCATION_LIMIT=0 \
	-I$(RTNEURAL_DIR) -I$(RTNEURAL_DIR)/modules/Eigen -I$(RTNEURAL_DIR)/modules/json
BENCH_CFLAGS = -O3 -Wall -Wextra -std=c11 -Iinclude -Ibench
$(OUT)/bench-%: bench/bench.c bench/rtneural.cpp bench/rtneural.h include/recur.h $(OUT)/lib/librecur.so
	$(if $(RTNEURAL_DIR),@test -f "$(RTNEURAL_DIR)/RTNeural/RTNeural.h" || { echo "RTNEURAL_DIR=$(RTNEURAL_DIR) is not an RTNeural checkout"; exit 1; })
	$(if $(RTNEURAL_DIR),$(CXX) $(RTNEURAL_FLAGS) -march=$* -Ibench -c bench/rtneural.cpp -o $(OUT)/rtneural-$*.o)
	$(CC) $(BENCH_CFLAGS) -march=$* $(if $(RTNEURAL_DIR),-DRECUR_BENCH_RTNEURAL) -c bench/bench.c -o $(OUT)/bench-$*.o
	$(if $(RTNEURAL_DIR),$(CXX),$(CC)) $(OUT)/bench-$*.o $(if $(RTNEURAL_DIR),$(OUT)/rtneural-$*.o) $(LDFLAGS_TEST) -o $@
$(OUT)/bench-streams: bench/streams.c include/recur.h $(OUT)/lib/librecur.so
	$(CC) $(BENCH_CFLAGS) -march=native -ffp-contract=fast $< $(LDFLAGS_TEST) -o $@

# Tables on this CPU's best tier and on AVX2, then a chart of both
# (bench/results/bench.png; the CSVs beside it). BENCH_ROUNDS sets the rounds;
# RTNEURAL_DIR adds RTNeural. The binaries are rebuilt every time, since
# RTNEURAL_DIR may differ from the last run.
BENCH_ROUNDS ?= 64
BENCH_STREAM_ROUNDS ?= 15
bench: venv
	rm -f $(OUT)/bench-native $(OUT)/bench-haswell
	$(MAKE) $(OUT)/bench-native $(OUT)/bench-haswell $(OUT)/bench-streams
	$(PY) bench/make_models.py $(OUT)/bench-models
	RESULTS_CSV=bench/results/bench-best.csv WEIGHTS_CSV=bench/results/bench-weights-best.csv \
	  $(OUT)/bench-native $(OUT)/bench-models $(BENCH_ROUNDS)
	@echo
	RECUR_ISA=avx2 RESULTS_CSV=bench/results/bench-avx2.csv WEIGHTS_CSV=bench/results/bench-weights-avx2.csv \
	  $(OUT)/bench-haswell $(OUT)/bench-models $(BENCH_ROUNDS)
	@echo
	RESULTS_CSV=bench/results/bench-streams.csv $(OUT)/bench-streams $(OUT)/bench-models $(BENCH_STREAM_ROUNDS) 64
	@echo
	RECUR_LIBRARY=$(CURDIR)/$(OUT)/lib/librecur.so RESULTS_CSV=bench/results/bench-sequence.csv \
	  $(PY) bench/sequence.py $(BENCH_STREAM_ROUNDS)
	$(PY) bench/chart.py bench/results/bench.png bench/results/bench-best.csv bench/results/bench-avx2.csv \
	  bench/results/bench-streams.csv bench/results/bench-sequence.csv bench/results/bench-weights-best.csv \
	  bench/results/bench-weights-avx2.csv

# A model in C of the AVX2 tier's LSTM gate sums over two panel layouts
# (bench/layouts.c); it needs no library and takes a second.
$(OUT)/bench-layouts: bench/layouts.c
	@mkdir -p $(OUT)
	$(CC) $(BENCH_CFLAGS) -ffp-contract=fast $< -o $@
bench-layouts: $(OUT)/bench-layouts
	$(OUT)/bench-layouts $(BENCH_LAYOUT_ROUNDS)
BENCH_LAYOUT_ROUNDS ?= 41

# Stream.step against a raw ctypes call of recur_step, interleaved in one run.
bench-python: venv lib
	RECUR_LIBRARY=$(CURDIR)/$(OUT)/lib/librecur.so $(PY) bench/python_step.py

clean:
	rm -rf $(OUT) .build .build-asan
