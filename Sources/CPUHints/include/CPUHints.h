// Hints to the CPU that Swift has no spelling for. Static inline, so each call compiles to the
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

#endif
