#ifndef CONSULTVAULT_CSODIUM_SHIM_H
#define CONSULTVAULT_CSODIUM_SHIM_H
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>

/// PR_SET_DUMPABLE 0 plus a zero core-size limit: unlocked keys never reach a core file.
static inline int cv_disable_core_dumps(void) {
    struct rlimit limit = {0, 0};
    int rc = setrlimit(RLIMIT_CORE, &limit);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        return -1;
    }
    return rc;
}
#endif
