package kernel

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The memory limit ([resources] memory).
//
// Every page of app memory — private and shared, tmpfs and /dev/shm, System V segments,
// shared pages of host files — lives in the sandbox's memory file, so its allocated blocks
// are the sandbox's memory in use. App stores fill pages without the kernel hearing of it
// (the memory file is mapped into the stubs), so a watcher samples the file: beyond the
// limit it first drops the page cache's unused entries (clean file pages), then kills the
// process with the largest resident set with SIGKILL, as Linux's OOM
// killer does in a memory cgroup, reports it (OOMKills, the OnOOM hook) and waits for the
// victim's memory to be freed (its pages are punched out of the file, so the host gets
// them back) before it looks again. The kernel's own memory and the stubs are not counted.

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

// memWatchInterval is how often the watcher samples the sandbox's memory. An app writing
// fresh memory as fast as it can gets this long past the limit before it is killed.
const memWatchInterval = 10 * time.Millisecond

// oomState is the record of OOM kills.
type oomState struct {
	mu sync.Mutex
	// kills lists every OOM kill so far. protected by mu
	kills []OOMKill
}

// OOMKills returns every OOM kill so far.
func (k *Kernel) OOMKills() []OOMKill {
	k.oom.mu.Lock()
	defer k.oom.mu.Unlock()
	return append([]OOMKill(nil), k.oom.kills...)
}

// WatchMemory enforces limit (bytes) on the sandbox's memory until the kernel is done;
// onKill, if set, is told of each kill.
func (k *Kernel) WatchMemory(limit int64, onKill func(OOMKill)) {
	if limit <= 0 || k.MemoryFile == nil {
		return
	}
	tick := time.NewTicker(memWatchInterval)
	defer tick.Stop()
	for {
		select {
		case <-k.done:
			return
		case <-tick.C:
		}
		used := k.MemoryFile.Resident()
		if used <= limit {
			continue
		}
		// Clean cache first: file pages no mapping uses read back from the file.
		if k.MemoryFile.PageCache().DropUnused() > 0 {
			if used = k.MemoryFile.Resident(); used <= limit {
				continue
			}
		}
		victim, rss := k.oomVictim(uint64(limit) / 4096)
		if victim == nil {
			continue
		}
		kill := OOMKill{Time: time.Now(), PID: victim.PID, Comm: victim.Comm(), RSS: rss, Used: used, Limit: limit}
		k.SignalGroup(victim, unix.SIGKILL)
		k.oom.mu.Lock()
		k.oom.kills = append(k.oom.kills, kill)
		k.oom.mu.Unlock()
		if onKill != nil {
			onKill(kill)
		}
		// Give the victim time to die and its memory to go before choosing again.
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) && (victim.MM() != nil || k.MemoryFile.Resident() > limit) {
			select {
			case <-k.done:
				return
			case <-time.After(memWatchInterval):
			}
		}
	}
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
