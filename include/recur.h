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
 *   recur_model_free                  (after every stream of the model is freed)
 *
 * Threads
 *   A recur_model is immutable after loading: any number of threads may use
 *   it and create streams from it at once. A recur_stream belongs to one
 *   thread at a time; different streams of one model step in parallel freely.
 *   recur_last_error() is per thread.
 *
 * Memory and time
 *   Loading a model and creating a stream allocate. recur_step, recur_run and
 *   recur_stream_reset allocate nothing, take no lock and make no system call
 *   on success. A host can provide the stream's memory itself
 *   (recur_stream_size + recur_stream_init).
 *
 * Errors
 *   Every fallible call returns a recur_status. RECUR_OK is 0; the other
 *   codes have fixed numbers and new ones are only appended.
 *   recur_status_string() names a code; recur_last_error() says exactly what
 *   was wrong with this thread's most recent failing call. Pointer arguments
 *   are checked for NULL, counts are checked against the model, handles are
 *   checked for being live where that can be detected; none of these is
 *   undefined behaviour. Each function states what remains after a failure.
 *
 * Numbers
 *   Counts are in floats, never bytes. Vectors are contiguous float arrays;
 *   sequences are row-major (step t's input starts at xs + t * input_size).
 *
 * The file format is described in docs/format.md and proto/recur.proto.
 */
#ifndef RECUR_H
#define RECUR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*-************************************
 *  Version
 **************************************/
#define RECUR_VERSION_MAJOR 0
#define RECUR_VERSION_MINOR 1
#define RECUR_VERSION_PATCH 0
#define RECUR_VERSION_NUMBER (RECUR_VERSION_MAJOR * 10000 + RECUR_VERSION_MINOR * 100 + RECUR_VERSION_PATCH)
#define RECUR_VERSION_STRING "0.1.0"

/* The version of the file format (recur.Model.format_version) this library
 * reads. Files of any other version are refused with
 * RECUR_ERROR_UNSUPPORTED_VERSION. */
#define RECUR_FORMAT_VERSION 1

/* The library's version string, "MAJOR.MINOR.PATCH"; static storage. Compare
 * with RECUR_VERSION_STRING to detect a header/library mismatch. */
const char *recur_version(void);

/* RECUR_VERSION_NUMBER of the library actually linked. */
int recur_version_number(void);

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
    RECUR_ERROR_UNSUPPORTED_VERSION = 7,  /* the file's format_version is not RECUR_FORMAT_VERSION */
    RECUR_ERROR_TOO_LARGE = 8,            /* a size exceeds a limit or overflows */
    RECUR_ERROR_OUT_OF_MEMORY = 9,        /* an allocation failed */
    RECUR_ERROR_BAD_HANDLE = 10,          /* not a live handle (freed, or not made by this library) */
    RECUR_ERROR_BUFFER_TOO_SMALL = 11,    /* caller memory too small or misaligned */
    RECUR_ERROR_UNSUPPORTED = 12,         /* valid, but not supported here (element type, layer kind, streaming a
                                             bidirectional layer, a vector call on a token model, ...) */
    RECUR_ERROR_OUT_OF_RANGE = 13         /* a token outside the vocabulary, a layer index past the last layer */
} recur_status;

/* A short static description of `status` ("ok", "size mismatch", ...); never
 * NULL, also for unknown codes. */
const char *recur_status_string(recur_status status);

/* This thread's detail message for its most recent failing call, for example
 * "layer 1 (lstm 'enc'): weight_hh has 4096 bytes, expected 65536". Valid
 * until this thread's next failing call; "" if this thread never failed.
 * Successful calls leave it unchanged. Never NULL. */
const char *recur_last_error(void);

/*-************************************
 *  Models
 **************************************/
typedef struct recur_model recur_model;    /* immutable after load; share across threads */

