package kernel

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The memory limit ([resources] memory).
//
// Every page of app memory — private and shared, tmpfs and /dev/shm, System V segments,
// shared pages of host files — lives in the sandbox's memory file (or in a host memfd it
// counts, mm.MemoryFile.Resident), so its allocated blocks are the sandbox's memory in
// use, each page once however many processes map it. Beyond the limit the kernel first
// drops the page cache's unused entries (clean file pages), then kills the process with
// the largest resident set with SIGKILL, as Linux's OOM killer does in a memory cgroup,
// reports it (OOMKills, the OnOOM hook) and chooses no other until the victim has exited
// (its pages are punched out of the file, so the host gets them back). Where the limit is
// checked is WatchMemory's comment. The kernel's own memory and the stubs are not counted.

// oom_score_adj (proc(5)): -1000 (never chosen) .. 1000, added to a process's badness in
// thousandths of the memory available. It is per process, inherited at fork, kept at exec.
// Anyone who may write the file may raise it; lowering it below oomScoreAdjMin takes
// CAP_SYS_RESOURCE, and a writer holding that capability moves the minimum too (Linux's
// oom_score_adj_min). The legacy oom_adj (-17..15) maps onto it.
const (
	oomScoreAdjMin = -1000
	oomScoreAdjMax = 1000
	oomAdjDisable  = -17 // OOM_DISABLE
	oomAdjMin      = -16
	oomAdjMax      = 15
)

// OOMScoreAdj returns the process's oom_score_adj.
func (tg *ThreadGroup) OOMScoreAdj() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return int(tg.oomScoreAdj)
}

// OOMAdj returns the legacy /proc/PID/oom_adj value, scaled from oom_score_adj as Linux
// does (oom_adj_read).
func (tg *ThreadGroup) OOMAdj() int {
	adj := tg.OOMScoreAdj()
	if adj == oomScoreAdjMax {
		return oomAdjMax
	}
	return adj * -oomAdjDisable / oomScoreAdjMax
}

