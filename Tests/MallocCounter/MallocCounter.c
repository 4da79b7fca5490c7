// Weak wrappers of the C allocator for the test executable: each forwards to glibc's own entry point
// (__libc_malloc, ...) and counts the call in a thread-local counter. Weak, so that a sanitizer's
// allocator (ASan, TSan), which defines these strongly, replaces them instead of clashing.
#include "MallocCounter.h"
#include <errno.h>   // a C library header first: it defines __GLIBC__ on glibc
#include <stddef.h>

#if defined(__linux__) && defined(__GLIBC__)

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static __thread long allocations;

long tessera_thread_allocations(void) { return allocations; }

__attribute__((weak)) void *malloc(size_t n) { allocations++; return __libc_malloc(n); }
__attribute__((weak)) void free(void *p) { __libc_free(p); }
__attribute__((weak)) void *calloc(size_t count, size_t size) { allocations++; return __libc_calloc(count, size); }
__attribute__((weak)) void *realloc(void *p, size_t n) { allocations++; return __libc_realloc(p, n); }
__attribute__((weak)) void *memalign(size_t alignment, size_t n) { allocations++; return __libc_memalign(alignment, n); }
__attribute__((weak)) void *aligned_alloc(size_t alignment, size_t n) { allocations++; return __libc_memalign(alignment, n); }
__attribute__((weak)) int posix_memalign(void **result, size_t alignment, size_t n) {
    allocations++;
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(alignment, n);
    if (p == NULL) return ENOMEM;
    *result = p;
    return 0;
}
#else
long tessera_thread_allocations(void) { return 0; }
#endif
