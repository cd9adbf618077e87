package mm

import (
	"bytes"
	"io"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

var errEOF = io.EOF

// Ranges returns the kernel's views of app memory [addr, addr+n), checking that every page
// is mapped with the access asked for (write for data going to the app, read for data coming
// from it). On a bad address it returns the views of the valid prefix and EFAULT, so callers
// can do partial transfers as Linux does.
func (m *MM) Ranges(addr uint64, n int, write bool) ([][]byte, error) {
	if n == 0 {
		return nil, nil
	}
	end := addr + uint64(n)
	if end < addr || end > m.maxAddr {
		if addr >= m.maxAddr {
			return m.vdsoRange(addr, end, write)
		}
		end = m.maxAddr
	}
	// On x86-64 any accessible page is readable (write and exec imply read).
	need := platform.ProtRead | platform.ProtWrite | platform.ProtExec
	if write {
		need = platform.ProtWrite
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]byte
	for a := addr; a < end; {
		v := m.vmaAtLocked(a)
		if v == nil || v.Prot&need == 0 {
			return out, unix.EFAULT
		}
		if write && v.cow {
			if m.breakCOWLocked(v, a) != nil {
				return out, unix.EFAULT
			}
			v = m.vmaAtLocked(a)
		}
		hi := min(end, v.End)
		if v.directMapped() && (write || hi-a > directReadMax) {
			// A store into a private file mapping copies the pages it reaches; so does a
			// large read, which would otherwise take a buffer of its size in the kernel
			// (the pages past the end of the file stay the file's: EFAULT below).
			if m.copyDirectLocked(v, pageDown(a), pageUp(hi)) != nil {
				return out, unix.EFAULT
			}
			v = m.vmaAtLocked(a)
			hi = min(end, v.End)
		}
		if v.directMapped() {
			b, err := v.directBytes(a, hi)
			if len(b) > 0 {
				out = append(out, b)
			}
			if err != nil {
				return out, err
			}
			a = hi
			continue
		}
		if v.host != nil {
			var b []byte
			var err error
			if hv, ok := v.host.(HostViewSource); ok {
				b, err = hv.BytesFor(v.FileOff+int64(a-v.Start), int64(hi-a), write)
			} else {
				b, err = v.host.Bytes(v.FileOff+int64(a-v.Start), int64(hi-a))
			}
			if err != nil {
				return out, unix.EFAULT
			}
			out = append(out, b)
			a = hi
			continue
		}
		if v.lazy != nil {
			if err := m.fillLocked(v, pageDown(a), pageUp(hi)); err != nil {
				return out, unix.EFAULT
			}
		}
		bufs, err := m.mf.Slices(v.memOff+int64(a-v.Start), int64(hi-a))
		if err != nil {
			return out, unix.EFAULT
		}
		out = append(out, bufs...)
		a = hi
	}
	if end != addr+uint64(n) {
		return out, unix.EFAULT
	}
	return out, nil
}

// vdsoRange is Ranges above maxAddr: only reads of the vDSO's code pages, served from the
// platform's copy of them (the [vvar] pages hold the host's live clock data, which the
// kernel has no copy of: EFAULT there, where Linux would copy them).
func (m *MM) vdsoRange(addr, end uint64, write bool) ([][]byte, error) {
	m.mu.Lock()
	v := m.vdso
	m.mu.Unlock()
	if v == nil || write || addr < v.Base || addr >= v.Base+uint64(len(v.Image)) {
		return nil, unix.EFAULT
	}
	img := v.Image[addr-v.Base:]
	if end < addr || end-addr > uint64(len(img)) {
		return [][]byte{img}, unix.EFAULT
	}
	return [][]byte{img[:end-addr]}, nil
}

// CopyOut copies src to app memory at addr.
func (m *MM) CopyOut(addr uint64, src []byte) (int, error) {
	rs, err := m.Ranges(addr, len(src), true)
	done := 0
	for _, r := range rs {
		done += copy(r, src[done:])
	}
	return done, err
}

// CopyIn copies app memory at addr into dst.
func (m *MM) CopyIn(addr uint64, dst []byte) (int, error) {
	rs, err := m.Ranges(addr, len(dst), false)
	done := 0
	for _, r := range rs {
		done += copy(dst[done:], r)
	}
	return done, err
}

// ZeroOut writes n zero bytes at addr.
func (m *MM) ZeroOut(addr uint64, n int) error {
	rs, err := m.Ranges(addr, n, true)
	for _, r := range rs {
		clear(r)
	}
	return err
}

// firstChunk is how much CopyInString reads first.
const firstChunk = 256

// CopyInString reads a NUL-terminated string of at most max bytes (excluding the NUL).
// It returns ENAMETOOLONG when no NUL appears within max bytes.
func (m *MM) CopyInString(addr uint64, max int) (string, error) {
	var buf []byte
	for first := true; len(buf) <= max; first = false {
		// Read up to the end of the current page so we never touch an unmapped next page;
		// the first read stops at firstChunk bytes, which most strings fit in (a page of a
		// direct mapping is a pread of what is asked for, in a fresh buffer).
		chunk := int(PageSize - addr%PageSize)
		if first {
			chunk = min(chunk, firstChunk)
		}
		rs, err := m.Ranges(addr, chunk, false)
		if err != nil && len(rs) == 0 {
			return "", unix.EFAULT
		}
		for _, r := range rs {
			if i := bytes.IndexByte(r, 0); i >= 0 {
				if len(buf)+i > max {
					return "", unix.ENAMETOOLONG
				}
				if len(buf) == 0 {
					return string(r[:i]), nil
				}
				return string(append(buf, r[:i]...)), nil
			}
			buf = append(buf, r...)
		}
		addr += uint64(chunk)
	}
	return "", unix.ENAMETOOLONG
}
