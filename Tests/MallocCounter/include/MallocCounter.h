// Test support: counts the heap allocations the calling thread makes, so that tests can check that
// a steady-state call allocates nothing (issue 4). glibc only; elsewhere the count never moves.
#ifndef TESSERA_MALLOC_COUNTER_H
#define TESSERA_MALLOC_COUNTER_H

/// Allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) made so far by the
/// calling thread. Stays 0 where the counting wrappers are not in effect (a sanitizer's allocator
/// takes precedence over them, or the C library is not glibc): check with an allocation of your own.
long tessera_thread_allocations(void);

#endif
