package syscalls

import (
	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

func toProt(p uint64) platform.Prot {
	var out platform.Prot
	if p&unix.PROT_READ != 0 {
		out |= platform.ProtRead
	}
	if p&unix.PROT_WRITE != 0 {
		out |= platform.ProtWrite
	}
	if p&unix.PROT_EXEC != 0 {
		out |= platform.ProtExec
	}
	return out
}

const mapKnown = unix.MAP_SHARED | unix.MAP_PRIVATE | unix.MAP_SHARED_VALIDATE | unix.MAP_FIXED | unix.MAP_ANONYMOUS |
	unix.MAP_GROWSDOWN | unix.MAP_DENYWRITE | unix.MAP_EXECUTABLE | unix.MAP_LOCKED | unix.MAP_NORESERVE |
	unix.MAP_POPULATE | unix.MAP_NONBLOCK | unix.MAP_STACK | unix.MAP_HUGETLB | unix.MAP_SYNC | unix.MAP_FIXED_NOREPLACE |
	unix.MAP_32BIT | 0xfc000000 /* huge page size bits */

// memLimits gives t's address space its process's RLIMIT_AS and RLIMIT_DATA.
func memLimits(t *kernel.Task) *mm.MM {
	as, _ := t.Limit(unix.RLIMIT_AS)
	data, _ := t.Limit(unix.RLIMIT_DATA)
	m := t.MM()
	m.SetLimits(as, data)
	return m
}

// Mmap implements mmap(2).
func Mmap(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	addr, length, prot, flags, fdn, uoff := a[0], a[1], a[2], a[3], a[4], a[5]
	off := int64(uoff)
	if prot&^(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC|unix.PROT_GROWSDOWN|unix.PROT_GROWSUP) != 0 {
		return 0, unix.EINVAL
	}
	typ := flags & (unix.MAP_SHARED | unix.MAP_PRIVATE | unix.MAP_SHARED_VALIDATE)
	switch typ {
	case unix.MAP_SHARED, unix.MAP_PRIVATE:
	case unix.MAP_SHARED_VALIDATE:
		if flags&^mapKnown != 0 {
			return 0, unix.EOPNOTSUPP
		}
		typ = unix.MAP_SHARED
	default:
		return 0, unix.EINVAL
	}
	if length == 0 || uoff%mm.PageSize != 0 {
		return 0, unix.EINVAL
	}
	alen := (length + mm.PageSize - 1) &^ (mm.PageSize - 1)
	if alen == 0 {
		return 0, unix.ENOMEM
	}
	// The pages must be numbered without wrapping; a file's also below its largest
	// possible size (MAX_LFS_FILESIZE).
	pgoff := uoff / mm.PageSize
	if pgoff+alen/mm.PageSize < pgoff {
		return 0, unix.EOVERFLOW
	}
	if flags&unix.MAP_ANONYMOUS == 0 && (alen > 1<<63-1 || pgoff > (1<<63-1-alen)/mm.PageSize) {
		return 0, unix.EOVERFLOW
	}
	if flags&unix.MAP_HUGETLB != 0 {
		return 0, unix.EINVAL
	}
	o := mm.MapOpts{Addr: addr, Length: length, Prot: toProt(prot), Fixed: flags&unix.MAP_FIXED != 0,
		NoReplace: flags&unix.MAP_FIXED_NOREPLACE != 0, NoReserve: flags&unix.MAP_NORESERVE != 0, Shared: typ == unix.MAP_SHARED, GrowsDown: flags&unix.MAP_GROWSDOWN != 0,
		Low32:  flags&unix.MAP_32BIT != 0,
		Offset: off}
	if (o.Fixed || o.NoReplace) && addr%mm.PageSize != 0 {
		return 0, unix.EINVAL
	}
	if flags&unix.MAP_ANONYMOUS == 0 {
		fd, err := getFD(t, fdn)
		if err != nil {
			return 0, err
		}
		defer fd.DecRef()
		if fd.IsPath() {
			return 0, unix.EBADF
		}
		mp, ok := fd.Impl().(vfs.Mappable)
		if !ok {
			if isZeroDevice(fd) {
				o.Offset = 0
				if o.Shared {
					o.Source = nil
				}
				return memLimits(t).Map(o)
			}
			return 0, unix.ENODEV
		}
		if !fd.Readable() {
			return 0, unix.EACCES
		}
		if o.Shared && prot&unix.PROT_WRITE != 0 && !fd.Writable() {
			return 0, unix.EACCES
		}
		o.MaxProt = platform.ProtRead | platform.ProtExec | platform.ProtWrite
		if o.Shared && !fd.Writable() {
			o.MaxProt = platform.ProtRead | platform.ProtExec
		}
		if vd := fd.VirtualDentry(); vd.Ok() && vd.Mount.NoExec() {
			// A file on a noexec mount is never mapped executable (Linux: EPERM).
			if prot&unix.PROT_EXEC != 0 {
				return 0, unix.EPERM
			}
			o.MaxProt &^= platform.ProtExec
		}
		s, ok := fd.Inode().(interface{ WriteSealed() bool })
		if !ok {
			s, ok = fd.Impl().(interface{ WriteSealed() bool }) // a memfd received from a host peer
		}
		if ok && o.Shared && s.WriteSealed() {
			// F_SEAL_WRITE / F_SEAL_FUTURE_WRITE: no writable shared mapping, now or later.
			if prot&unix.PROT_WRITE != 0 {
				return 0, unix.EPERM
			}
			o.MaxProt &^= platform.ProtWrite
		}
		o.Source, o.Hold = mp.MapSource(), fd
		_, isShared := o.Source.(mm.SharedSource)
		if _, isHost := o.Source.(mm.HostSource); isHost {
			isShared = true // its shared mappings map the host file (a memfd from a host peer)
		}
		if o.Shared && !isShared {
			// A file whose pages cannot be shared (a host file on a read-only mount: nothing
			// changes it from inside) is mapped as a private copy that is never writable.
			if prot&unix.PROT_WRITE != 0 {
				return 0, unix.ENODEV
			}
			o.MaxProt &^= platform.ProtWrite
		}
		vd := fd.VirtualDentry()
		if vd.Ok() {
			o.Name = vd.Path()
			if at, err := statAttr(vd); err == nil {
				o.Dev, o.Ino = at.Dev, at.Ino
			}
		} else {
			o.Name = fd.Name()
		}
	} else if o.Shared {
		o.Offset = 0
	}
	if o.Fixed || o.NoReplace {
		if addr+((length+mm.PageSize-1)&^(mm.PageSize-1)) > t.MM().MaxAddr() {
			return 0, unix.ENOMEM
		}
	}
	return memLimits(t).Map(o)
}

func isZeroDevice(fd *vfs.FileDescription) bool {
	in := fd.Inode()
	if in == nil {
		return false
	}
	at, err := in.Stat()
	return err == nil && at.Type() == unix.S_IFCHR && at.Rdev == unix.Mkdev(1, 5)
}

// Munmap implements munmap(2).
func Munmap(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return 0, t.MM().Unmap(a[0], a[1])
}

// Mprotect implements mprotect(2).
func Mprotect(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	prot := a[2]
	if prot&^(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC|unix.PROT_GROWSDOWN|unix.PROT_GROWSUP) != 0 {
		return 0, unix.EINVAL
	}
	if prot&unix.PROT_GROWSDOWN != 0 && prot&unix.PROT_GROWSUP != 0 {
		return 0, unix.EINVAL
	}
	return 0, t.MM().Protect(a[0], a[1], toProt(prot), prot&unix.PROT_GROWSDOWN != 0)
}

// Mremap implements mremap(2).
func Mremap(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	flags := a[3]
	if flags&^(unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED|unix.MREMAP_DONTUNMAP) != 0 {
		return 0, unix.EINVAL
	}
	return memLimits(t).Remap(a[0], a[1], a[2], flags&unix.MREMAP_MAYMOVE != 0, flags&unix.MREMAP_FIXED != 0,
		flags&unix.MREMAP_DONTUNMAP != 0, a[4])
}

// Brk implements brk(2).
func Brk(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return memLimits(t).Brk(a[0]), nil
}

// Madvise implements madvise(2).
func Madvise(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return 0, t.MM().Advise(a[0], a[1], int(a[2]))
}

// Mincore implements mincore(2).
func Mincore(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[0]%mm.PageSize != 0 {
		return 0, unix.EINVAL
	}
	v, err := t.MM().Mincore(a[0], a[1])
	if err != nil {
		return 0, err
	}
	if _, err := t.CopyOut(a[2], v); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// Msync implements msync(2).
func Msync(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	flags := a[2]
	if flags&^(unix.MS_ASYNC|unix.MS_INVALIDATE|unix.MS_SYNC) != 0 || flags&unix.MS_ASYNC != 0 && flags&unix.MS_SYNC != 0 {
		return 0, unix.EINVAL
	}
	return 0, t.MM().Sync(a[0], a[1], flags&unix.MS_INVALIDATE != 0)
}

// lockLimit is what bounds the caller's locked memory: RLIMIT_MEMLOCK and CAP_IPC_LOCK.
func lockLimit(t *kernel.Task) mm.LockLimit {
	soft, _ := t.Limit(unix.RLIMIT_MEMLOCK)
	return mm.LockLimit{Bytes: soft, Capable: t.NSCapable(t.Kernel().RootUserNS(), unix.CAP_IPC_LOCK)}
}

// mlockOnFault is mlock2's MLOCK_ONFAULT.
const mlockOnFault = 1

// Mlock implements mlock(2).
func Mlock(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return 0, t.MM().Lock(a[0], a[1], true, false, lockLimit(t))
}

// Mlock2 implements mlock2(2).
func Mlock2(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[2]&^mlockOnFault != 0 {
		return 0, unix.EINVAL
	}
	return 0, t.MM().Lock(a[0], a[1], true, a[2]&mlockOnFault != 0, lockLimit(t))
}

// Munlock implements munlock(2).
func Munlock(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return 0, t.MM().Lock(a[0], a[1], false, false, lockLimit(t))
}

// Mlockall implements mlockall(2).
func Mlockall(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	const mclOnFault = 4
	flags := a[0]
	if flags == 0 || flags&^(unix.MCL_CURRENT|unix.MCL_FUTURE|mclOnFault) != 0 || flags == mclOnFault {
		return 0, unix.EINVAL
	}
	return 0, t.MM().LockAll(flags&unix.MCL_CURRENT != 0, flags&unix.MCL_FUTURE != 0, flags&mclOnFault != 0, lockLimit(t))
}

// Munlockall implements munlockall(2).
func Munlockall(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	t.MM().UnlockAll()
	return 0, nil
}
