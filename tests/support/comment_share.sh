#!/usr/bin/env bash
# tests/support/comment_share.sh [FILES...] — how much of the code is commentary.
# For the given C files (default: autograd/ops/*.c) it prints, over all non-blank lines:
#   comment lines   lines holding any comment text (whole-line, or after code), over non-blank lines
#   comment-only    lines holding comment text and no code
# and lists every function whose name contains "backward" or "bwd" that has no comment directly above
# its definition (the derivation it implements; exit 1 if there is one).
# Scanning is per character: /* ... */ blocks (across lines), // comments, and "..." / '...'
# literals (a /* inside a string is code). Run from the repository root.
if [ $# -eq 0 ]; then set -- autograd/ops/*.c; fi
awk '
function scan(line,    i, n, c, d, q) {
    has_comment = 0; has_code = 0; n = length(line); i = 1
    while (i <= n) {
        c = substr(line, i, 1); d = substr(line, i, 2)
        if (in_block) {
            has_comment = 1
            if (d == "*/") { in_block = 0; i += 2 } else i++
        } else if (d == "/*") { in_block = 1; has_comment = 1; i += 2 }
        else if (d == "//") { has_comment = 1; i = n + 1 }
        else if (c == "\"" || c == "\047") {            # a literal: code up to its closing quote
            has_code = 1; q = c; i++
            while (i <= n && substr(line, i, 1) != q) i += substr(line, i, 1) == "\\" ? 2 : 1
            i++
        } else { if (c !~ /[ \t]/) has_code = 1; i++ }
    }
}
FNR == 1 { in_block = 0; prev_comment = 0 }
{
    if ($0 ~ /^[ \t]*$/) { prev_comment = 0; next }
    nonblank++
    scan($0)
    if (has_comment) comment++
    if (has_comment && !has_code) only++
    # a function definition at column 0 whose name contains "backward" or "bwd"
    if ($0 ~ /^[A-Za-z_].*(backward|bwd)[A-Za-z_0-9]*\(/ && $0 !~ /;[ \t]*$/ && !prev_comment) {
        printf "no derivation comment above: %s:%d %s\n", FILENAME, FNR, substr($0, 1, 70)
        missing++
    }
    prev_comment = has_comment && !has_code
}
END {
    printf "files: %d  non-blank lines: %d\n", ARGC - 1, nonblank
    printf "comment lines: %d (%.1f%%)   comment-only lines: %d (%.1f%%)\n",
           comment, 100 * comment / nonblank, only, 100 * only / nonblank
    printf "backward functions without a derivation comment above: %d\n", missing
    exit missing > 0
}' "$@"
