// Hints and stores that Swift has no spelling for. Static inline, so each call compiles to the
// single instruction where Swift calls it (prefetcht0 on x86-64, a no-op where there is none).
#ifndef TESSERA_CPU_HINTS_H
#define TESSERA_CPU_HINTS_H

/// Asks for the cache line holding `p` to be brought into L1 ahead of a read (no fault if invalid).
static inline __attribute__((always_inline)) void tessera_prefetch_read(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

/// Asks for the cache line holding `p` to be brought into L2 (not L1) ahead of a read: for a block
/// that later code reads many times from L2, without evicting what L1 holds now.
static inline __attribute__((always_inline)) void tessera_prefetch_l2(const void *p) {
    __builtin_prefetch(p, 0, 2);
}

/// `tessera_prefetch_read` for every cache line of the `count` floats from `p`.
static inline __attribute__((always_inline)) void tessera_prefetch_floats(const float *p, long count) {
    for (long i = 0; i < count; i += 16) __builtin_prefetch(p + i, 0, 3);
}

/// Tells the CPU this thread is in a spin-wait loop (x86-64 `pause`): it yields the core's shared
/// resources to a sibling thread and saves power while it spins.
static inline __attribute__((always_inline)) void tessera_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// 16 floats, 64-byte aligned: the operand of `tessera_stream_store16` (Swift sees a `SIMD16<Float>`).
typedef float tessera_float16_aligned __attribute__((ext_vector_type(16), aligned(64)));

/// Stores 16 floats at `p` (64-byte aligned) past the caches (`vmovntps`): for output that this code
/// will not read again, so that the store does not first read the line (no read-for-ownership).
static inline __attribute__((always_inline)) void tessera_stream_store16(float *p, tessera_float16_aligned v) {
    __builtin_nontemporal_store(v, (tessera_float16_aligned *)p);
}

/// Orders this thread's streaming stores before its later stores (`sfence`): before another thread
/// may read what they wrote.
static inline __attribute__((always_inline)) void tessera_store_fence(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_sfence();
#endif
}

#endif
