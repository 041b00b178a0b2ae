/*
 * recur.h — the public C interface of Recur, a runtime for trained recurrent
 * networks (LSTM, GRU, RNN) that steps them one input at a time.
 *
 * This header is the contract: anything not declared here is private.
 *
 * Lifecycle
 *   recur_model_load_file / _memory   ->  a recur_model: immutable weights
 *   recur_stream_create / _init       ->  a recur_stream: one sequence's state
 *   recur_step / recur_run (or _token / _tokens) ... recur_stream_reset ... recur_stream_free
 *   recur_model_free                  (any time: before or after its streams)
 *
 * Handles
 *   A recur_model * or recur_stream * is a handle, not an address: never
 *   dereference it. The library checks every handle it is given without
 *   touching the object's memory, so a handle that was freed (even twice),
 *   retired, made by another call or never made by this library is refused
 *   with RECUR_ERROR_BAD_HANDLE (free functions ignore it); none of these
 *   reads freed memory. A model and its streams may be freed in any order:
 *   recur_model_free ends the model's handle at once, and the weights stay
 *   until the last stream made from it is freed (as sqlite3_close_v2 keeps a
 *   "zombie" connection), which suits garbage-collected hosts. At most
 *   2^24 handles are live at once, and 2^30 - 1 streams per model.
 *
 * Threads
 *   A recur_model is immutable after loading: any number of threads may use
 *   it and create streams from it at once, and a recur_model_free on one
 *   thread does not pull the weights from under a call on another. A
 *   recur_stream belongs to one thread at a time: calls on one stream from
 *   two threads at once, or freeing a stream while another thread is inside
 *   a call on it, are races the host must avoid. Different streams of one
 *   model step in parallel freely. recur_last_error() is per thread.
 *
 * Memory and time
 *   Loading a model, creating a stream and reserving room (recur_stream_reserve,
 *   recur_stream_reserve_memory) allocate. recur_step, recur_run,
 *   recur_step_token, recur_run_tokens, recur_step_streams,
 *   recur_step_streams_tokens, recur_stream_reset, recur_stream_set_memory,
 *   recur_stream_get_state, recur_stream_set_state, recur_stream_snapshot and
 *   recur_stream_restore allocate nothing, take no lock and make no system
 *   call when they succeed (a failure writes this thread's message, which
 *   may allocate). Loading, creating and freeing take a
 *   short lock (the handle table). A host can provide a stream's memory
 *   itself (recur_stream_size + recur_stream_init).
 *
 * Errors
 *   Every fallible call returns a recur_status. RECUR_OK is 0; the other
 *   codes have fixed numbers and new ones are only appended.
 *   recur_status_string() names a code; recur_last_error() says exactly what
 *   was wrong with this thread's most recent failing call. Arguments are
 *   checked in one order, so a mistake gets the same status from every call:
 *   the handle (INVALID_ARGUMENT if NULL, BAD_HANDLE if not live); whether
 *   the call suits the model (UNSUPPORTED); NULL pointers, allowed only with
 *   a count of 0 (INVALID_ARGUMENT); counts against the model
 *   (SIZE_MISMATCH); overlapping memory (INVALID_ARGUMENT); values such as
 *   tokens and layer numbers (OUT_OF_RANGE). None of these is undefined
 *   behaviour. Each function states what remains after a failure.
 *
 * Numbers
 *   Counts are in floats, never bytes. Vectors are contiguous float arrays;
 *   sequences are row-major (step t's input starts at xs + t * input_size).
 *   A NaN or infinity in an input reaches the outputs and the stream's state
 *   as IEEE arithmetic carries it (a NaN stays in the state until
 *   recur_stream_reset or recur_stream_set_state); nothing traps.
 *
 * Memory given to the library
 *   Inputs and outputs never lie inside a stream's own memory (a caller-memory
 *   stream's block): such calls are refused. Each stepping call says which of
 *   its arrays may overlap.
 *
 * The file format is described in docs/format.md and proto/recur.proto.
 */
#ifndef RECUR_H
#define RECUR_H

#include <stddef.h>
#include <stdint.h>

/* RECUR_API marks the library's functions: exported with default
 * visibility, so that a host built with -fvisibility=hidden, or a program
 * that links librecur.a into its own shared library, keeps them visible.
 * Define it before including this header to override. */
#ifndef RECUR_API
#if defined(__GNUC__) || defined(__clang__)
#define RECUR_API __attribute__((visibility("default")))
#else
#define RECUR_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*-************************************
 *  Version
 **************************************/
/* The only place the version is written: the library, the Makefile, the
 * pkg-config files and the Python package take it from here (and a test
 * checks every copy). */
