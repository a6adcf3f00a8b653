#include "build_info.h"

#ifndef BELLOWS_COMMIT
#define BELLOWS_COMMIT ""
#endif

const char *bellows_build_commit(void) { return BELLOWS_COMMIT; }
