"""Where the site day's storage writes go: reads an strace of the bench
(scripts/bench/wal-trace/trace.sh) and a copy of the database.

- write_bytes is modelled as /proc/<pid>/io counts it: a 4 KiB page of the
  page cache counts when it turns dirty; an fsync of the file (the bench's
  emulated writeback, or the gateway's own) makes its pages clean again.
- WAL frames: SQLite writes each frame's 24-byte header (page number, and
  the database size on a commit frame) then the page. Commits are grouped
  by their frames; a commit followed by an fdatasync of the WAL is FULL.
- Checkpoint: pages written into the database file.
- The b-tree of a page number is taken from dbstat of the copy (a page freed
  during the run and on the freelist at the end counts as free/other).
"""
import re, sys, collections, sqlite3
trace, snap = sys.argv[1], sys.argv[2]
def dehex(s):
    return bytes(int(h,16) for h in re.findall(r'\\x([0-9a-f]{2})', s))
line_re = re.compile(r'^(\d+)\s+(\d+\.\d+) (.*)$')
fds = collections.defaultdict(dict)  # pid -> fd -> name
pending = {}
events = []
for raw in open(trace):
    m = line_re.match(raw.rstrip('\n'))
    if not m: continue
    pid, ts, rest = int(m.group(1)), float(m.group(2)), m.group(3)
    if rest.endswith('<unfinished ...>'):
        pending[pid] = rest[:-len('<unfinished ...>')]; continue
    if rest.startswith('<...'):
        mm = re.match(r'<\.\.\. (\w+) resumed>(.*)', rest)
        if not mm or pid not in pending: continue
        rest = pending.pop(pid) + mm.group(2)
    mm = re.match(r'(\w+)\((.*)\)\s*=\s*(-?\d+)', rest)
    if not mm: continue
    call, args, ret = mm.group(1), mm.group(2), int(mm.group(3))
    if call == 'openat':
        path = dehex(args.split(',')[1]).decode(errors='replace')
        if ret >= 0:
            base = path.rsplit('/',1)[-1]
            fds[pid][ret] = base if 'pleevi-edge.db' in base else None
        continue
    fd = int(args.split(',')[0])
    name = fds[pid].get(fd)
    if call == 'close':
        fds[pid].pop(fd, None); continue
    if name is None: continue
    if call == 'pwrite64':
        parts = args.rsplit(',', 2)
        length, off = int(parts[1]), int(parts[2])
        hdr = dehex(parts[0])
        events.append((ts, pid, 'w', name, off, length, hdr))
    elif call in ('fsync','fdatasync'):
        events.append((ts, pid, 's', name, call))
    elif call == 'ftruncate':
        events.append((ts, pid, 't', name, int(args.split(',')[1])))
# window: bench pid = the one that fsyncs but never pwrites
writers = {e[1] for e in events if e[2]=='w'}
syncers = {e[1] for e in events if e[2]=='s'} - writers
bsync = [e[0] for e in events if e[2]=='s' and e[1] in syncers]
t0, t1 = min(bsync), max(bsync)
print('window %.1f s, %d emulated fsyncs' % (t1-t0, len(bsync)))
db = sqlite3.connect(snap)
pg2name = {}
for name, pageno in db.execute('select name, pageno from dbstat'):
    pg2name[pageno] = name
free = set()
# freelist pages: walk
pgsize = db.execute('pragma page_size').fetchone()[0]
def owner(p): return pg2name.get(p, 'free/other')
dirty = collections.defaultdict(set)
counted = collections.Counter()   # modeled write_bytes per file
frames_by_owner = collections.Counter()
ckpt_by_owner = collections.Counter()
commits = []  # (ts, pages list, synced)
cur = []
cur_dirty = 0
lastcommit = None
nframes = 0
ckpt_pages = 0
for e in events:
    ts = e[0]
    if e[2] == 'w':
        _, pid, _, name, off, length, hdr = e
        inwin = t0 <= ts <= t1
        # page-cache pages dirtied
        for pg in range(off//4096, (off+length-1)//4096 + 1):
            if pg not in dirty[name]:
                dirty[name].add(pg)
                if inwin:
                    counted[name] += 4096
                    if name.endswith('-wal'): cur_dirty += 4096
        if not inwin: continue
        if name.endswith('-wal') and length == 24 and off >= 32:
            pgno = int.from_bytes(hdr[0:4],'big'); commit = int.from_bytes(hdr[4:8],'big')
            cur.append(pgno); nframes += 1
            frames_by_owner[owner(pgno)] += 1
            if commit:
                commits.append([ts, cur, False, cur_dirty]); cur = []; cur_dirty = 0
        elif name == 'pleevi-edge.db' and length == pgsize:
            ckpt_pages += 1; ckpt_by_owner[owner(off//pgsize+1)] += 1
    elif e[2] == 's':
        dirty[e[3]].clear()
        if e[1] in writers and commits and t0 <= ts <= t1 and e[3].endswith('-wal'):
            commits[-1][2] = True
    elif e[2] == 't':
        dirty[e[3]] = {p for p in dirty[e[3]] if p*4096 < e[4]}
total = sum(counted.values())
print('modeled write_bytes in window: %d KiB' % (total//1024), {k: v//1024 for k,v in counted.items()})
print('WAL frames %d (%d KiB of frames), commits %d, fsynced commits %d, checkpointed pages %d' % (nframes, nframes*(pgsize+24)//1024, len(commits), sum(1 for c in commits if c[2]), ckpt_pages))
print('WAL frames by b-tree:', frames_by_owner.most_common())
print('checkpoint pages by b-tree:', ckpt_by_owner.most_common())
# classify commits by size
sizes = collections.Counter()
byclass = collections.defaultdict(lambda: [0,0])
for ts, pages, synced, _ in commits:
    n = len(pages)
    cls = ('FULL ' if synced else 'NORMAL ') + ('big(>=20)' if n >= 20 else str(n))
    byclass[cls][0] += 1; byclass[cls][1] += n
for k,(c,n) in sorted(byclass.items(), key=lambda kv:-kv[1][1]):
    print('  commits %-16s x%-5d frames %d' % (k, c, n))
print('composition per class (frames by b-tree):')
comp = collections.defaultdict(collections.Counter)
for ts, pages, synced, _ in commits:
    n = len(pages)
    cls = ('FULL ' if synced else 'NORMAL ') + ('big' if n >= 20 else 'small')
    for p in pages: comp[cls][owner(p)] += 1
for k, c in comp.items(): print(' ', k, dict(c.most_common()))
big = [c for c in commits if len(c[1])>=20]
if len(big)>1: print('flush interval real s: %.3f' % ((big[-1][0]-big[0][0])/(len(big)-1)))

# write_bytes (modelled) per kind of write: the WAL pages a commit dirtied, and the checkpoints
print('modelled write_bytes by kind (KiB; commits, frames):')
kinds = collections.defaultdict(lambda: [0, 0, 0])
for ts, pages, synced, dirtied in commits:
    big = len(pages) >= 20 and not synced
    k = 'flush (NORMAL, >= 20 frames)' if big else ('start/end (FULL)' if synced else 'other NORMAL commits')
    kinds[k][0] += dirtied; kinds[k][1] += 1; kinds[k][2] += len(pages)
kinds['checkpoint (database file)'] = [counted.get('pleevi-edge.db', 0), 0, ckpt_pages]
for k, (b, c, f) in kinds.items():
    print('  %-30s %7d KiB  %5.1f%%  commits %d, frames %d' % (k, b // 1024, 100.0 * b / max(1, total), c, f))