#define RECUR_VERSION_MAJOR 0
#define RECUR_VERSION_MINOR 6
#define RECUR_VERSION_PATCH 0
#define RECUR_VERSION_NUMBER (RECUR_VERSION_MAJOR * 10000 + RECUR_VERSION_MINOR * 100 + RECUR_VERSION_PATCH)
#define RECUR_QUOTE_(x) #x
#define RECUR_EXPAND_AND_QUOTE_(x) RECUR_QUOTE_(x)
#define RECUR_VERSION_STRING \
    RECUR_EXPAND_AND_QUOTE_(RECUR_VERSION_MAJOR.RECUR_VERSION_MINOR.RECUR_VERSION_PATCH)

/* The newest version of the file format (recur.Model.format_version) this
 * library reads; it reads every version from 1 up to it. A writer sets a
 * file's version to the oldest that computes it correctly (docs/format.md,
 * "Versions"), so a file newer than this library is refused with
 * RECUR_ERROR_UNSUPPORTED_VERSION instead of being computed without the
 * fields this library does not know. Version 2 adds full LSTM peephole
 * matrices; version 3 the attention layer; version 4 BFLOAT16 and INT8
 * weights (docs/quantization.md). */
#define RECUR_FORMAT_VERSION 4

/* The library's version string, "MAJOR.MINOR.PATCH"; static storage. Compare
 * with RECUR_VERSION_STRING to detect a header/library mismatch. */
RECUR_API const char *recur_version(void);

/* RECUR_VERSION_NUMBER of the library actually linked. */
RECUR_API int recur_version_number(void);

/* The instruction-set tier this process steps with: "avx512", "avx2" (with
 * FMA) or "baseline" (any x86-64); static storage. One library holds the
 * step path compiled for each tier; the best one the CPU and the operating
 * system support is chosen once per process, from cpuid. The environment
 * variable RECUR_ISA (avx512, avx2, baseline), read at that moment, can
 * lower the choice, never raise it (for tests). The FMA tiers give
 * bit-identical results; the baseline (a multiply then an add) agrees with
 * them within 1e-5 of each output's range. A model whose state amplifies
 * rounding, run far beyond the sequences it was trained on, can drift
 * further apart, as it would under any change of arithmetic. */
RECUR_API const char *recur_isa(void);

/*-************************************
 *  Status codes
 **************************************/
typedef enum recur_status {
    RECUR_OK = 0,
    RECUR_ERROR_INVALID_ARGUMENT = 1,     /* a NULL pointer or an argument out of range */
    RECUR_ERROR_SIZE_MISMATCH = 2,        /* a float count differs from the model's */
    RECUR_ERROR_IO = 3,                   /* the file cannot be opened or read */
    RECUR_ERROR_BAD_FRAME = 4,            /* not a valid LZ4 frame with content size and checksum */
    RECUR_ERROR_BAD_ENCODING = 5,         /* the content is not a valid recur.Model protobuf */
    RECUR_ERROR_BAD_MODEL = 6,            /* shapes, sizes or layer chain are inconsistent */
    RECUR_ERROR_UNSUPPORTED_VERSION = 7,  /* the file's format_version is not RECUR_FORMAT_VERSION, or a
                                             stream snapshot of a later format */
    RECUR_ERROR_TOO_LARGE = 8,            /* a size exceeds a limit or overflows */
    RECUR_ERROR_OUT_OF_MEMORY = 9,        /* an allocation failed */
    RECUR_ERROR_BAD_HANDLE = 10,          /* not a live handle (freed, or not made by this library) */
    RECUR_ERROR_BUFFER_TOO_SMALL = 11,    /* caller memory too small or misaligned */
    RECUR_ERROR_UNSUPPORTED = 12,         /* valid, but not supported here (element type, layer kind, streaming a
                                             bidirectional layer, a vector call on a token model, ...) */
    RECUR_ERROR_OUT_OF_RANGE = 13,        /* a token outside the vocabulary, a layer index past the last layer */
    RECUR_ERROR_BAD_SNAPSHOT = 14,        /* a stream snapshot that is truncated, corrupt or not one */
    RECUR_ERROR_WRONG_MODEL = 15,         /* a stream snapshot of another model (or of a changed file) */
    RECUR_ERROR_NO_MEMORY_SET = 16        /* stepping an attention layer whose memory was never set (since 0.4) */
} recur_status;

/* A short static description of `status` ("ok", "size mismatch", ...); never
 * NULL, also for unknown codes. */
RECUR_API const char *recur_status_string(recur_status status);

/* This thread's detail message for its most recent failing call, for example
 * "layer 1 (lstm 'enc'): weight_hh has 4096 bytes, expected 65536". Valid
 * until this thread's next failing call; "" if this thread never failed.
 * Successful calls leave it unchanged. Never NULL. */
RECUR_API const char *recur_last_error(void);

/*-************************************
 *  Models
 **************************************/
typedef struct recur_model recur_model;    /* immutable after load; share across threads */

