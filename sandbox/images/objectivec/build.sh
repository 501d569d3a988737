#!/bin/sh
# Compiles every *.m in the working directory with GNUstep's Foundation into ./main; arguments
# are the client's compiler options. The flags are those gnustep-config gives a GNUstep build
# (without its warnings, as Judge0 does), spelled out: the tool needs gnustep-make.
set -e
objc_include=$(dirname "$(gcc -print-file-name=include/objc/objc.h)")
exec clang -O2 -fobjc-runtime=gcc -I/usr/include/GNUstep -I"$(dirname "$objc_include")" \
    -fconstant-string-class=NSConstantString -fexceptions -fobjc-exceptions \
    -D_NATIVE_OBJC_EXCEPTIONS -DGNUSTEP -DGNUSTEP_BASE_LIBRARY=1 -DGNU_RUNTIME=1 \
    -w "$@" -o main ./*.m -lgnustep-base -lobjc
