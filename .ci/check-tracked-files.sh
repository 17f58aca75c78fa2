#!/usr/bin/env bash
# Fails when a tracked file is an executable binary (ELF, Mach-O, PE) or is
# larger than 1 MB: build output belongs in .gitignore, not in history.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=$((1024 * 1024))
bad=0
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue
  size=$(stat -c %s "$f")
  if [ "$size" -gt "$limit" ]; then
    echo "tracked file over 1 MB: $f ($size bytes)"
    bad=1
  fi
  magic=$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')
  case "$magic" in
    7f454c46 | cffaedfe | cefaedfe | feedfacf | feedface | cafebabe) echo "tracked executable binary: $f"; bad=1 ;;
    4d5a*) echo "tracked executable binary (PE): $f"; bad=1 ;;
  esac
done < <(git ls-files -z)
exit "$bad"
