package mm

import "golang.org/x/sys/unix"

// SetAnonName names the anonymous mappings in [addr, addr+length) (prctl PR_SET_VMA,
// PR_SET_VMA_ANON_NAME; "" removes the name), as Linux's madvise_set_anon_name does:
// EINVAL for an unaligned start or a wrapping range, EBADF when a file mapping is in the
// range, ENOMEM when part of the range is unmapped (the mapped parts are named anyway).
func (m *MM) SetAnonName(addr, length uint64, name string) error {
	if addr%PageSize != 0 {
		return unix.EINVAL
	}
	end := addr + pageUp(length)
	if end < addr || length > 0 && pageUp(length) == 0 {
		return unix.EINVAL
	}
	if end == addr {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	covered := addr
	m.splitLocked(addr)
	m.splitLocked(end)
	for _, v := range m.vmas {
		if v.End <= addr || v.Start >= end {
			continue
		}
		if v.Start > covered {
			err = unix.ENOMEM
		}
		covered = v.End
		if v.Source != nil {
			return unix.EBADF // only anonymous mappings (and anonymous shared memory) have names
		}
		v.AnonName = name
	}
	if covered < end {
		err = unix.ENOMEM
	}
	m.mergeLocked()
	return err
}
