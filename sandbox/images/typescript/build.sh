#!/bin/sh
# Compiles the TypeScript files given (main first) to JavaScript beside them, for node, with
# Node's own type declarations; arguments before the files are the client's options.
exec tsc --target es2021 --module commonjs --moduleResolution node --esModuleInterop \
    --skipLibCheck --typeRoots /usr/local/lib/node_modules/@types --types node --outDir . "$@"