/* Loads a .recur file with the default options (recur_load_options_default).
 * On success *out holds a new model to be released with recur_model_free.
 * On failure *out is set to NULL (if `out` is not NULL), nothing stays
 * allocated, and recur_last_error() names the problem.
 * Errors: INVALID_ARGUMENT (NULL path or out), IO (cannot open or read, or
 * not a regular file: a FIFO, device or directory is refused without
 * blocking), TOO_LARGE (a limit of recur_load_options; the message names
 * it), BAD_FRAME, BAD_ENCODING, BAD_MODEL, UNSUPPORTED_VERSION, UNSUPPORTED,
 * OUT_OF_MEMORY (the message names what could not be allocated). */
RECUR_API recur_status recur_model_load_file(const char *path, recur_model **out);

/* As recur_model_load_file, from `size` bytes at `data`. The bytes are only
 * read during the call (never copied whole); the caller keeps ownership. */
RECUR_API recur_status recur_model_load_memory(const void *data, size_t size, recur_model **out);

/*-************************************
 *  Load options
 **************************************/

/* Extensible structs. A struct that may grow starts with `struct_size`: the
 * caller sets it to sizeof the struct its header declares (the _default()
 * getter does). A library newer than the caller's header gives its defaults
 * to the fields the caller's struct lacks; a library older than the header
 * accepts a larger struct only if the fields it does not know are zero
 * (INVALID_ARGUMENT otherwise). A field left 0 takes its default, so
 * `recur_load_options o = {.struct_size = sizeof o};` asks for the defaults too. */

/* Memory hooks, malloc/free-style (as lz4's LZ4F_CustomMem). `alloc` returns
 * at least `size` bytes aligned for any C type, or NULL; `free` releases
 * what `alloc` returned (never called with NULL). Set both, or neither
 * (malloc and free). The hooks run on the thread that makes the library
 * call; calls for different models or streams may come from several threads
 * at once. */
typedef struct recur_allocator {
    void *(*alloc)(void *opaque, size_t size);
    void (*free)(void *opaque, void *address);
    void *opaque;
} recur_allocator;

/* How a model keeps weight matrices a file stores as bfloat16 or int8
 * (format version 4; docs/quantization.md). Narrow weights stay in their
 * file's type in the model's memory and are widened to float32 in registers
 * at each step: half (bfloat16) or a quarter (int8) of the bytes per step,
 * which is what a large layer's step costs, but a few more instructions per
 * weight, which is what a layer in the core's caches costs. Either way the
 * step computes the file's weights exactly (w = q * scale for int8).
 * Narrow storage applies to recurrent and dense layers; attention and
 * embedding weights are widened to float32 at load (an embedding step reads
 * one row), and so are a layer's whose matrices are of different types
 * (recur_layer_info.storage_type says what each layer keeps). */
typedef enum recur_weight_storage {
    RECUR_WEIGHTS_AUTO = 0,     /* narrow where that is faster: layers whose float32 weights would pass
                                   32 KiB on the AVX-512 tier, 1 MiB on AVX2 (never on the baseline tier);
                                   an int8 layer as exact bfloat16 codes (2 bytes a weight, widened in one
                                   instruction) while those fit in half the CPU's largest cache, as int8
                                   past it; smaller layers widened */
    RECUR_WEIGHTS_NARROW = 1,   /* narrow wherever a kernel exists: the least memory */
    RECUR_WEIGHTS_FLOAT32 = 2   /* every weight widened to float32 at load */
} recur_weight_storage;

/* How a model is loaded: the limits a file must stay within (each refused
 * with TOO_LARGE and a message naming the field), where memory comes from,
 * and how reduced weights are kept. Defaults in brackets. */
typedef struct recur_load_options {
    size_t struct_size;           /* sizeof(recur_load_options) */
    size_t max_file_bytes;        /* the file or buffer, compressed [1 GiB] */
    size_t max_content_bytes;     /* the decompressed content [1 GiB]; also at most
                                     255 times the file, LZ4's largest ratio */
    size_t max_model_bytes;       /* the loaded model's memory, padding included [4 GiB] */
    size_t max_stream_bytes;      /* the memory of one stream of the model [256 MiB] */
    size_t max_layers;            /* [4096] */
    size_t max_dimension;         /* any input, hidden, projection, output or vocabulary size [2^24] */
    size_t max_metadata_entries;  /* [4096] */
    size_t max_metadata_bytes;    /* metadata keys, values and the producer string together [1 MiB] */
    size_t max_name_bytes;        /* one layer's name [4096] */
    recur_allocator allocator;    /* every allocation of the load, of the model and of its
                                     streams (recur_stream_create, recur_stream_reserve) */
    /* Since 0.6. */
    recur_weight_storage weight_storage;  /* [RECUR_WEIGHTS_AUTO]; another value is INVALID_ARGUMENT */
} recur_load_options;

/* The defaults, with struct_size set. */
RECUR_API recur_load_options recur_load_options_default(void);

