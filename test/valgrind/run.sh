#!/usr/bin/env bash
# The native addon under valgrind's memcheck (`npm run test:native:valgrind`): test/valgrind/addon-workout.mjs in a
# node without its JIT (V8's generated code only confuses memcheck). Fails on any invalid read or write, use of an
# uninitialised value, or a definite leak whose stack goes through the addon. Needs `npm run build` first; ~2 min.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (Debian: apt-get install valgrind)" >&2; exit 2; }
log="$(mktemp -t mcpguard-valgrind.XXXXXX)"
status=0
valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=none \
    --track-origins=yes --suppressions=test/valgrind/node.supp --log-file="$log" node --jitless --expose-gc test/valgrind/addon-workout.mjs || status=$?
# Errors anywhere, and definite leaks through our code (node's own start-up allocations are not ours to fix).
errors="$(grep -E "ERROR SUMMARY" "$log" | tail -1)"
addon_leaks="$(awk '/definitely lost in/{block=1; text=$0; next} block && /^==[0-9]+== $/{ if (text ~ /mcpguard|mg_/) print text; block=0; next} block{text=text"\n"$0}' "$log")"
echo "valgrind: $errors"
if [[ -n "$addon_leaks" ]]; then
    echo "valgrind: definite leaks through the addon:"; echo "$addon_leaks"; status=98
fi
echo "valgrind: full log in $log"
if [[ $status -ne 0 ]]; then
    grep -E "Invalid|uninitialised|Mismatched" -A12 "$log" | head -80 || true
fi
exit $status
