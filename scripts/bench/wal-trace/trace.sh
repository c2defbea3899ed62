#!/bin/bash
# Where the site day's storage writes go (issue 10 target 1): the quick
# site-day phase under strace (pwrite64, fsync, fdatasync of every process),
# with a copy of the live database every 2 s for dbstat (page -> b-tree).
# Run from the repository after `npm run build`:
#   scripts/bench/wal-trace/trace.sh /tmp/run [more bench flags]
#   python3 scripts/bench/wal-trace/analyze.py /tmp/run.trace /tmp/run.snap/last.db
# Byte figures only: strace slows the processes, do not read CPU from it.
set -eu
out=$1; shift
rm -f "$out.trace"; rm -rf "$out.snap"; mkdir -p "$out.snap"
(
  while true; do
    d=$(ls -dt /tmp/pleevi-bench-*/site-day-data 2>/dev/null | head -1 || true)
    if [ -n "$d" ] && [ -f "$d/pleevi-edge.db" ]; then
      sqlite3 "file:$d/pleevi-edge.db?mode=ro" ".backup $out.snap/tmp.db" 2>/dev/null && mv "$out.snap/tmp.db" "$out.snap/last.db" || true
    fi
    sleep 2
  done
) &
loop=$!
trap 'kill $loop' EXIT
strace -f --seccomp-bpf -ttt -xx -s 24 -e trace=openat,pwrite64,fdatasync,fsync,ftruncate,close -o "$out.trace" \
  node dist/scripts/bench/main.js --quick --only site-day "$@" > "$out.out" 2>&1
grep -E "storage writes|projected|calls \(" "$out.out"