/* As recur_model_load_file / _memory, with `options` (NULL: the defaults).
 *
 * Memory: everything the library allocates for the load and the model goes
 * through options->allocator. At most 3 x the decompressed content + the
 * model's size + 1 MiB is held at once during a load: a file is read block
 * by block, the content is freed once decoded, and the protobuf decoder
 * gets twice the content plus 1 MiB (a file that needs more is TOO_LARGE).
 * Not through the hooks: a fixed handful of small allocations by the Swift
 * runtime (the list of layers and of their plans, whatever the file holds,
 * and the text of an error), and the handle table (128 KiB per 4096 live
 * handles, kept for the life of the process).
 * Errors: as recur_model_load_file, plus INVALID_ARGUMENT (a struct_size
 * smaller than the first field, fields unknown to this library not zero,
 * only one of alloc and free). */
RECUR_API recur_status recur_model_load_file_ex(const char *path, const recur_load_options *options, recur_model **out);
RECUR_API recur_status recur_model_load_memory_ex(const void *data, size_t size, const recur_load_options *options,
                                                  recur_model **out);

/* Ends the model's handle: every later call with it gets BAD_HANDLE (or 0
 * from the size queries). Streams made from the model keep working; its
 * weights are released with the last of them (at once if it has none).
 * NULL, and a handle already freed or not a model's, are ignored. */
RECUR_API void recur_model_free(recur_model *model);

/* Floats per step in and out; 0 if `model` is NULL or not a live model handle.
 * A token model (first layer an embedding) takes 1 token per step. */
RECUR_API size_t recur_model_input_size(const recur_model *model);
RECUR_API size_t recur_model_output_size(const recur_model *model);

/* Number of layers; 0 if `model` is NULL or not live. */
RECUR_API size_t recur_model_layer_count(const recur_model *model);

/* Vocabulary size of a token model (its first layer is an embedding: step it
 * with recur_step_token / recur_run_tokens), or 0 for a model of vectors. */
RECUR_API size_t recur_model_vocab_size(const recur_model *model);

/* Floats of state of layer `layer` (0-based), for recur_stream_get_state and
 * recur_stream_set_state: *h_count receives the size of h (hidden_size, or
 * proj_size for a projecting LSTM; twice that for a bidirectional layer:
 * forward then backward), *c_count the size of c (LSTM only; 0 otherwise).
 * Layers without state (dense, embedding, softmax) have 0 and 0. Either
 * pointer may be NULL. Errors: INVALID_ARGUMENT, BAD_HANDLE, OUT_OF_RANGE. */
RECUR_API recur_status recur_model_state_size(const recur_model *model, size_t layer, size_t *h_count, size_t *c_count);

/*-************************************
 *  What is inside a model
 **************************************/

typedef enum recur_layer_kind {
    RECUR_LAYER_LSTM = 0,
    RECUR_LAYER_GRU = 1,
    RECUR_LAYER_RNN = 2,
    RECUR_LAYER_DENSE = 3,
    RECUR_LAYER_EMBEDDING = 4,
    RECUR_LAYER_SOFTMAX = 5,
    RECUR_LAYER_ATTENTION = 6            /* format version 3; see "Attention memory" */
} recur_layer_kind;

/* How an attention layer scores a memory row m_i against its input q
 * (docs/cells/attention.md). */
typedef enum recur_attention_score {
    RECUR_SCORE_DOT = 0,                 /* q . m_i */
    RECUR_SCORE_GENERAL = 1,             /* q . (W m_i) */
    RECUR_SCORE_ADDITIVE = 2             /* v . tanh(W_q q + W_m m_i + b) */
} recur_attention_score;

/* Pointwise functions (proto/recur.proto's Activation; docs/cells/ has the
 * formulas and the defaults of alpha and beta). */
typedef enum recur_function {
    RECUR_FUNCTION_IDENTITY = 0,
    RECUR_FUNCTION_SIGMOID = 1,
    RECUR_FUNCTION_TANH = 2,
    RECUR_FUNCTION_RELU = 3,
    RECUR_FUNCTION_AFFINE = 4,            /* alpha * x + beta */
    RECUR_FUNCTION_LEAKY_RELU = 5,        /* x >= 0 ? x : alpha * x */
    RECUR_FUNCTION_THRESHOLDED_RELU = 6,  /* x > alpha ? x : 0 */
    RECUR_FUNCTION_SCALED_TANH = 7,       /* alpha * tanh(beta * x) */
    RECUR_FUNCTION_HARD_SIGMOID = 8,      /* max(0, min(1, alpha * x + beta)) */
    RECUR_FUNCTION_ELU = 9,               /* x >= 0 ? x : alpha * (e^x - 1) */
    RECUR_FUNCTION_SOFTSIGN = 10,
    RECUR_FUNCTION_SOFTPLUS = 11
} recur_function;

