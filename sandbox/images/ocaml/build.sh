#!/bin/sh
# Compiles every *.ml in the working directory into ./main, each after the modules it uses
# (ocamldep -sort), so main.ml comes last; arguments are the client's compiler options.
set -e
# shellcheck disable=SC2046 # OCaml module file names have no spaces
exec ocamlopt "$@" -o main $(ocamldep -sort ./*.ml)
