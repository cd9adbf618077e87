package syscalls

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// System V shared memory (shmget(2), shmat(2), shmdt(2), shmctl(2)) in the sandbox's own
// IPC namespace: segments live in the memory file and are mapped shared.

// Flags and commands x/sys/unix lacks (linux/shm.h, linux/ipc.h).
const (
	shmRemap = 0o40000
	shmExec  = 0o100000
	ipcInfo  = 3
)

// Limits, as Linux's defaults (SHMMAX and SHMALL are huge; SHMMNI is 4096).
const (
	shmMin = 1
	shmMax = 1<<63 - 1<<24
	shmMni = 4096
)

type shmSegment struct {
	ipcPerm
	tab          *shmTable // the table the segment is in
	id           int32
	size         int64
	memOff       int64
	mf           *mm.MemoryFile
	cpid, lpid   int32
	atime, dtime int64
	ctime        int64
	// nattch counts the segment's VMAs (mm.MappingCounter), maps the mappings holding its
	// pages (MapShared): it is freed once removed with neither left.
	nattch, maps   int
	removed, freed bool
}

// shmTable is an IPC namespace's shared memory segments.
type shmTable struct {
	mu sync.Mutex
	// byID and byKey index the segments; nextID is the next identifier. protected by mu
	byID   map[int32]*shmSegment
	byKey  map[int32]*shmSegment
	nextID int32
}

// ReadAt implements mm.Source.
func (s *shmSegment) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), s.size-off))
	s.mf.ReadAt(p[:n], s.memOff+off)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// MapShared implements mm.SharedSource: the segment's own pages, kept until the last
// mapping using them is gone (maps).
func (s *shmSegment) MapShared(off, length int64) (int64, func(), error) {
	shm := s.tab
	shm.mu.Lock()
	defer shm.mu.Unlock()
	if s.freed {
		return 0, nil, unix.EIDRM
	}
	s.maps++
	return s.memOff + off, func() {
		shm.mu.Lock()
		defer shm.mu.Unlock()
		s.maps--
		s.maybeFreeLocked()
	}, nil
}

// OpenMapping implements mm.MappingCounter: shm_nattch counts every VMA of the segment,
// as Linux's (a fork's copy, each piece mprotect or munmap splits off).
func (s *shmSegment) OpenMapping(pid int32) {
	s.tab.mu.Lock()
	defer s.tab.mu.Unlock()
	s.nattch++
	s.atime, s.lpid = time.Now().Unix(), pid
}

// CloseMapping implements mm.MappingCounter: a VMA of the segment is gone (shmdt, munmap,
// exit, exec); a removed segment goes with its last one.
func (s *shmSegment) CloseMapping(pid int32) {
	s.tab.mu.Lock()
	defer s.tab.mu.Unlock()
	s.nattch--
	s.dtime, s.lpid = time.Now().Unix(), pid
	s.maybeFreeLocked()
}

// maybeFreeLocked frees a removed segment once nothing is attached. Locks: shm.mu.
func (s *shmSegment) maybeFreeLocked() {
	shm := s.tab
	if s.removed && s.nattch == 0 && s.maps == 0 && !s.freed {
		s.freed = true
		delete(shm.byID, s.id)
		s.mf.Free(s.memOff, (s.size+mm.PageSize-1)&^(mm.PageSize-1))
	}
}