// SetOOMScoreAdj implements a write of v to /proc/PID/oom_score_adj (legacy: of the
// oom_adj value v to /proc/PID/oom_adj) by a writer that holds CAP_SYS_RESOURCE or not:
// EINVAL out of range, EACCES when lowering it needs the capability.
func (tg *ThreadGroup) SetOOMScoreAdj(v int, legacy, capSysResource bool) error {
	if legacy {
		if (v < oomAdjMin || v > oomAdjMax) && v != oomAdjDisable {
			return unix.EINVAL
		}
		if v == oomAdjMax {
			v = oomScoreAdjMax
		} else {
			v = v * oomScoreAdjMax / -oomAdjDisable
		}
	} else if v < oomScoreAdjMin || v > oomScoreAdjMax {
		return unix.EINVAL
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.zombie {
		return unix.ESRCH
	}
	floor := tg.oomScoreAdjMin
	if legacy {
		floor = tg.oomScoreAdj // oom_adj: any lowering takes the capability
	}
	if int16(v) < floor && !capSysResource {
		return unix.EACCES
	}
	tg.oomScoreAdj = int16(v)
	if !legacy && capSysResource {
		tg.oomScoreAdjMin = int16(v)
	}
	return nil
}

// OOMBadness is Linux's oom_badness for a process with rss bytes resident when totalPages
// pages are available: its pages plus oom_score_adj thousandths of totalPages, and ok false
// for a process the OOM killer never chooses (oom_score_adj -1000).
func OOMBadness(rss uint64, adj int, totalPages uint64) (points int64, ok bool) {
	if adj == oomScoreAdjMin {
		return 0, false
	}
	return int64(rss/4096) + int64(adj)*int64(totalPages/1000), true // as Linux rounds it
}

// OOMScore is /proc/PID/oom_score as Linux computes it (proc_oom_score): the badness scaled
// into 0..2000 of the memory available, 0 for a process never chosen.
func OOMScore(rss uint64, adj int, totalPages uint64) int64 {
	b, ok := OOMBadness(rss, adj, totalPages)
	if !ok || totalPages == 0 {
		return 0
	}
	return (1000 + b*1000/int64(totalPages)) * 2 / 3
}

// OOMKill is one process killed by the memory limit.
type OOMKill struct {
	Time time.Time `json:"time"`
	PID  int32     `json:"pid"`
	Comm string    `json:"comm"`
	// RSS is the victim's resident memory; Used the sandbox's when it was chosen; Limit the limit.
	RSS   uint64 `json:"rss"`
	Used  int64  `json:"used"`
	Limit int64  `json:"limit"`
}

// memWatchInterval is how often the watcher samples the sandbox's memory, for memory that
// grows without a fault (see chargeFault).
const memWatchInterval = 10 * time.Millisecond

// oomVictimWait bounds how long a victim that has not exited yet keeps the OOM killer from
// choosing another (Linux's OOM reaper gives up on a victim's exit likewise).
const oomVictimWait = 2 * time.Second

// oomState is the record of OOM kills and the victim dying.
type oomState struct {
	// limit is the memory limit WatchMemory enforces (0: none), read on every fault.
	limit atomic.Int64

	mu sync.Mutex
	// kills lists every OOM kill so far. protected by mu
	kills []OOMKill
	// victim is the process killed last, and when, until it has exited (its address space
	// released, its pages punched out of the memory file): while it dies no other process
	// is chosen, as Linux's OOM killer waits for a victim (tsk_is_oom_victim) rather than
	// kill a second one for memory the first is about to give back. protected by mu
	victim   *ThreadGroup
	victimAt time.Time
	// settled is the sandbox's memory when the last victim was found gone while it was
	// still over its limit (memory others share with it stayed): no one is killed again
	// until memory grows past it, as on Linux memory in use kills no one until a process
	// asks for more (a fault that fills no new page, or a few, may pass here where Linux
	// would fail its charge). 0 once under the limit. protected by mu
	settled int64
	// onKill is WatchMemory's hook. protected by mu
	onKill func(OOMKill)
}

// OOMKills returns every OOM kill so far.
func (k *Kernel) OOMKills() []OOMKill {
	k.oom.mu.Lock()
	defer k.oom.mu.Unlock()
	return append([]OOMKill(nil), k.oom.kills...)
}

// WatchMemory enforces limit (bytes) on the sandbox's memory until the kernel is done;
// onKill, if set, is told of each kill.
//
// The limit is checked where app memory grows through the kernel: at every app fault (a
// chunk's first touch, a copy-on-write break, a file page filled), the faulting task finds
// the sandbox over its limit, makes room (reclaim) and waits for the victim to exit before
// it goes on, as a task charging a Linux memory cgroup waits for the OOM victim. So an app
// faulting in fresh memory gets at most about one chunk (4 MiB) per running thread past
// the limit. Pages filled without a fault (the rest of a chunk already touched, stores into
// memory mapped earlier) and kernel writes for syscalls (tmpfs writes) are caught by
// sampling every memWatchInterval.
func (k *Kernel) WatchMemory(limit int64, onKill func(OOMKill)) {
	if limit <= 0 || k.MemoryFile == nil {
		return
	}
	k.oom.mu.Lock()
	k.oom.onKill = onKill
	k.oom.mu.Unlock()
	k.oom.limit.Store(limit)
	tick := time.NewTicker(memWatchInterval)
	defer tick.Stop()
	for {
		select {
		case <-k.done:
			return
		case <-tick.C:
		}
		k.reclaim(limit)
	}
}

// chargeFault is the memory limit's check at an app fault (see WatchMemory): over the
// limit, the task makes room and waits until the victim has exited, it is itself killed, a
// signal interrupts it (it handles the signal and faults again), or the sandbox is back
// under its limit.
func (t *Task) chargeFault() {
	k := t.k
	limit := k.oom.limit.Load()
	if limit <= 0 {
		return
	}
	for !t.Interrupted() {
		exited := k.reclaim(limit)
		if exited == nil {
			return
		}
		select {
		case <-exited:
		default:
			_ = t.Block(time.Now().Add(time.Millisecond)) // no waker: the victim's exit is polled
		}
	}
}

// reclaim brings the sandbox back under limit if it is over: it first drops the page
// cache's unused entries (clean file pages), then kills the process with the largest
// resident set with SIGKILL, as Linux's OOM killer does in a memory cgroup, and reports it
// (OOMKills, the onKill hook). It returns the victim's Exited channel, for a caller that
// waits, nil when the sandbox is within its limit, no process can be chosen, or no memory
// was asked for since the last victim's exit left the sandbox over it (oomState.settled).
func (k *Kernel) reclaim(limit int64) <-chan struct{} {
	if k.MemoryFile.Resident() <= limit {
		k.oom.mu.Lock()
		k.oom.settled = 0
		k.oom.mu.Unlock()
		return nil
	}
	k.oom.mu.Lock()
	if v := k.oom.victim; v != nil {
		select {
		case <-v.exited:
			k.oom.victim = nil
			k.oom.settled = k.MemoryFile.Resident()
		default:
			if time.Since(k.oom.victimAt) < oomVictimWait {
				k.oom.mu.Unlock()
				return v.exited
			}
			k.oom.victim = nil // stuck: another may be chosen
		}
	}
	used := k.MemoryFile.Resident() // again: the victim's exit may have brought it back
	if used > limit && k.MemoryFile.PageCache().DropUnused() > 0 {
		used = k.MemoryFile.Resident()
	}
	if used <= limit || used <= k.oom.settled {
		k.oom.mu.Unlock()
		return nil
	}
	victim, rss := k.oomVictim(uint64(limit) / 4096)
	if victim == nil {
		k.oom.mu.Unlock()
		return nil
	}
	kill := OOMKill{Time: time.Now(), PID: victim.PID, Comm: victim.Comm(), RSS: rss, Used: used, Limit: limit}
	k.oom.kills = append(k.oom.kills, kill)
	k.oom.victim, k.oom.victimAt = victim, kill.Time
	onKill := k.oom.onKill
	k.SignalGroup(victim, unix.SIGKILL)
	k.oom.mu.Unlock()
	if onKill != nil {
		onKill(kill)
	}
	return victim.exited
}

// oomVictim returns the live process the OOM killer chooses, as Linux's select_bad_process
// does in a memory cgroup of totalPages pages: the highest badness (resident pages plus
// oom_score_adj), never one whose oom_score_adj is -1000; and its resident set.
func (k *Kernel) oomVictim(totalPages uint64) (*ThreadGroup, uint64) {
	var best *ThreadGroup
	var bestRSS uint64
	var bestPoints int64
	seen := map[any]bool{}
	for _, tg := range k.Groups() {
		if tg.Zombie() {
			continue
		}
		m := tg.MM()
		if m == nil || seen[m] {
			continue // a vfork child shares its parent's memory: count it once
		}
		seen[m] = true
		r := m.Resident().Total()
		points, ok := OOMBadness(r, tg.OOMScoreAdj(), totalPages)
		if !ok {
			continue
		}
		if best == nil || points > bestPoints {
			best, bestRSS, bestPoints = tg, r, points
		}
	}
	return best, bestRSS
}
