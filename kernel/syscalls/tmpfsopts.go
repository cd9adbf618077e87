package syscalls

import (
	"strconv"
	"strings"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/fs/tmpfs"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// tmpfs's mount options (tmpfs(5)), parsed as mm/shmem.c's shmem_parse_one does: sizes
// through memparse (a C number in any base with a k/m/g/t/p/e suffix, wrapping at 2^64
// as Linux's does, so size=16e is no limit), size= also in % of the sandbox's memory;
// nr_blocks= at most LONG_MAX, nr_inodes= at most ULONG_MAX/1024 (EINVAL beyond);
// mode= in octal; uid= and gid= mapped in the caller's user namespace.

// tmpfsOptions are the options of one mount or remount.
type tmpfsOptions struct {
	blocks, inodes         uint64
	seenBlocks, seenInodes bool
	mode                   uint32
	uid, gid               uint32
	uidSet, gidSet         bool
	huge                   string
	inode64, noswap        bool
}

// bogoInodeSize is what an inode costs of nr_inodes's budget (BOGO_INODE_SIZE).
const bogoInodeSize = 1024

// memparse parses a number as Linux's memparse does: simple_strtoull in base 0 (0x hex,
// leading 0 octal), then an optional binary suffix; both wrap at 2^64. It returns the
// number and what follows it.
func memparse(s string) (uint64, string) {
	base, i := uint64(10), 0
	if len(s) >= 3 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isHex(s[2]) {
		base, i = 16, 2
	} else if len(s) > 0 && s[0] == '0' {
		base = 8
	}
	var n uint64
	for ; i < len(s); i++ {
		d := digitValue(s[i])
		if d >= base {
			break
		}
		n = n*base + d
	}
	rest := s[i:]
	shift := strings.IndexByte("kmgtpe", lower(firstByte(rest)))
	if shift >= 0 {
		n <<= 10 * uint(shift+1)
		rest = rest[1:]
	}
	return n, rest
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isHex(c byte) bool { return digitValue(c) < 16 }

func digitValue(c byte) uint64 {
	switch c = lower(c); {
	case '0' <= c && c <= '9':
		return uint64(c - '0')
	case 'a' <= c && c <= 'z':
		return uint64(c-'a') + 10
	}
	return 99
}

// parseU32 parses a u32 mount option as the kernel's kstrtouint does (a leading '+',
// base 0 for IDs, 8 for modes); anything else, an empty value or overflow, is EINVAL.
func parseU32(s string, base int) (uint32, error) {
	s = strings.TrimPrefix(s, "+")
	if base == 0 {
		switch {
		case len(s) > 2 && s[0] == '0' && lower(s[1]) == 'x':
			s, base = s[2:], 16
		case len(s) > 1 && s[0] == '0':
			s, base = s[1:], 8
		default:
			base = 10
		}
	}
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, unix.EINVAL
	}
	n, err := strconv.ParseUint(s, base, 32)
	if err != nil {
		return 0, unix.EINVAL
	}
	return uint32(n), nil
}

// ramPages is the sandbox's memory in pages (totalram_pages).
func ramPages(t *kernel.Task) uint64 { return t.Kernel().MemInfo().Total / 4096 }

// parseTmpfsOptions parses a comma-separated tmpfs option string. Unknown options and bad
// values are EINVAL.
func parseTmpfsOptions(t *kernel.Task, s string) (tmpfsOptions, error) {
	o := tmpfsOptions{mode: 0o1777}
	for _, opt := range strings.Split(s, ",") {
		if opt == "" {
			continue
		}
		key, val, hasVal := strings.Cut(opt, "=")
		if err := o.set(t, key, val, hasVal); err != nil {
			return o, err
		}
	}
	return o, nil
}

// set applies one option; hasVal is false for a flag ("inode64").
func (o *tmpfsOptions) set(t *kernel.Task, key, val string, hasVal bool) error {
	switch key {
	case "size", "nr_blocks", "nr_inodes", "mode", "uid", "gid", "huge":
		if !hasVal || val == "" {
			return unix.EINVAL // a string parameter cannot be empty
		}
	case "inode32", "inode64", "noswap":
		if hasVal {
			return unix.EINVAL
		}
	default:
		return unix.EINVAL
	}
	switch key {
	case "size":
		size, rest := memparse(val)
		if rest != "" && rest[0] == '%' {
			size = (size << 12) * ramPages(t) / 100
			rest = rest[1:]
		}
		if rest != "" {
			return unix.EINVAL
		}
		o.blocks, o.seenBlocks = (size+4095)/4096, true // DIV_ROUND_UP, wrapping as Linux's
	case "nr_blocks":
		n, rest := memparse(val)
		if rest != "" || n > 1<<63-1 {
			return unix.EINVAL
		}
		o.blocks, o.seenBlocks = n, true
	case "nr_inodes":
		n, rest := memparse(val)
		if rest != "" || n > ^uint64(0)/bogoInodeSize {
			return unix.EINVAL
		}
		o.inodes, o.seenInodes = n, true
	case "mode":
		n, err := parseU32(val, 8)
		if err != nil {
			return err
		}
		o.mode = n & 0o7777
	case "uid", "gid":
		n, err := parseU32(val, 0)
		if err != nil {
			return err
		}
		ns := t.Group().UserNS()
		if key == "uid" {
			id, ok := ns.UnmapUID(n)
			if !ok {
				return unix.EINVAL
			}
			o.uid, o.uidSet = id, true
		} else {
			id, ok := ns.UnmapGID(n)
			if !ok {
				return unix.EINVAL
			}
			o.gid, o.gidSet = id, true
		}
	case "huge":
		switch val {
		case "never", "always", "within_size", "advise":
			o.huge = val
		default:
			return unix.EINVAL
		}
	case "inode32", "inode64":
		o.inode64 = key == "inode64"
	case "noswap":
		// Only the sandbox's initial user namespace's root may turn swap off.
		if !t.Group().UserNS().IsRoot() || !t.NSCapable(t.Kernel().RootUserNS(), unix.CAP_SYS_ADMIN) {
			return unix.EINVAL
		}
		o.noswap = true
	}
	return nil
}

// clampLimit turns a parsed limit into a tmpfs limit (an int64; past that is no limit
// the memory could reach either).
func clampLimit(n uint64) int64 { return int64(min(n, 1<<63-1)) }

// newTmpfs makes the tmpfs a mount with options o gets: owned by the mounter's
// filesystem IDs unless uid=/gid= say otherwise, limited to half the sandbox's memory in
// pages and inodes unless size=/nr_inodes= say otherwise (shmem_fill_super).
func newTmpfs(t *kernel.Task, dev uint64, o tmpfsOptions) (*tmpfs.FS, *tmpfs.Inode) {
	if !o.uidSet {
		o.uid = t.Creds().FSUID
	}
	if !o.gidSet {
		o.gid = t.Creds().FSGID
	}
	def := tmpfs.Limits{Blocks: clampLimit(ramPages(t) / 2), Inodes: clampLimit(ramPages(t) / 2)}
	lim := def
	if o.seenBlocks {
		lim.Blocks = clampLimit(o.blocks)
	}
	if o.seenInodes {
		lim.Inodes = clampLimit(o.inodes)
	}
	fs, root := tmpfs.New(t.Kernel().MemoryFile, tmpfs.Options{Dev: dev, Mode: o.mode, UID: o.uid, GID: o.gid,
		Limits: lim, Exact: true})
	fs.SetParams(tmpfs.Params{Mode: o.mode, UID: o.uid, GID: o.gid, Huge: o.huge, Inode64: o.inode64, NoSwap: o.noswap,
		Default: def, Owner: t.Group().UserNS()})
	return fs, root
}

// remountOptions applies a remount's options to the filesystem of m (shmem_reconfigure)
// and returns the options mountinfo then shows; for filesystems other than tmpfs the
// options change nothing (nil).
func remountOptions(t *kernel.Task, m *vfs.Mount, data string) (*string, error) {
	if m.FSType != "tmpfs" {
		return nil, nil
	}
	root, ok := m.Root().Inode().(*tmpfs.Inode)
	if !ok {
		return nil, nil
	}
	o, err := parseTmpfsOptions(t, data)
	if err != nil {
		return nil, err
	}
	fs := root.FS()
	if !tmpfsOwnerCapable(t, fs) {
		return nil, unix.EPERM
	}
	if p := fs.Params(); o.noswap != p.NoSwap {
		return nil, unix.EINVAL // swap can be neither turned off nor back on by a remount
	}
	if err := fs.Reconfigure(o.seenBlocks, clampLimit(o.blocks), o.seenInodes, clampLimit(o.inodes)); err != nil {
		return nil, err
	}
	p := fs.Params()
	if o.huge != "" {
		p.Huge = o.huge
	}
	if o.inode64 || strings.Contains(","+data+",", ",inode32,") {
		p.Inode64 = o.inode64
	}
	fs.SetParams(p)
	s := fs.MountOptions()
	return &s, nil
}

// tmpfsOwnerCapable reports whether t may reconfigure fs: CAP_SYS_ADMIN in the user
// namespace it belongs to (do_remount's ns_capable(sb->s_user_ns)), the sandbox's initial
// one for its own mounts.
func tmpfsOwnerCapable(t *kernel.Task, fs *tmpfs.FS) bool {
	owner, ok := fs.Params().Owner.(*kernel.UserNS)
	if !ok {
		owner = t.Kernel().RootUserNS()
	}
	return t.NSCapable(owner, unix.CAP_SYS_ADMIN)
}
