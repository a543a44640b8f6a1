// Compiles llhttp.c of Debian's node-llhttp (LLHTTP_DIR) here, so that its object lands in the
// build tree and not beside the system's sources. Nothing of llhttp is copied into Blatt.
// Licensed under the Apache License, Version 2.0.
#include <llhttp.c>