/* Bits of recur_layer_info.options: what the file gives the layer beyond
 * the plain cell (docs/cells/ has each one's equations). */
#define RECUR_OPTION_BIAS          (1u << 0)  /* biases (recurrent: bias_ih or bias_hh) */
#define RECUR_OPTION_INITIAL_STATE (1u << 1)  /* an initial h or c in the file */
#define RECUR_OPTION_CLIP          (1u << 2)  /* gate pre-activations clipped */
#define RECUR_OPTION_PEEPHOLE      (1u << 3)  /* LSTM peephole connections */
#define RECUR_OPTION_COUPLED       (1u << 4)  /* LSTM input and forget gates coupled */
#define RECUR_OPTION_CELL_CLIP     (1u << 5)  /* LSTM cell state clipped */
#define RECUR_OPTION_PROJECTION    (1u << 6)  /* LSTM output projection (proj_size) */
#define RECUR_OPTION_PROJ_CLIP     (1u << 7)  /* LSTM projection clipped */
#define RECUR_OPTION_LAYER_NORM    (1u << 8)  /* LSTM layer normalisation */
#define RECUR_OPTION_RESET_BEFORE  (1u << 9)  /* GRU reset gate applied before the matmul
                                                 (ONNX linear_before_reset = 0) */
#define RECUR_OPTION_PEEPHOLE_MATRIX (1u << 10) /* LSTM full peephole matrices U_i, U_f, U_o */
#define RECUR_OPTION_OUTPUT_PEEPHOLE_PREVIOUS (1u << 11) /* LSTM output gate peepholes read c, not c' */

/* One layer as the file describes it (extensible: see "Load options"). */
typedef struct recur_layer_info {
    size_t struct_size;        /* sizeof(recur_layer_info), set by the caller */
    recur_layer_kind kind;
    int direction;             /* recurrent layers: 0 forward, 1 reverse, 2 bidirectional */
    const char *name;          /* "" if the file gives none; valid while the model's handle is live */
    size_t input_size;         /* floats in (1 for an embedding: one token) */
    size_t output_size;        /* floats out (twice h for a bidirectional layer) */
    size_t hidden_size;        /* recurrent layers, else 0 */
    size_t proj_size;          /* an LSTM's projection, else 0 */
    size_t vocab_size;         /* an embedding's, else 0 */
    size_t parameters;         /* floats of weights, biases and initial state in the file */
    uint32_t options;          /* RECUR_OPTION_* */
    uint32_t element_type;     /* of the weights in the file: 1 float32, 3 bfloat16, 4 int8 (proto/recur.proto's
                                  DataType; since 0.5 they may be 3 or 4) */
    uint32_t function_count;   /* how many of functions[] the layer uses: an LSTM 3 (f, g, h), a GRU 2
                                  (f, g), an RNN 1, a dense layer 1 (its activation), others 0 */
    recur_function functions[3];
    float alpha[3], beta[3];   /* the functions' parameters, as the layer runs them */
    /* Since 0.4: attention layers (0 elsewhere). */
    size_t memory_size;        /* floats of each memory row (recur_stream_set_memory's width) */
    recur_attention_score score;
    size_t units;              /* an additive score's units */
    float scale;               /* scores are multiplied by it (1 unless the file says otherwise) */
    /* Since 0.6. */
    uint32_t storage_type;     /* how the loaded model keeps the weight matrices, numbered as element_type:
                                  1 float32 (also when a reduced file's weights were widened at load), 3 bfloat16,
                                  4 int8 (see recur_weight_storage) */
} recur_layer_info;

/* Describes layer `layer` (0-based) into *info. info->struct_size must be
 * set: a library writes the fields it knows that fit, and zeroes the rest.
 * Errors: INVALID_ARGUMENT (NULL model or info, struct_size smaller than
 * its first field), BAD_HANDLE, OUT_OF_RANGE (layer). */
RECUR_API recur_status recur_model_layer_info(const recur_model *model, size_t layer, recur_layer_info *info);

/* The producer string of the file (the program that wrote it), "" if none
 * or if `model` is not live. Valid while the model's handle is live. */
RECUR_API const char *recur_model_producer(const recur_model *model);

/* Number of metadata entries (key/value strings) in the file; 0 if `model`
 * is NULL or not live. */
RECUR_API size_t recur_model_metadata_count(const recur_model *model);

/* Entry `index` of the file's metadata, in file order: *key and *value
 * (either pointer may be NULL) receive NUL-terminated strings valid while
 * the model's handle is live.
 * Errors: INVALID_ARGUMENT, BAD_HANDLE, OUT_OF_RANGE (index). */
RECUR_API recur_status recur_model_metadata(const recur_model *model, size_t index, const char **key, const char **value);

/*-************************************
 *  Streams
 **************************************/
typedef struct recur_stream recur_stream;  /* one stream's state; one thread at a time */

