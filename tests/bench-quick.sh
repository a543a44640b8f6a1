#!/bin/bash
# bench-quick.sh: the tiny version of every benchmark scenario (so that `make bench` never rots).
# Licensed under the Apache License, Version 2.0.
exec bash "$(dirname "$0")/bench/bench.sh" --quick
