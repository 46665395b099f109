#!/usr/bin/env bash
# tests/support/loc_budget.sh MAX_FILE MAX_FUNC — lists .c/.h files over MAX_FILE lines and functions
# over MAX_FUNC lines (a function = from a line starting a definition at column 0 to the
# matching closing brace at column 0). Exit 1 if any file is over budget.
max_file=${1:-400}; max_func=${2:-60}; rc=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]')
for f in $files; do
    n=$(wc -l < "$f")
    if [ "$n" -gt "$max_file" ]; then echo "file over $max_file lines: $f ($n)"; rc=1; fi
    awk -v max="$max_func" -v file="$f" '
        /^[A-Za-z_].*\(/ && !/;[[:space:]]*$/ { name=$0; start=NR }
        /^\{/ && start { open=NR }
        /^}/ && start { len=NR-start+1; if (len>max) printf "function over %d lines: %s:%d %s (%d)\n", max, file, start, substr(name,1,60), len; start=0 }
    ' "$f"
done
exit $rc
