package tmpfs

import (
	"math/bits"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Space accounting, as Linux's shmem does it (mm/shmem.c): a tmpfs counts the pages its
// files hold (a page is charged when a write or fallocate first gives it contents and
// uncharged when truncate, a punched hole or the file's end frees it; a truncate that
// grows a file charges nothing) and its inodes (each file and each extra hard link takes
// one, the root included). With size= or nr_inodes= set, a write stops with a short count
// at the first page there is no room for (ENOSPC when that is the first one), fallocate
// fails with ENOSPC and charges nothing, and creating a file fails with ENOSPC. Pages an
// app first touches through a shared mapping are not charged (the platform maps them
// without asking the filesystem; the sandbox's memory limit still bounds them).

const pageSize = 4096

// shortSymlinkLen is the longest symlink target (with its NUL) kept in the inode; a
// longer one takes a page (SHORT_SYMLINK_LEN).
const shortSymlinkLen = 128

// limits are a tmpfs's maxima and what is used of them.
type limits struct {
	mu sync.Mutex // a leaf: taken under any inode's mu and fs.mu
	// maxBlocks and maxInodes are the limits in pages and inodes, 0 for none;
	// usedBlocks and usedInodes what is charged. protected by mu
	maxBlocks, usedBlocks int64
	maxInodes, usedInodes int64
	// exact: statfs reports the limits as Linux does (zero when there is none); set for
	// a tmpfs the app mounted and the sandbox's own (/tmp, /dev/shm: half its RAM).
	// Without it (internal filesystems) statfs reports a generous fixed size.
	exact bool
}

// chargeBlocksUpTo charges up to n pages and returns how many there was room for.
func (fs *FS) chargeBlocksUpTo(n int64) int64 {
	l := &fs.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxBlocks > 0 {
		n = max(0, min(n, l.maxBlocks-l.usedBlocks))
	}
	l.usedBlocks += n
	return n
}

// chargeBlocks charges n pages, all or none.
func (fs *FS) chargeBlocks(n int64) bool {
	l := &fs.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxBlocks > 0 && l.usedBlocks+n > l.maxBlocks {
		return false
	}
	l.usedBlocks += n
	return true
}

func (fs *FS) unchargeBlocks(n int64) {
	l := &fs.limits
	l.mu.Lock()
	l.usedBlocks -= n
	l.mu.Unlock()
}

// chargeInode charges one inode (shmem_reserve_inode): ENOSPC when there is no room.
func (fs *FS) chargeInode() error {
	l := &fs.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxInodes > 0 && l.usedInodes >= l.maxInodes {
		return unix.ENOSPC
	}
	l.usedInodes++
	return nil
}

func (fs *FS) unchargeInode() {
	l := &fs.limits
	l.mu.Lock()
	l.usedInodes--
	l.mu.Unlock()
}

// Limits are the size limits of a tmpfs, in pages and inodes (0: none).
type Limits struct {
	Blocks, Inodes int64
}

// Limits returns the filesystem's limits.
func (fs *FS) Limits() Limits {
	fs.limits.mu.Lock()
	defer fs.limits.mu.Unlock()
	return Limits{Blocks: fs.limits.maxBlocks, Inodes: fs.limits.maxInodes}
}

// Reconfigure changes the limits on a remount (shmem_reconfigure): setBlocks and
// setInodes say which the remount names. A new non-zero limit needs one already set
// ("cannot retroactively limit") and room for what is in use; either failure is EINVAL
// and changes nothing. Zero lifts a limit.
func (fs *FS) Reconfigure(setBlocks bool, blocks int64, setInodes bool, inodes int64) error {
	l := &fs.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	if setBlocks && blocks != 0 && (l.maxBlocks == 0 || l.usedBlocks > blocks) {
		return unix.EINVAL
	}
	if setInodes && inodes != 0 && (l.maxInodes == 0 || l.usedInodes > inodes) {
		return unix.EINVAL
	}
	if setBlocks {
		l.maxBlocks = blocks
	}
	if setInodes {
		l.maxInodes = inodes
	}
	return nil
}

// statfsCounts returns the block and inode counts statfs reports.
func (fs *FS) statfsCounts() (blocks, bfree, files, ffree uint64) {
	l := &fs.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.exact {
		const generous = 1 << 20
		return generous, uint64(max(0, generous-l.usedBlocks)), generous, uint64(max(0, generous-l.usedInodes))
	}
	if l.maxBlocks > 0 {
		blocks, bfree = uint64(l.maxBlocks), uint64(max(0, l.maxBlocks-l.usedBlocks))
	}
	if l.maxInodes > 0 {
		files, ffree = uint64(l.maxInodes), uint64(max(0, l.maxInodes-l.usedInodes))
	}
	return
}

// pageSet is the set of a file's pages that hold contents (are charged).
type pageSet struct {
	words []uint64
	n     int64
}

func (s *pageSet) has(i int64) bool {
	w := i / 64
	return w < int64(len(s.words)) && s.words[w]&(1<<(i%64)) != 0
}

func (s *pageSet) set(i int64) {
	w := i / 64
	if w >= int64(len(s.words)) {
		s.words = append(s.words, make([]uint64, w+1-int64(len(s.words)))...)
	}
	s.words[w] |= 1 << (i % 64)
	s.n++
}

// clearRange removes the pages [from, to) and returns how many were set.
func (s *pageSet) clearRange(from, to int64) int64 {
	to = min(to, int64(len(s.words))*64)
	var n int64
	for i := from; i < to; {
		w := i / 64
		if i%64 == 0 && to-i >= 64 {
			n += int64(bits.OnesCount64(s.words[w]))
			s.words[w] = 0
			i += 64
			continue
		}
		if s.words[w]&(1<<(i%64)) != 0 {
			s.words[w] &^= 1 << (i % 64)
			n++
		}
		i++
	}
	s.n -= n
	return n
}

// allocPagesLocked charges and marks the pages of [off, end) that hold no contents yet,
// in file order, stopping at the first one there is no room for; it returns where the
// charged prefix of the range ends (end when every page fit, off when none did).
// Preconditions: in.mu held.
func (in *Inode) allocPagesLocked(off, end int64) int64 {
	var missing []int64
	for p := off / pageSize; p*pageSize < end; p++ {
		if !in.pages.has(p) {
			missing = append(missing, p)
		}
	}
	got := in.fs.chargeBlocksUpTo(int64(len(missing)))
	for _, p := range missing[:got] {
		in.pages.set(p)
	}
	if got == int64(len(missing)) {
		return end
	}
	return max(off, missing[got]*pageSize)
}

// fallocPagesLocked charges and marks every page of [off, end), all or none (ENOSPC), as
// shmem_fallocate does: a range larger than the whole filesystem fails at once.
// Preconditions: in.mu held.
func (in *Inode) fallocPagesLocked(off, end int64) error {
	first, last := off/pageSize, (end+pageSize-1)/pageSize
	if m := in.fs.Limits().Blocks; m > 0 && last-first > m {
		return unix.ENOSPC
	}
	var missing []int64
	for p := first; p < last; p++ {
		if !in.pages.has(p) {
			missing = append(missing, p)
		}
	}
	if !in.fs.chargeBlocks(int64(len(missing))) {
		return unix.ENOSPC
	}
	for _, p := range missing {
		in.pages.set(p)
	}
	return nil
}

// freePagesLocked uncharges the pages [from, to). Preconditions: in.mu held.
func (in *Inode) freePagesLocked(from, to int64) {
	if from < to {
		in.fs.unchargeBlocks(in.pages.clearRange(from, to))
	}
}

// maybeFreeLocked gives back a file's inode, its pages and its memory once it is neither
// linked, open, mapped nor held by an O_PATH description (shmem_evict_inode, at the
// inode's last reference): the memory-file range holding its contents is freed (its pages
// punched, so the host gets them back) and a host-backed file's memfd closed. The inode is
// then dead: a path walk that found it before its last name went cannot open it (Open
// fails with ENOENT and the open resolves the path again). Preconditions: in.mu held.
func (in *Inode) maybeFreeLocked() {
	if in.dead || in.attr.Nlink != 0 || in.opens != 0 || in.mapRefs != 0 || in.pins != 0 {
		return
	}
	in.dead = true
	if in.host != nil {
		in.releaseHostLocked()
	}
	if in.capacity > 0 {
		in.fs.mf.Free(in.memOff, in.capacity)
		in.memOff, in.capacity = 0, 0
	}
	if !in.charged {
		return
	}
	in.charged = false
	in.freePagesLocked(0, int64(len(in.pages.words))*64)
	if in.symBlock {
		in.symBlock = false
		in.fs.unchargeBlocks(1)
	}
	in.fs.unchargeInode()
}

// Retain implements vfs.Retainer: an O_PATH description holds the file as an open one
// does, so its contents stay (a reopening through /proc/PID/fd reads them) after its
// last name goes. ENOENT when the file is already gone.
func (in *Inode) Retain() (func(), error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.dead {
		return nil, unix.ENOENT
	}
	in.pins++
	return func() {
		in.mu.Lock()
		in.pins--
		in.maybeFreeLocked()
		in.mu.Unlock()
	}, nil
}

// Params are a tmpfs's mount options besides its limits, kept to show them in mountinfo.
type Params struct {
	Mode, UID, GID uint32 // the root directory's, as mounted; UID and GID in the sandbox's IDs
	Huge           string // huge=, "" or "never" for none
	Inode64        bool
	NoSwap         bool
	// Default are the limits a mount without size= and nr_inodes= gets (not shown).
	Default Limits
	// Owner is the user namespace the filesystem belongs to (the mounter's; nil for the
	// sandbox's own tmpfs mounts): reconfiguring it needs CAP_SYS_ADMIN there.
	Owner any
}

// SetParams records the options the filesystem was mounted with.
func (fs *FS) SetParams(p Params) {
	fs.limits.mu.Lock()
	fs.params = p
	fs.limits.mu.Unlock()
}

// Params returns the options the filesystem was mounted with.
func (fs *FS) Params() Params {
	fs.limits.mu.Lock()
	defer fs.limits.mu.Unlock()
	return fs.params
}

// MountOptions renders the options as Linux's shmem_show_options does: what differs from
// the defaults, the limits in kB and inodes.
func (fs *FS) MountOptions() string {
	l := &fs.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	p := fs.params
	var parts []string
	if l.maxBlocks != p.Default.Blocks {
		parts = append(parts, "size="+strconv.FormatUint(uint64(l.maxBlocks)*(pageSize/1024), 10)+"k")
	}
	if l.maxInodes != p.Default.Inodes {
		parts = append(parts, "nr_inodes="+strconv.FormatInt(l.maxInodes, 10))
	}
	if p.Mode != 0o1777 {
		m := strconv.FormatUint(uint64(p.Mode), 8)
		for len(m) < 3 {
			m = "0" + m
		}
		parts = append(parts, "mode="+m)
	}
	if p.UID != 0 {
		parts = append(parts, "uid="+strconv.FormatUint(uint64(p.UID), 10))
	}
	if p.GID != 0 {
		parts = append(parts, "gid="+strconv.FormatUint(uint64(p.GID), 10))
	}
	if p.Inode64 {
		parts = append(parts, "inode64")
	}
	if p.Huge != "" && p.Huge != "never" {
		parts = append(parts, "huge="+p.Huge)
	}
	if p.NoSwap {
		parts = append(parts, "noswap")
	}
	return strings.Join(parts, ",")
}
