// Package gofer serves a sandbox's view of host files to its kernel, and is the only
// process of a sandbox that ever opens a host path.
//
// Wire protocol (one SOCK_SEQPACKET socketpair between kernel and gofer):
//
//	kernel (client)                               gofer (server)
//	  hello{magic "SBXG", version}          ─────▶
//	                                        ◀─────  hello{version, mounts[]}
//	  request{id, op, handle, args...}      ─────▶   (many in flight)
//	                                        ◀─────  reply{id, errno, results...} [+ SCM_RIGHTS fd]
//
// Every message is one datagram: u32 request ID, u8 op (requests) or u16 errno (replies),
// then the op's fields encoded as little-endian integers and length-prefixed strings. Replies
// may arrive in any order; the client matches them by ID. Fields from the client are
// bounds-checked by the decoder; a malformed request gets EINVAL or closes the connection.
// Each message is a Go struct defined once, in msg.go, with the encode and decode methods
// both ends use; the conformance suite (conformance_test.go) drives every op through the
// client against the server.
package gofer

import (
	"encoding/binary"
	"errors"
)

// Protocol identification.
const (
	Magic   = "SBXG"
	Version = 1
	// MaxMessage bounds one message (a getdents reply of a very large directory is the
	// biggest); larger directories are returned in several replies.
	MaxMessage = 1 << 20
	// MaxName is NAME_MAX; MaxPath bounds symlink targets.
	MaxName = 255
	MaxPath = 4095
)

// Op is a request type.
type Op uint8

// Requests.
const (
	OpAttach      Op = iota + 1 // mount index → entry
	OpWalk                      // handle, name → entry
	OpStat                      // handle → attr
	OpStatFS                    // handle → statfs
	OpOpen                      // handle, flags → (fd)
	OpCreate                    // handle, name, flags, mode → entry (fd)
	OpMkdir                     // handle, name, mode → entry
	OpMknod                     // handle, name, mode → entry
	OpSymlink                   // handle, name, target → entry
	OpLink                      // handle (dir), target handle, name → entry
	OpUnlink                    // handle, name, flags
	OpRename                    // handle, old name, new dir handle, new name, flags
	OpReadlink                  // handle → target
	OpSetAttr                   // handle, mask, mode, uid, gid, size, atime, mtime
	OpGetdents                  // handle, offset → dirents, next offset (0 at end)
	OpGetxattr                  // handle, name → value
	OpListxattr                 // handle → names
	OpSetxattr                  // handle, name, value, flags
	OpClose                     // handle
	OpGrow                      // handle, end → granted end (disk limit; ENOSPC: nothing)
	OpRemovexattr               // handle, name
	OpWatch                     // handle, want fd → host watch descriptor (fd)
	OpUnwatch                   // handle, watch descriptor
	opMax
)

var (
	errShort    = errors.New("gofer: short message")
	errBadMagic = errors.New("gofer: not a gofer hello")
)

// encoder appends fields.
type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) str(s string) {
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
}
func (e *encoder) bool(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}
func (e *encoder) timespec(t Timespec) {
	e.u64(uint64(t.Sec))
	e.u64(uint64(t.Nsec))
}

// decoder reads fields; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.err = errShort
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}
func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}
func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// str reads a length-prefixed string of at most max bytes.
func (d *decoder) str(max int) string {
	n := d.u32()
	if d.err != nil {
		return ""
	}
	if int(n) > max {
		d.err = errors.New("gofer: string too long")
		return ""
	}
	return string(d.take(int(n)))
}

func (d *decoder) timespec() Timespec {
	return Timespec{Sec: int64(d.u64()), Nsec: int64(d.u64())}
}

func (e *encoder) attr(a Attr) {
	e.u8(uint8(a.Kind))
	e.u32(a.Mode)
	e.u32(a.UID)
	e.u32(a.GID)
	e.u64(a.Nlink)
	e.u64(uint64(a.Size))
	e.u64(uint64(a.Blocks))
	e.u32(uint32(a.BlkSize))
	e.timespec(a.Atime)
	e.timespec(a.Mtime)
	e.timespec(a.Ctime)
	e.u64(a.Ino)
	e.u64(a.Dev)
	e.u64(a.Rdev)
	e.bool(a.ReadOnly)
	e.bool(a.Live)
}

func (d *decoder) attr() Attr {
	var a Attr
	a.Kind = Kind(d.u8())
	a.Mode = d.u32()
	a.UID = d.u32()
	a.GID = d.u32()
	a.Nlink = d.u64()
	a.Size = int64(d.u64())
	a.Blocks = int64(d.u64())
	a.BlkSize = int32(d.u32())
	a.Atime, a.Mtime, a.Ctime = d.timespec(), d.timespec(), d.timespec()
	a.Ino = d.u64()
	a.Dev = d.u64()
	a.Rdev = d.u64()
	a.ReadOnly = d.u8() != 0
	a.Live = d.u8() != 0
	return a
}
