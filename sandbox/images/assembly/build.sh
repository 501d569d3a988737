#!/bin/sh
# Assembles every *.asm in the working directory (64-bit ELF: gVisor runs no 32-bit code) and
# links them into ./main, entry point _start; arguments are the client's options, for nasm.
set -e
for source in ./*.asm; do
    nasm -f elf64 "$@" -o "${source%.asm}.o" "$source"
done
exec ld -o main ./*.o
