#!/usr/bin/env bash
# tests/support/docs_check.sh — `make docs-check`: runs every command of the README and docs/*.md
# from a clean clone, as a reader would, and fails on the first non-zero exit.
#
#   1. clones this checkout (HEAD, committed files only) into a temporary directory as main/, with
#      ../shared beside it (a symlink to this checkout's ../shared, so ../shared/data works);
#   2. builds ./train there;
#   3. for README.md, then docs/*.md in name order: turns the file's command blocks into one bash
#      script (so a variable set in one block, like M=..., holds for the blocks after it), runs it
#      from the clone's top directory with `set -eo pipefail`, and stops at the first failure.
#
# Which fenced blocks are commands: ```sh / ```bash / ```console blocks always; blocks with another
# language tag (```text, ```json, ...) never; untagged blocks when their first line that is not
# blank or a comment starts like a command (./, make, cd, ls, cat, test, VAR=...). A command
# continued with a trailing backslash is one command.
#
# Skipping (commands that take minutes would not fit CI's 20 minutes on 2 cores):
#   - `<!-- docs-check: skip -->` on the line before a block skips the whole block;
#   - a command containing `docs-check: skip` (e.g. as a trailing `# docs-check: skip` comment)
#     is skipped;
#   - tests/support/docs_check.skip lists command prefixes to skip (one per line, with the reason
#     in a comment above), for the README's long examples.
# Each skipped command is printed as "docs-check: skipped: ...".
#
# Environment: DOCS_CHECK_KEEP=1 keeps the temporary directory; MOETRAIN_CACHE is set inside it.
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
shared="$(cd "$top/.." && pwd)/shared"
[ -d "$shared" ] || { echo "docs-check: $shared not found (../shared beside the checkout)"; exit 1; }
work="$(mktemp -d /tmp/moetrain_docs_XXXXXX)"
[ "${DOCS_CHECK_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
git clone -q "$top" "$work/main"
ln -s "$shared" "$work/shared"
export MOETRAIN_CACHE="$work/cache"
skipfile="$top/tests/support/docs_check.skip"

# the command script of one markdown file on stdout
extract() {
    awk -v skipfile="$skipfile" '
    BEGIN {
        while ((getline line < skipfile) > 0) if (line !~ /^[ \t]*(#|$)/) skips[++nskip] = line
    }
    function is_command(s) { return s ~ /^(\.\/|make( |$)|cd |ls |cat |test |[A-Za-z_][A-Za-z_0-9]*=)/ }
    function quote(s) { gsub(/\047/, "\047\\\047\047", s); return "\047" s "\047" }
    function emit(cmd,    i, skip) {
        if (cmd ~ /^[ \t]*$/) return
        if (cmd ~ /^[ \t]*#/) { print cmd; return }
        skip = cmd ~ /docs-check: skip/
        for (i = 1; i <= nskip; i++) if (index(cmd, skips[i]) == 1) skip = 1
        if (skip) { print "printf \"docs-check: skipped: %s\\n\" " quote(substr(cmd, 1, 120)); return }
        print "printf \"\\n+ %s\\n\" " quote(substr(cmd, 1, 160))
        print "docs_check_t=$SECONDS"
        print cmd
        print "printf \"  (%ds)\\n\" $((SECONDS - docs_check_t))"
    }
    function flush(    i, first, run, cmd, l) {
        first = ""
        for (i = 1; i <= n; i++) if (lines[i] !~ /^[ \t]*(#|$)/) { first = lines[i]; break }
        run = !skip_block && (lang ~ /^(sh|bash|console)$/ || (lang == "" && is_command(first)))
        if (run) {
            cmd = ""
            for (i = 1; i <= n; i++) {
                l = lines[i]
                if (cmd != "") cmd = cmd "\n" l; else cmd = l
                if (l !~ /\\$/) { emit(cmd); cmd = "" }
            }
            emit(cmd)
        }
        n = 0; skip_block = 0
    }
    /^```/ {
        if (!inblock) { inblock = 1; lang = substr($0, 4); gsub(/[ \t]/, "", lang); n = 0; next }
        inblock = 0; flush(); next
    }
    inblock { lines[++n] = $0; next }
    /<!-- docs-check: skip -->/ { skip_block = 1; next }
    /^[ \t]*$/ { next }
    { skip_block = 0 }
    ' "$1"
}

cd "$work/main"
echo "docs-check: building in $work/main"
make -j2 train >/dev/null
for md in README.md docs/*.md; do
    [ -f "$md" ] || continue
    script="$work/$(echo "$md" | tr / _).sh"
    { echo "set -eo pipefail"; extract "$md"; } > "$script"
    echo "== docs-check: $md =="
    if ! (cd "$work/main" && bash "$script"); then
        echo "docs-check: FAILED in $md (script: $script; DOCS_CHECK_KEEP=1 keeps it)"
        exit 1
    fi
done
echo "docs-check: every command of README.md and docs/*.md ran"
