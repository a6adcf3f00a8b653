#ifndef BELLOWS_BUILD_INFO_H
#define BELLOWS_BUILD_INFO_H

/// The git commit Bellows was built from, or "" when the build did not say (a plain
/// `swift build`). scripts/install passes it with -Xcc -DBELLOWS_COMMIT="…".
const char *bellows_build_commit(void);

#endif
