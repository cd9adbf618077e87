package tmpfs

import "golang.org/x/sys/unix"

// File seals (include/uapi/linux/fcntl.h): what F_ADD_SEALS forbids from then on.
const (
	SealSeal        = 0x0001
	SealShrink      = 0x0002
	SealGrow        = 0x0004
	SealWrite       = 0x0008
	SealFutureWrite = 0x0010
	SealExec        = 0x0020
	sealAll         = SealSeal | SealShrink | SealGrow | SealWrite | SealFutureWrite | SealExec
)

// Seals returns the file's seals (F_GET_SEALS). Every tmpfs regular file has them, as on
// Linux's shmem: F_SEAL_SEAL alone unless it is a memfd made with MFD_ALLOW_SEALING.
func (in *Inode) Seals() (uint32, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.attr.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, unix.EINVAL
	}
	return in.seals, nil
}

// SetSeals replaces the seals (memfd_create's initial state).
func (in *Inode) SetSeals(s uint32) {
	in.mu.Lock()
	in.seals = s
	in.mu.Unlock()
}

// AddSeals adds seals (F_ADD_SEALS): EINVAL for unknown bits or a file that is not
// regular, EPERM once F_SEAL_SEAL is set. Sealing an executable file against exec also
// seals it against change, as Linux does.
func (in *Inode) AddSeals(s uint32) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.attr.Mode&unix.S_IFMT != unix.S_IFREG || s&^sealAll != 0 {
		return unix.EINVAL
	}
	if in.seals&SealSeal != 0 {
		return unix.EPERM
	}
	if s&SealExec != 0 && in.attr.Mode&0o111 != 0 {
		s |= SealShrink | SealGrow | SealWrite | SealFutureWrite
	}
	if in.host != nil {
		// The host checks too (F_SEAL_WRITE with writable shared mappings: EBUSY).
		if err := in.hostSeals(s); err != nil {
			return err
		}
	}
	in.seals |= s
	return nil
}

// writeSealedLocked reports whether writes are sealed. Preconditions: in.mu held.
func (in *Inode) writeSealedLocked() bool { return in.seals&(SealWrite|SealFutureWrite) != 0 }

// resizeAllowedLocked checks a size change against the seals. Preconditions: in.mu held.
func (in *Inode) resizeAllowedLocked(size int64) error {
	if size < in.attr.Size && in.seals&SealShrink != 0 || size > in.attr.Size && in.seals&SealGrow != 0 {
		return unix.EPERM
	}
	return nil
}

// WriteSealed reports whether the file's contents are sealed against writes (mmap refuses
// writable shared mappings of it, and makes read-only ones unable to become writable).
func (in *Inode) WriteSealed() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.writeSealedLocked()
}
