#!/usr/bin/env bash
# tests/support/layers.sh [ROOT] — the two rules of README "Layout", checked on the tree at ROOT
# (default: the current directory). `make layers` runs it; `make test` runs `make layers`.
#  1. Every `#include "..."` of the library, bench and command code names its folder
#     (root-relative: "nn/llama.h") and points one way:
#       tensor <- autograd;  tensor <- data;  {autograd, data} <- nn <- optim <- cli <- train.c;
#       bench (benchmark bodies) may use the library and is used by cli alone.
#  2. Nothing in the library folders (tensor/ autograd/ data/ nn/ optim/) prints to stdout or
#     stderr or ends the process; tensor/check.c, the CHECK failure path, is the one exception.
#     Writing to a FILE* the caller passes in is fine. Comments and string literals are ignored.
# Prints one line per violation, "file:line: what (why)", and exits 1 if there is any.
root=${1:-.}
cd "$root" || exit 2
allowed() {   # the folders a file in folder $1 may include
    case $1 in
    tensor) echo "tensor" ;;
    autograd) echo "tensor autograd" ;;
    data) echo "tensor data" ;;
    nn) echo "tensor autograd data nn" ;;
    optim) echo "tensor autograd data nn optim" ;;
    bench) echo "tensor autograd data nn optim bench" ;;
    cli) echo "tensor autograd data nn optim bench cli" ;;
    train.c) echo "cli" ;;
    esac
}
# prints "file:line: text" of every line of the files given, without comments, with empty string
# and char literals
strip() {
    awk '
        FNR == 1 { inc = 0 }
        {
            line = $0
            gsub(/\x27(\\.|[^\x27\\])\x27/, "\x27 \x27", line)
            gsub(/"(\\.|[^"\\])*"/, "\"\"", line)
            out = ""
            while (length(line) > 0) {
                if (inc) { i = index(line, "*/"); if (i == 0) line = ""; else { line = substr(line, i + 2); inc = 0 } }
                else {
                    i = index(line, "/*"); j = index(line, "//")
                    if (j > 0 && (i == 0 || j < i)) { out = out substr(line, 1, j - 1); line = "" }
                    else if (i > 0) { out = out substr(line, 1, i - 1); line = substr(line, i + 2); inc = 1 }
                    else { out = out line; line = "" }
                }
            }
            printf "%s:%d: %s\n", FILENAME, FNR, out
        }' "$@"
}
bad=0
files=$(find tensor autograd data nn optim bench cli -name '*.[ch]' 2>/dev/null | sort)
[ -f train.c ] && files="$files train.c"
while IFS=: read -r f n inc; do
    layer=${f%%/*}
    ok=" $(allowed "$layer") "
    inc=${inc#*\"}; inc=${inc%%\"*}
    dir=${inc%%/*}
    if [ "$dir" = "$inc" ]; then
        echo "$f:$n: #include \"$inc\" does not name its folder (write it root-relative, e.g. \"$layer/$inc\")"; bad=1
    elif [ "${ok#* $dir }" = "$ok" ]; then
        echo "$f:$n: #include \"$inc\": $layer may not use $dir/ (allowed:$(allowed "$layer" | sed 's/[a-z.]*/ &\//g'))"; bad=1
    fi
done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' $files /dev/null)
lib=$(find tensor autograd data nn optim -name '*.[ch]' 2>/dev/null | grep -v '^tensor/check\.c$' | sort)
if [ -n "$lib" ]; then
    hits=$(strip $lib | grep -E '^[^:]*:[0-9]*: .*(^|[^A-Za-z0-9_])((printf|vprintf|puts|putchar|perror|exit|_exit|_Exit|abort)[[:space:]]*\(|(stdout|stderr)([^A-Za-z0-9_]|$))')
    if [ -n "$hits" ]; then
        echo "$hits" | sed 's/$/   (the library returns a Status; only cli\/ prints or exits)/'; bad=1
    fi
fi
exit $bad
