#include "recur_support.h"

#include <pthread.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "../../include/recur.h"

static _Thread_local char message[RECUR_SUPPORT_MESSAGE_CAPACITY];

char *rsupport_message_buffer(void) { return message; }

const char *rsupport_version_string(void) { return RECUR_VERSION_STRING; }
int rsupport_version_number(void) { return RECUR_VERSION_NUMBER; }

rsupport_slot *rsupport_chunks[RSUPPORT_CHUNK_COUNT];

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

void rsupport_registry_lock(void) { pthread_mutex_lock(&registry_lock); }
void rsupport_registry_unlock(void) { pthread_mutex_unlock(&registry_lock); }

int rsupport_cpu_tier(void) {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7 || !__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const unsigned leaf1_needed = bit_OSXSAVE | bit_AVX | bit_FMA | bit_MOVBE | bit_F16C;
    if ((c & leaf1_needed) != leaf1_needed) return 0;
    unsigned xcr0_low, xcr0_high;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    if ((xcr0_low & 0x6) != 0x6) return 0;                   /* XMM and YMM state */
    unsigned ext_c = 0;
    if (__get_cpuid(0x80000001, &a, &b, &ext_c, &d) == 0 || !(ext_c & bit_LZCNT)) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    const unsigned avx2_needed = bit_AVX2 | bit_BMI | bit_BMI2;
    if ((b & avx2_needed) != avx2_needed) return 0;
    const unsigned avx512_needed = bit_AVX512F | bit_AVX512CD | bit_AVX512BW | bit_AVX512DQ | bit_AVX512VL;
    if ((b & avx512_needed) == avx512_needed && (xcr0_low & 0xE6) == 0xE6) return 2;  /* + opmask, zmm state */
    return 1;
#else
    return 0;
#endif
}

/* The largest cache's size in bytes from cpuid's deterministic cache
 * parameters (leaf 4 on Intel, 0x8000001D on AMD), or 0 if the CPU does
 * not say (some virtual CPUs). */
size_t rsupport_last_level_cache(void) {
#if defined(__x86_64__)
    static const unsigned leaves[] = {4, 0x8000001D};
    size_t largest = 0;
    for (int l = 0; l < 2; l++) {
        unsigned leaf = leaves[l], a, b, c, d;
        if (__get_cpuid_max(leaf & 0x80000000u, NULL) < leaf) continue;
        for (unsigned sub = 0; sub < 16; sub++) {
            __cpuid_count(leaf, sub, a, b, c, d);
            unsigned type = a & 0x1F;
            if (type == 0) break;
            if (type == 2) continue;  /* instructions only */
            size_t ways = (b >> 22) + 1, partitions = ((b >> 12) & 0x3FF) + 1, line = (b & 0xFFF) + 1, sets = (size_t)c + 1;
            size_t size = ways * partitions * line * sets;
            if (size > largest) largest = size;
        }
    }
    return largest;
#else
    return 0;
#endif
}
