#!/bin/bash
# runakode-lli [MODULE.ll...] -- MAIN.ll [ARG...]: runs MAIN.ll's main() with lli, the job's
# other .ll files loaded beside it (lli -extra-module), so that a program in several files
# links; the arguments after the main file are the program's.
# -opaque-pointers: IR of LLVM 15 and later (`ptr`, what clang emits now) parses as well as
# LLVM 14's typed pointers (`i8*`), as newer LLVM reads both.
set -euo pipefail
modules=()
while (($# > 0)) && [[ $1 != -- ]]; do
    modules+=("-extra-module=$1")
    shift
done
shift
exec /usr/lib/llvm-14/bin/lli -opaque-pointers "${modules[@]}" "$@"
