#!/bin/sh
# Lists the functions of a guest image that still contain a raw `syscall`
# instruction, with how many each has. Each one that runs costs a trap into the
# guest's catch-all handler (an exit on PVM), so none may sit on a hot path:
# the integration tests check hello's list, and `make` writes one per example.
# Usage: list-syscalls.sh IMAGE
set -eu
objdump -d --no-show-raw-insn "$1" |
    awk '/^[0-9a-f]+ <[^>]+>:$/ { fn = substr($2, 2, length($2) - 3) }
         $2 == "syscall" || $3 == "syscall" { n[fn]++ }
         END { for (f in n) print f, n[f] }' | sort
