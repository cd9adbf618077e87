package gofer

import (
	"sync/atomic"
	"time"
)

// Request counters: how many requests of each op a client sent, how many failed, and the
// time from sending each to its reply (the round trip the kernel waits for). They cost two
// atomic adds and a clock read per request, so they are always on; `sbx run
// --strace=summary` prints them.

var opNames = [opMax]string{
	OpAttach: "attach", OpWalk: "walk", OpStat: "stat", OpStatFS: "statfs", OpOpen: "open",
	OpCreate: "create", OpMkdir: "mkdir", OpMknod: "mknod", OpSymlink: "symlink", OpLink: "link",
	OpUnlink: "unlink", OpRename: "rename", OpReadlink: "readlink", OpSetAttr: "setattr",
	OpGetdents: "getdents", OpGetxattr: "getxattr", OpListxattr: "listxattr", OpSetxattr: "setxattr",
	OpClose: "close", OpGrow: "grow", OpRemovexattr: "removexattr", OpWatch: "watch", OpUnwatch: "unwatch",
}

// String returns the op's name.
func (o Op) String() string {
	if o < opMax && opNames[o] != "" {
		return opNames[o]
	}
	return "op?"
}

type opCounter struct {
	calls, errors, nanos atomic.Uint64
}

// OpCount is what a client counted for one op.
type OpCount struct {
	Op            Op
	Calls, Errors uint64
	Time          time.Duration
}

func (c *Client) count(op Op, start time.Time, failed bool) {
	if op >= opMax {
		return
	}
	s := &c.stats[op]
	s.calls.Add(1)
	if failed {
		s.errors.Add(1)
	}
	s.nanos.Add(uint64(time.Since(start)))
}

// Stats returns the counters of every op the client sent at least once.
func (c *Client) Stats() []OpCount {
	var out []OpCount
	for op := Op(1); op < opMax; op++ {
		s := &c.stats[op]
		if n := s.calls.Load(); n > 0 {
			out = append(out, OpCount{Op: op, Calls: n, Errors: s.errors.Load(), Time: time.Duration(s.nanos.Load())})
		}
	}
	return out
}
