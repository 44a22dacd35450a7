#ifndef CONSULTVAULT_CSODIUM_SHIM_H
#define CONSULTVAULT_CSODIUM_SHIM_H
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <malloc.h>

/// PR_SET_DUMPABLE 0 plus a zero core-size limit: unlocked keys never reach a core file.
static inline int cv_disable_core_dumps(void) {
    struct rlimit limit = {0, 0};
    int rc = setrlimit(RLIMIT_CORE, &limit);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        return -1;
    }
    return rc;
}

/// Caps glibc's malloc arenas at `arenas` unless MALLOC_ARENA_MAX is set (glibc then reads that instead).
/// Returns 1 when the cap was set, 0 when the environment decides, -1 when glibc refused.
static inline int cv_limit_malloc_arenas(int arenas) {
    if (getenv("MALLOC_ARENA_MAX") != NULL) {
        return 0;
    }
    return mallopt(M_ARENA_MAX, arenas) == 1 ? 1 : -1;
}
#endif
