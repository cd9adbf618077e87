package kernel

import (
	"math/bits"

	"golang.org/x/sys/unix"
)

// sigRTMin is the first real-time signal: from it on, signals queue (each send is one
// more delivery); below it a signal already pending absorbs another one.
const sigRTMin = 32

// maxQueued bounds the instances of one real-time signal waiting (RLIMIT_SIGPENDING's
// role); further ones are dropped.
const maxQueued = 4096

// pendingSet is the signals pending for a process or a thread, with their SigInfo.
type pendingSet struct {
	mask  uint64
	infos [65][]SigInfo
}

// add records sig with info.
func (p *pendingSet) add(sig unix.Signal, info SigInfo) {
	bit := uint64(1) << (sig - 1)
	switch {
	case p.mask&bit == 0:
		p.infos[sig] = append(p.infos[sig][:0], info)
	case sig >= sigRTMin && len(p.infos[sig]) < maxQueued:
		p.infos[sig] = append(p.infos[sig], info)
	}
	p.mask |= bit
}

// take removes the first instance of the lowest signal in set.
func (p *pendingSet) take(set uint64) (unix.Signal, SigInfo, bool) {
	m := p.mask & set
	if m == 0 {
		return 0, SigInfo{}, false
	}
	sig := bits.TrailingZeros64(m) + 1
	q := p.infos[sig]
	var info SigInfo
	if len(q) > 0 {
		info, q = q[0], q[1:]
	}
	p.infos[sig] = q
	if len(q) == 0 {
		p.mask &^= 1 << (sig - 1)
	}
	return unix.Signal(sig), info, true
}

// drop discards every instance of the signals in set.
func (p *pendingSet) drop(set uint64) {
	for m := p.mask & set; m != 0; m &= m - 1 {
		p.infos[bits.TrailingZeros64(m)+1] = nil
	}
	p.mask &^= set
}

// dropTimer discards POSIX timer id's queued sig, if any.
func (p *pendingSet) dropTimer(sig unix.Signal, id int32) {
	q := p.infos[sig]
	for i := range q {
		if q[i].Code == SITimer && q[i].TimerID == id {
			q = append(q[:i:i], q[i+1:]...)
			p.infos[sig] = q
			if len(q) == 0 {
				p.mask &^= 1 << (sig - 1)
			}
			return
		}
	}
}

// timerInfo returns the pending instance of POSIX timer id's signal, if any (a timer has
// at most one signal queued: further expiries count as overruns).
func (p *pendingSet) timerInfo(sig unix.Signal, id int32) *SigInfo {
	for i := range p.infos[sig] {
		if in := &p.infos[sig][i]; in.Code == SITimer && in.TimerID == id {
			return in
		}
	}
	return nil
}