/* Loads a .recur file. On success *out holds a new model to be released with
 * recur_model_free. On failure *out is set to NULL (if `out` is not NULL),
 * nothing is allocated, and recur_last_error() names the problem.
 * Errors: INVALID_ARGUMENT (NULL path or out), IO, TOO_LARGE (file or
 * content above 1 GiB), BAD_FRAME, BAD_ENCODING, BAD_MODEL,
 * UNSUPPORTED_VERSION, UNSUPPORTED, OUT_OF_MEMORY. */
recur_status recur_model_load_file(const char *path, recur_model **out);

/* As recur_model_load_file, from `size` bytes at `data`. The bytes are only
 * read during the call; the caller keeps ownership. */
recur_status recur_model_load_memory(const void *data, size_t size, recur_model **out);

/* Releases a model. NULL is fine. Every stream of the model must have been
 * freed (or, for caller memory, no longer used) before. */
void recur_model_free(recur_model *model);

/* Floats per step in and out; 0 if `model` is NULL or not a live model.
 * A token model (first layer an embedding) takes 1 token per step. */
size_t recur_model_input_size(const recur_model *model);
size_t recur_model_output_size(const recur_model *model);

/* Number of layers; 0 if `model` is NULL or not live. */
size_t recur_model_layer_count(const recur_model *model);

/* Vocabulary size of a token model (its first layer is an embedding: step it
 * with recur_step_token / recur_run_tokens), or 0 for a model of vectors. */
size_t recur_model_vocab_size(const recur_model *model);

/* Floats of state of layer `layer` (0-based), for recur_stream_get_state and
 * recur_stream_set_state: *h_count receives the size of h (hidden_size, or
 * proj_size for a projecting LSTM; twice that for a bidirectional layer:
 * forward then backward), *c_count the size of c (LSTM only; 0 otherwise).
 * Layers without state (dense, embedding, softmax) have 0 and 0. Either
 * pointer may be NULL. Errors: INVALID_ARGUMENT, BAD_HANDLE, OUT_OF_RANGE. */
recur_status recur_model_state_size(const recur_model *model, size_t layer, size_t *h_count, size_t *c_count);

/*-************************************
 *  Streams
 **************************************/
typedef struct recur_stream recur_stream;  /* one stream's state; one thread at a time */

/* Creates a stream over `model` with all state zero. The model must outlive
 * the stream. On failure *out is NULL and nothing is allocated.
 * Errors: INVALID_ARGUMENT, BAD_HANDLE, OUT_OF_MEMORY. */
recur_status recur_stream_create(const recur_model *model, recur_stream **out);

/* Bytes of memory a stream of `model` needs for recur_stream_init; 0 if
 * `model` is NULL or not live. */
size_t recur_stream_size(const recur_model *model);

/* Alignment in bytes that memory given to recur_stream_init must have (64). */
size_t recur_stream_alignment(void);

/* Lays out a stream in caller memory: `size` bytes at `memory`, aligned to
 * recur_stream_alignment(), at least recur_stream_size(model) bytes. The
 * library never writes outside [memory, memory + recur_stream_size(model)).
 * The caller owns the memory and must keep it (and the model) alive while
 * the stream is used; recur_stream_free on such a stream only marks it dead.
 * On failure *out is NULL and the memory is untouched.
 * Errors: INVALID_ARGUMENT, BAD_HANDLE, BUFFER_TOO_SMALL (too small or
 * misaligned). */
recur_status recur_stream_init(const recur_model *model, void *memory, size_t size, recur_stream **out);

/* Releases a stream made by recur_stream_create, or retires one made by
 * recur_stream_init (the caller then owns its memory again). NULL is fine. */
void recur_stream_free(recur_stream *stream);

/* Sets every state of the stream back to zero, as after creation. NULL or a
 * dead handle is ignored. Allocation-free. */
void recur_stream_reset(recur_stream *stream);

/*-************************************
 *  Stepping (allocation-free)
 **************************************/

