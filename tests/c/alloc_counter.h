/* Allocation counting for the C tests: malloc, calloc, realloc, free,
 * posix_memalign, aligned_alloc and memalign are defined here, in the test
 * executable, so every call librecur.so (and the Swift runtime inside it)
 * makes lands here first and is forwarded to glibc's implementation.
 * Include in exactly one translation unit. */
#ifndef ALLOC_COUNTER_H
#define ALLOC_COUNTER_H
#include <errno.h>
#include <stddef.h>

#ifdef NO_ALLOC_COUNTER
/* Under AddressSanitizer the sanitizer owns malloc: counting is off (the
 * counters stay 0) and LeakSanitizer checks for leaks instead. */
static volatile int alloc_counting;
static volatile long alloc_calls;
static volatile long alloc_live;
#else

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

/* calls: every allocator call while `alloc_counting` is set.
 * live: blocks allocated minus blocks freed, always counted. */
static volatile int alloc_counting;
static volatile long alloc_calls;
static volatile long alloc_live;

#define COUNT() do { if (alloc_counting) alloc_calls++; } while (0)

void *malloc(size_t n) { COUNT(); void *p = __libc_malloc(n); if (p) alloc_live++; return p; }
void *calloc(size_t a, size_t b) { COUNT(); void *p = __libc_calloc(a, b); if (p) alloc_live++; return p; }
void *realloc(void *old, size_t n) {
    COUNT();
    void *p = __libc_realloc(old, n);
    if (!old && p) alloc_live++;
    if (old && !p && n == 0) alloc_live--;
    return p;
}
void free(void *p) { COUNT(); if (p) { alloc_live--; __libc_free(p); } }
int posix_memalign(void **out, size_t align, size_t n) {
    COUNT();
    void *p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    alloc_live++;
    *out = p;
    return 0;
}
void *aligned_alloc(size_t align, size_t n) { COUNT(); void *p = __libc_memalign(align, n); if (p) alloc_live++; return p; }
void *memalign(size_t align, size_t n) { COUNT(); void *p = __libc_memalign(align, n); if (p) alloc_live++; return p; }
#endif /* NO_ALLOC_COUNTER */

#endif
