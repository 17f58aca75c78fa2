#!/usr/bin/env bash
# Fails when a tracked file is an executable binary (ELF, Mach-O, PE) or is
# larger than 1 MB: build output belongs in .gitignore, not in history.
# One stat for all files and bash's own read for each file's first bytes:
# a few processes per file made make lint spend half a minute here.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C # bytes, not characters
limit=$((1024 * 1024))
bad=0
# stat prints SIZE NUL NAME NUL for each file; a tracked file deleted from
# the work tree is not there to check (stat's complaint about it is dropped).
while IFS= read -r -d '' size && IFS= read -r -d '' f; do
  if [ "$size" -gt "$limit" ]; then
    echo "tracked file over 1 MB: $f ($size bytes)"
    bad=1
  fi
  # The first 4 bytes, or fewer up to a NUL (a bash variable cannot hold
  # one): no magic number below has a NUL where it is compared.
  magic=
  IFS= read -r -d '' -n 4 magic <"$f" || true # shorter files end it early
  case "$magic" in
    $'\x7fELF' | $'\xcf\xfa\xed\xfe' | $'\xce\xfa\xed\xfe' | $'\xfe\xed\xfa\xcf' | $'\xfe\xed\xfa\xce' | $'\xca\xfe\xba\xbe') echo "tracked executable binary: $f"; bad=1 ;;
    MZ*) echo "tracked executable binary (PE): $f"; bad=1 ;;
  esac
done < <(git ls-files -z | xargs -0 stat --printf '%s\0%n\0' -- 2>/dev/null || true)
exit "$bad"
