/*
 * recur.h — the public C interface of Recur, a runtime for trained recurrent
 * networks (LSTM, GRU, RNN) that steps them one input at a time.
 *
 * This header is the contract: anything not declared here is private.
 *
 * Lifecycle
 *   recur_model_load_file / _memory   ->  recur_model   (immutable weights)
 *   recur_stream_create / _init       ->  recur_stream  (one sequence's state)
 *   recur_step / recur_run ... recur_stream_reset ... recur_stream_free
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
    RECUR_ERROR_UNSUPPORTED = 12          /* valid, but not supported by this version (element type, layer kind) */
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

/* Floats per step in and out; 0 if `model` is NULL or not a live model. */
size_t recur_model_input_size(const recur_model *model);
size_t recur_model_output_size(const recur_model *model);

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
 * model not live), SIZE_MISMATCH. On any error nothing is read or written
 * and the stream's state is unchanged. */
recur_status recur_step(recur_stream *stream, const float *x, size_t x_count, float *y, size_t y_count);

/* `steps` time steps: xs holds steps * input_size floats (xs_count must equal
 * that), ys receives steps * output_size floats (ys_count must equal that),
 * both row-major. Same result as `steps` calls of recur_step. steps == 0 is
 * a no-op (xs and ys may then be NULL).
 * Errors and state after an error: as recur_step. */
recur_status recur_run(recur_stream *stream, size_t steps, const float *xs, size_t xs_count,
                       float *ys, size_t ys_count);

#ifdef __cplusplus
}
#endif

#endif /* RECUR_H */