/* One time step: reads x_count floats from x (x_count must equal
 * recur_model_input_size), advances the stream's state and writes y_count
 * floats to y (y_count must equal recur_model_output_size). x and y must not
 * overlap the stream's memory.
 * Errors: INVALID_ARGUMENT (NULL stream, x or y), BAD_HANDLE (stream or its
 * model not live), SIZE_MISMATCH, UNSUPPORTED (a token model, or a model with
 * a reverse or bidirectional layer: see "Sequence mode"). On any error
 * nothing is read or written and the stream's state is unchanged. */
recur_status recur_step(recur_stream *stream, const float *x, size_t x_count, float *y, size_t y_count);

/* `steps` time steps: xs holds steps * input_size floats (xs_count must equal
 * that), ys receives steps * output_size floats (ys_count must equal that),
 * both row-major. Same result as `steps` calls of recur_step. steps == 0 is
 * a no-op (xs and ys may then be NULL). Runs models with reverse and
 * bidirectional layers too (see "Sequence mode"; BUFFER_TOO_SMALL if the
 * stream has not reserved `steps`).
 * Errors and state after an error: as recur_step. */
recur_status recur_run(recur_stream *stream, size_t steps, const float *xs, size_t xs_count,
                       float *ys, size_t ys_count);

/* One time step of a token model: the embedding row of `token` goes in,
 * y_count floats (recur_model_output_size) come out.
 * Errors: as recur_step, plus OUT_OF_RANGE (token < 0 or >= the vocabulary)
 * and UNSUPPORTED (not a token model). Nothing changes on error. */
recur_status recur_step_token(recur_stream *stream, int32_t token, float *y, size_t y_count);

/* `steps` steps of a token model: tokens_count must equal steps, ys_count
 * steps * output_size. Every token is checked before any step runs.
 * Errors and state after an error: as recur_step_token. */
recur_status recur_run_tokens(recur_stream *stream, size_t steps, const int32_t *tokens, size_t tokens_count,
                              float *ys, size_t ys_count);

/*-************************************
 *  Sequence mode
 **************************************/

/* Reverse and bidirectional layers read a whole sequence before they can
 * give their first output, so models holding one run only through recur_run
 * / recur_run_tokens (recur_step and recur_step_token return UNSUPPORTED
 * naming the layer). In sequence mode each layer runs over all steps before
 * the next; forward cells continue from the stream's state, reverse cells
 * start from their initial state at the last step. A bidirectional layer's
 * output at each step is [forward h, backward h].
 *
 * Sequence mode needs buffers for the sequence; this call allocates them for
 * sequences of up to `max_steps` steps (it allocates; recur_run then does
 * not). Without it, such a run returns BUFFER_TOO_SMALL. Models without
 * reverse or bidirectional layers never need it.
 * Errors: INVALID_ARGUMENT, BAD_HANDLE, TOO_LARGE, OUT_OF_MEMORY (the
 * previous buffers are then kept). */
recur_status recur_stream_reserve(recur_stream *stream, size_t max_steps);

/*-************************************
 *  State in and out
 **************************************/

/* Copy layer `layer`'s state out of / into the stream, for example to hand
 * an encoder's final state to a decoder. h_count and c_count must equal
 * recur_model_state_size's; pass NULL and 0 to skip h or c. Layout: h of the
 * forward cell then (bidirectional) of the backward cell; likewise c.
 * Errors: INVALID_ARGUMENT, BAD_HANDLE, OUT_OF_RANGE (layer), SIZE_MISMATCH.
 * Nothing is read or written on error. Allocation-free. */
recur_status recur_stream_get_state(const recur_stream *stream, size_t layer, float *h, size_t h_count,
                                    float *c, size_t c_count);
recur_status recur_stream_set_state(recur_stream *stream, size_t layer, const float *h, size_t h_count,
                                    const float *c, size_t c_count);

#ifdef __cplusplus
}
#endif

#endif /* RECUR_H */