/* Creates a stream over `model`, its state as the file gives it: each cell's
 * initial state where the file has one, zero elsewhere. The stream keeps the
 * model's weights alive until it is freed. On failure *out is NULL and
 * nothing is allocated.
 * Errors: INVALID_ARGUMENT, BAD_HANDLE, TOO_LARGE (2^30 - 1 streams of the
 * model are live), OUT_OF_MEMORY (also when 2^24 handles are live). */
RECUR_API recur_status recur_stream_create(const recur_model *model, recur_stream **out);

/* Bytes of memory a stream of `model` needs for recur_stream_init; 0 if
 * `model` is NULL or not live. */
RECUR_API size_t recur_stream_size(const recur_model *model);

/* Alignment in bytes that memory given to recur_stream_init must have (64). */
RECUR_API size_t recur_stream_alignment(void);

/* Lays out a stream in caller memory: `size` bytes at `memory`, aligned to
 * recur_stream_alignment(), at least recur_stream_size(model) bytes; its
 * state as recur_stream_create gives it. The library never writes outside
 * [memory, memory + recur_stream_size(model)) except into sequence buffers
 * and attention memory it allocates itself (recur_stream_reserve,
 * recur_stream_reserve_memory; recur_stream_free releases them). The returned handle is not
 * `memory`.
 * Contract (changed in 0.2): every stream made here must be retired with
 * recur_stream_free before its memory is released or reused. Until then the
 * stream holds a reference to the model's weights (recur_model_free does not
 * release them) and a handle slot; the caller owns the memory throughout.
 * On failure *out is NULL and the memory is untouched.
 * Errors: INVALID_ARGUMENT, BAD_HANDLE, BUFFER_TOO_SMALL (too small or
 * misaligned), TOO_LARGE and OUT_OF_MEMORY as recur_stream_create. */
RECUR_API recur_status recur_stream_init(const recur_model *model, void *memory, size_t size, recur_stream **out);

/* Releases a stream made by recur_stream_create, or retires one made by
 * recur_stream_init (its memory is then the caller's alone again), and gives
 * back its reference to the model: the last stream of a freed model
 * releases the weights. NULL, and a handle already freed or not a stream's,
 * are ignored. */
RECUR_API void recur_stream_free(recur_stream *stream);

/* Sets every state of the stream back to what creation gave it: the file's
 * initial state where it has one, zero elsewhere (this also clears a NaN
 * that an input left in the state, and undoes recur_stream_set_state), and
 * clears every attention layer's memory. The sequence buffers and the room
 * for memory stay reserved. NULL or a handle that is not a live
 * stream is ignored. Allocation-free. */
RECUR_API void recur_stream_reset(recur_stream *stream);

/*-************************************
 *  Stepping (allocation-free)
 **************************************/

/* One time step: reads x_count floats from x (x_count must equal
 * recur_model_input_size), advances the stream's state and writes y_count
 * floats to y (y_count must equal recur_model_output_size). x is read in
 * full before y is written, so x and y may overlap (in place: x == y).
 * Errors: INVALID_ARGUMENT (NULL stream, x or y; x or y inside a
 * caller-memory stream's block), BAD_HANDLE, UNSUPPORTED (a token model, or
 * a model with a reverse or bidirectional layer: see "Sequence mode"),
 * SIZE_MISMATCH. On any error nothing is read or written and the stream's
 * state is unchanged. */
RECUR_API recur_status recur_step(recur_stream *stream, const float *x, size_t x_count, float *y, size_t y_count);

/* `steps` time steps: xs holds steps * input_size floats (xs_count must equal
 * that), ys receives steps * output_size floats (ys_count must equal that),
 * both row-major. Same result, bit for bit, as `steps` calls of recur_step,
 * and faster: on the AVX-512 tier the layers run chunk by chunk (a few
 * steps, in buffers the stream got when it was created), and a plain LSTM
 * or GRU forms the input half of its gates for a whole chunk as one
 * matrix product before stepping through its recurrent half. steps == 0 is
 * a no-op (xs and ys may then be NULL). Runs models with reverse and
 * bidirectional layers too (see "Sequence mode"; BUFFER_TOO_SMALL if the
 * stream has not reserved `steps`).
 * Overlap: xs and ys may be the same array (in place, xs == ys) when
 * output_size <= input_size; any other overlap is refused with
 * INVALID_ARGUMENT, since later inputs would be overwritten before they are
 * read.
 * Errors and state after an error: as recur_step, plus BUFFER_TOO_SMALL. */
RECUR_API recur_status recur_run(recur_stream *stream, size_t steps, const float *xs, size_t xs_count,
                                 float *ys, size_t ys_count);

/* One time step of a token model: the embedding row of `token` goes in,
 * y_count floats (recur_model_output_size) come out.
 * Errors: as recur_step, plus OUT_OF_RANGE (token < 0 or >= the vocabulary)
 * and UNSUPPORTED (not a token model). Nothing changes on error. */
