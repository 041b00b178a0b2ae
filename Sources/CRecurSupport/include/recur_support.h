/* Private C helpers for the Swift core; not part of the public API. Swift
 * has no thread-local storage and no atomics over raw memory, so both live
 * here as small shims (the style of swift-numerics' _NumericsShims). */
#ifndef RECUR_SUPPORT_H
#define RECUR_SUPPORT_H
#include <stddef.h>
#include <stdint.h>

#include "../../../include/recur.h"

#define RSUPPORT_HIDDEN __attribute__((visibility("hidden")))

/* Capacity of the thread-local detail message, including the NUL. */
#define RECUR_SUPPORT_MESSAGE_CAPACITY 512

/* This thread's detail-message buffer. */
RSUPPORT_HIDDEN char *rsupport_message_buffer(void);

/* The version of include/recur.h (RECUR_VERSION_STRING / _NUMBER): the
 * header is the only place the version is written. */
RSUPPORT_HIDDEN const char *rsupport_version_string(void);
RSUPPORT_HIDDEN int rsupport_version_number(void);

/* The best instruction-set tier this CPU and OS support: 2 = AVX-512
 * (F, CD, BW, DQ, VL, with the OS saving zmm and k state), 1 = AVX2 with FMA
 * (and BMI1, BMI2, LZCNT, MOVBE, F16C: the rest of haswell's set, with the OS
 * saving ymm state), 0 = baseline x86-64. Always 0 off x86-64. */
RSUPPORT_HIDDEN int rsupport_cpu_tier(void);

/* The size of the CPU's largest cache in bytes, or 0 if cpuid does not say. */
RSUPPORT_HIDDEN size_t rsupport_last_level_cache(void);

/*-************************************
 *  Handle registry storage (Sources/Recur/Handles.swift has the logic)
 **************************************/

/* One slot per live handle. Slots are allocated in chunks that are never
 * freed, so looking a handle up never touches freed memory. */
typedef struct rsupport_slot {
    uint64_t state;      /* atomic: generation, open, kind, references */
    void *object;        /* the model arena or the stream block */
    uint64_t owner;      /* a stream's model slot index */
    uint64_t next_free;  /* free list link (index + 1; 0 ends), under the lock */
} rsupport_slot;

#define RSUPPORT_CHUNK_BITS 12                      /* 4096 slots per chunk */
#define RSUPPORT_CHUNK_COUNT 4096                   /* at most 16 Mi handles */

extern RSUPPORT_HIDDEN rsupport_slot *rsupport_chunks[];

static inline rsupport_slot *rsupport_chunk(uint64_t chunk) {
    return __atomic_load_n(&rsupport_chunks[chunk], __ATOMIC_ACQUIRE);
}
static inline void rsupport_publish_chunk(uint64_t chunk, rsupport_slot *slots) {
    __atomic_store_n(&rsupport_chunks[chunk], slots, __ATOMIC_RELEASE);
}

/* Atomic operations on a slot's state word. */
static inline uint64_t rsupport_load(const uint64_t *word) { return __atomic_load_n(word, __ATOMIC_ACQUIRE); }
static inline void rsupport_store(uint64_t *word, uint64_t value) { __atomic_store_n(word, value, __ATOMIC_RELEASE); }
static inline int rsupport_exchange_if(uint64_t *word, uint64_t expected, uint64_t desired) {
    return __atomic_compare_exchange_n(word, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* The lock guarding slot allocation and the free list (never taken while
 * stepping). */
RSUPPORT_HIDDEN void rsupport_registry_lock(void);
RSUPPORT_HIDDEN void rsupport_registry_unlock(void);

#endif