// Shmget implements shmget(2).
func Shmget(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	shm := &ipcOf(t).shm
	key, size, flags := int32(a[0]), int64(a[1]), uint32(a[2])
	shm.mu.Lock()
	defer shm.mu.Unlock()
	old := shm.byKey[key]
	var perm *ipcPerm
	if old != nil {
		perm = &old.ipcPerm
	}
	found, err := ipcLookup(t, key, flags, perm, func() error {
		if size > old.size {
			return unix.EINVAL
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if found {
		return uint64(old.id), nil
	}
	if size < shmMin || size > shmMax {
		return 0, unix.EINVAL
	}
	if len(shm.byID) >= shmMni {
		return 0, unix.ENOSPC
	}
	mf := t.Kernel().MemoryFile
	off, err := mf.Allocate((size + mm.PageSize - 1) &^ (mm.PageSize - 1))
	if err != nil {
		return 0, unix.ENOMEM
	}
	mf.MarkShmem(off, (size+mm.PageSize-1)&^(mm.PageSize-1))
	now := time.Now().Unix()
	s := &shmSegment{tab: shm, ipcPerm: newIPCPerm(t, key, flags), id: shm.nextID, size: size, memOff: off, mf: mf,
		cpid: t.Group().PID, ctime: now}
	shm.nextID++
	shm.byID[s.id] = s
	if key != unix.IPC_PRIVATE {
		shm.byKey[key] = s
	}
	return uint64(s.id), nil
}

func lookupShm(shm *shmTable, id int32) (*shmSegment, error) {
	s := shm.byID[id]
	if s == nil || s.removed && s.nattch == 0 {
		return nil, unix.EINVAL
	}
	return s, nil
}

// Shmat implements shmat(2).
func Shmat(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	shm := &ipcOf(t).shm
	id, addr, flags := int32(a[0]), a[1], a[2]
	shm.mu.Lock()
	s, err := lookupShm(shm, id)
	if err != nil {
		shm.mu.Unlock()
		return 0, err
	}
	want := uint32(4)
	if flags&unix.SHM_RDONLY == 0 {
		want |= 2
	}
	if !s.access(t.Creds(), want) {
		shm.mu.Unlock()
		return 0, unix.EACCES
	}
	size := uint64(s.size)
	shm.mu.Unlock()
	if addr != 0 {
		if flags&unix.SHM_RND != 0 {
			addr &^= 0x1000 - 1 // SHMLBA is the page size on x86-64
		} else if addr%mm.PageSize != 0 {
			return 0, unix.EINVAL
		}
	}
	prot := platform.ProtRead | platform.ProtWrite
	maxProt := prot | platform.ProtExec
	if flags&unix.SHM_RDONLY != 0 {
		prot, maxProt = platform.ProtRead, platform.ProtRead|platform.ProtExec
	}
	if flags&shmExec != 0 {
		prot |= platform.ProtExec
	}
	o := mm.MapOpts{Addr: addr, Length: size, Prot: prot, MaxProt: maxProt, Shared: true, Source: s,
		Name: fmt.Sprintf("/SYSV%08x (deleted)", uint32(s.key)), Ino: uint64(s.id)}
	if addr != 0 {
		o.Fixed = flags&shmRemap != 0
		o.NoReplace = !o.Fixed
	}
	got, err := t.MM().Map(o)
	if err == unix.EEXIST {
		return 0, unix.EINVAL
	}
	return got, err
}

// Shmdt implements shmdt(2): addr must be where an attachment (or a fragment of one)
// puts the segment's start.
func Shmdt(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	addr := a[0]
	if addr%mm.PageSize != 0 {
		return 0, unix.EINVAL
	}
	return 0, t.MM().Detach(addr, func(src mm.Source) (int64, bool) {
		if s, ok := src.(*shmSegment); ok {
			return s.size, true
		}
		return 0, false
	})
}

// Shmctl implements shmctl(2): IPC_STAT, SHM_STAT, IPC_SET, IPC_RMID, IPC_INFO,
// SHM_INFO, SHM_LOCK and SHM_UNLOCK.
func Shmctl(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	shm := &ipcOf(t).shm
	id, cmd, buf := int32(a[0]), int(a[1])&^0x100, a[2] // 0x100: IPC_64
	c := t.Creds()
	shm.mu.Lock()
	defer shm.mu.Unlock()
	switch cmd {
	case ipcInfo, 14: // SHM_INFO
		var b []byte
		if cmd == ipcInfo {
			info := abi.Shminfo{Shmmax: shmMax, Shmmin: shmMin, Shmmni: shmMni, Shmseg: shmMni, Shmall: 1<<63 - 1<<24}
			b = make([]byte, abi.SizeofShminfo)
			info.Encode(b)
		} else {
			info := abi.ShmInfo{UsedIDs: int32(len(shm.byID))}
			b = make([]byte, abi.SizeofShmInfo)
			info.Encode(b)
		}
		if _, err := t.CopyOut(buf, b); err != nil {
			return 0, unix.EFAULT
		}
		maxID := int32(0)
		for i := range shm.byID {
			maxID = max(maxID, i)
		}
		return uint64(maxID), nil
	}
	var s *shmSegment
	if cmd == 13 { // SHM_STAT: id is an index
		s = shm.byID[id]
		if s == nil {
			return 0, unix.EINVAL
		}
	} else {
		var err error
		if s, err = lookupShm(shm, id); err != nil {
			return 0, err
		}
	}
	owner := s.owner(c)
	switch cmd {
	case unix.IPC_STAT, 13:
		if !s.access(c, 4) {
			return 0, unix.EACCES
		}
		dest := uint32(0)
		if s.removed {
			dest = 0o1000 // SHM_DEST
		}
		ds := abi.ShmidDS{Perm: s.ipcPerm.perm64(dest), Segsz: uint64(s.size), Atime: s.atime, Dtime: s.dtime, Ctime: s.ctime,
			Cpid: int32(s.cpid), Lpid: int32(s.lpid), Nattch: uint64(s.nattch)}
		b := make([]byte, abi.SizeofShmidDS)
		ds.Encode(b)
		return statReply(t, buf, b, cmd == 13, s.id) // 13: SHM_STAT
	case unix.IPC_SET:
		if err := s.setFrom(t, buf); err != nil {
			return 0, err
		}
		s.ctime = time.Now().Unix()
		return 0, nil
	case unix.IPC_RMID:
		if !owner {
			return 0, unix.EPERM
		}
		s.removed = true
		if s.key != unix.IPC_PRIVATE && shm.byKey[s.key] == s {
			delete(shm.byKey, s.key)
		}
		s.key = unix.IPC_PRIVATE
		s.maybeFreeLocked()
		return 0, nil
	case 11, 12: // SHM_LOCK, SHM_UNLOCK: nothing is ever swapped here
		if !owner {
			return 0, unix.EPERM
		}
		return 0, nil
	}
	return 0, unix.EINVAL
}