RECUR_API recur_status recur_step_token(recur_stream *stream, int32_t token, float *y, size_t y_count);

/* `steps` steps of a token model: tokens_count must equal steps, ys_count
 * steps * output_size. Every token is checked before any step runs, so
 * tokens and ys must not overlap (refused with INVALID_ARGUMENT).
 * Errors and state after an error: as recur_step_token, plus
 * BUFFER_TOO_SMALL (sequence mode without enough reserved steps). */
RECUR_API recur_status recur_run_tokens(recur_stream *stream, size_t steps, const int32_t *tokens, size_t tokens_count,
                                        float *ys, size_t ys_count);

/*-************************************
 *  Many streams at once
 **************************************/

/* One time step of each of n streams of `model`, reading every weight once
 * for a group of streams instead of once per stream (a server holding many
 * streams over one model). Stream k reads xs[k * input_size ...] and writes
 * ys[k * output_size ...]; xs_count must be n * input_size and ys_count
 * n * output_size. Each stream's result is exactly (bit for bit) what
 * recur_step would give it, so streams may also be stepped alone in
 * between. n == 0 is a no-op (streams, xs and ys may then be NULL).
 * Every stream must be a live stream created from `model` and appear once;
 * model must be a live handle. Every argument is checked before any stream
 * moves: INVALID_ARGUMENT (NULLs; a stream of another model; a stream listed
 * twice; xs or ys inside a stream's memory; xs and ys overlapping, except
 * the same array when output_size <= input_size), BAD_HANDLE (the model or
 * a stream, named by its position), UNSUPPORTED (a token model, or one that
 * needs whole sequences), SIZE_MISMATCH. Nothing changes on error.
 * Allocates nothing, takes no lock, makes no system call. The calling thread
 * must own all n streams for the call's duration. */
RECUR_API recur_status recur_step_streams(recur_model *model, recur_stream *const *streams, size_t n,
                                          const float *xs, size_t xs_count, float *ys, size_t ys_count);

/* recur_step_streams for a token model: stream k steps on tokens[k]
 * (tokens_count must be n). Also OUT_OF_RANGE (a token outside the
 * vocabulary, checked for every stream before any moves); tokens and ys must
 * not overlap. */
RECUR_API recur_status recur_step_streams_tokens(recur_model *model, recur_stream *const *streams, size_t n,
                                                 const int32_t *tokens, size_t tokens_count,
                                                 float *ys, size_t ys_count);

/*-************************************
 *  Sequence mode
 **************************************/

/* Reverse and bidirectional layers read a whole sequence before they can
 * give their first output, so models holding one run only through recur_run
 * / recur_run_tokens (recur_step and recur_step_token return UNSUPPORTED
 * naming the layer). In sequence mode each layer runs over all steps before
 * the next. Forward cells continue from the stream's state. Cells that run
 * backwards (a reverse layer, the backward half of a bidirectional one)
 * start every run at its last step from their start state: the file's
 * initial state (zero without one), or what recur_stream_set_state last
 * gave them; each run is a sequence of its own for them. A bidirectional
 * layer's output at each step is [forward h, backward h].
 *
 * Sequence mode needs buffers for the sequence; this call allocates them for
 * sequences of up to `max_steps` steps (it allocates; recur_run then does
 * not). Without it, such a run returns BUFFER_TOO_SMALL. Models without
 * reverse or bidirectional layers never need it.
 * Errors: INVALID_ARGUMENT, BAD_HANDLE, TOO_LARGE, OUT_OF_MEMORY (the
 * previous buffers are then kept). */
RECUR_API recur_status recur_stream_reserve(recur_stream *stream, size_t max_steps);

/*-************************************
 *  Attention memory
 **************************************/

/* An attention layer (RECUR_LAYER_ATTENTION; docs/cells/attention.md)
 * attends over a memory that each stream holds: rows m_0 .. m_{T-1} of
 * memory_size floats (recur_layer_info), typically an encoder's outputs.
 * For each step's input q it gives [context, q], where context is the
 * softmax-weighted sum of the rows by their scores against q.
 *
 * Room for the rows is reserved once per stream (it allocates: rows for
 * every attention layer of the model, rounded up to a multiple of 16);
 * setting them then copies them in and forms each row's key (W m_i, say),
 * allocation-free, so a decoder that is handed a new sentence each time
 * allocates nothing after its first reserve. Models without attention
 * layers ignore the reserve. Errors: INVALID_ARGUMENT, BAD_HANDLE,
 * TOO_LARGE, OUT_OF_MEMORY (the previous room and rows are then kept). */
RECUR_API recur_status recur_stream_reserve_memory(recur_stream *stream, size_t max_rows);

