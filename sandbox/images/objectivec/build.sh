#!/bin/sh
# Compiles every *.m in the working directory with GNUstep's Foundation into ./main; arguments
# are the client's compiler options. The flags are GNUstep's own, read when the image was built.
set -e
# shellcheck disable=SC2046 # the flags are words
exec gcc $(cat /opt/runakode/objc-flags) -O2 "$@" -o main ./*.m $(cat /opt/runakode/objc-libs)