/* Sets attention layer `layer`'s memory to `rows` rows of `width` floats
 * (row-major at `values`; width must be the layer's memory_size, 1 <= rows
 * <= the reserved room). The rows are copied: `values` may be reused at
 * once. They stay until the next set_memory, recur_stream_reset (which
 * clears every layer's memory) or recur_stream_restore. Until every
 * attention layer of a stream has memory, stepping it returns
 * NO_MEMORY_SET naming the layer.
 * Errors: INVALID_ARGUMENT (NULL values; a layer that is not an attention
 * layer), BAD_HANDLE, OUT_OF_RANGE (layer), SIZE_MISMATCH (width), TOO_LARGE
 * (more rows than reserved: see recur_stream_reserve_memory; also 0 rows).
 * Nothing changes on error. Allocation-free, lock-free. */
RECUR_API recur_status recur_stream_set_memory(recur_stream *stream, size_t layer, const float *values, size_t rows,
                                               size_t width);

/*-************************************
 *  State in and out
 **************************************/

/* Copy layer `layer`'s state out of / into the stream, for example to hand
 * an encoder's final state to a decoder. h_count and c_count must equal
 * recur_model_state_size's; pass NULL and 0 to skip h or c. Layout: h of the
 * forward cell then (bidirectional) of the backward cell; likewise c.
 * get_state gives each cell's state now; for a cell that runs backwards,
 * its state after the last run (at step 0: ONNX's Y_h for that direction).
 * set_state sets each cell's state; a cell that runs backwards starts every
 * later run from it, until the next set_state or recur_stream_reset (so an
 * ONNX initial state per stream works). Layers without state take 0 counts.
 * Overlap: h and c must not lie in the stream's memory; for get_state they
 * must not overlap each other.
 * Errors: INVALID_ARGUMENT, BAD_HANDLE, OUT_OF_RANGE (layer), SIZE_MISMATCH.
 * Nothing is read or written on error. Allocation-free. */
RECUR_API recur_status recur_stream_get_state(const recur_stream *stream, size_t layer, float *h, size_t h_count,
                                              float *c, size_t c_count);
RECUR_API recur_status recur_stream_set_state(recur_stream *stream, size_t layer, const float *h, size_t h_count,
                                              const float *c, size_t c_count);

/*-************************************
 *  Snapshots
 **************************************/

/* A stream's whole state as bytes a host can keep (a file, a database, another
 * process) and restore later, into any stream of the same model file loaded
 * by any process: every cell's h and c, and, for cells that run backwards,
 * the state their runs start from (see "Sequence mode"), and the rows of
 * each attention layer's memory. Not the sequence buffers. The bytes are a documented format (docs/format.md, "Stream
 * snapshots"): magic, format version, the model's identity (a 64-bit hash
 * of the file's content: any change to weights, structure or metadata
 * changes it), tagged per-layer blocks, a checksum. They do not depend on
 * the CPU, the instruction-set tier or the library version that wrote them;
 * a library reads every snapshot format version up to its own. */

/* Bytes of a snapshot of any stream of `model` (the same for all of them,
 * except that a model with attention layers adds each layer's memory rows:
 * 4 * rows * memory_size bytes; recur_stream_snapshot(s, NULL, 0, &n) gives
 * a stream's exact size); 0 if `model` is NULL or not live. */
RECUR_API size_t recur_stream_snapshot_size(const recur_model *model);

/* Writes the stream's snapshot to `buffer` (`size` bytes; any alignment).
 * *written, if `written` is not NULL, receives the snapshot's size, also on
 * BUFFER_TOO_SMALL: `recur_stream_snapshot(s, NULL, 0, &n)` asks for it
 * (when the model's handle is gone, say). The stream is not changed.
 * Errors: INVALID_ARGUMENT (NULL stream; NULL buffer with a size; buffer
 * inside a caller-memory stream's block), BAD_HANDLE, BUFFER_TOO_SMALL.
 * Nothing is written on error. Allocation-free. */
RECUR_API recur_status recur_stream_snapshot(const recur_stream *stream, void *buffer, size_t size, size_t *written);

/* Replaces the stream's state with the snapshot's `size` bytes at `buffer`:
 * afterwards it steps exactly as the stream the snapshot was taken from
 * did (bit for bit, on the same tier). Checks everything before changing
 * anything: on any error the stream is unchanged.
 * Errors: INVALID_ARGUMENT (NULL stream or buffer; buffer inside the
 * stream's block), BAD_HANDLE, BAD_SNAPSHOT (not a snapshot, truncated,
 * bytes after it, checksum, blocks this model does not have),
 * UNSUPPORTED_VERSION (a later snapshot format), WRONG_MODEL (another
 * model's snapshot, or one of a changed file), TOO_LARGE (more attention
 * memory rows than the stream has room for: recur_stream_reserve_memory).
 * Allocation-free. */
RECUR_API recur_status recur_stream_restore(recur_stream *stream, const void *buffer, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* RECUR_H */
