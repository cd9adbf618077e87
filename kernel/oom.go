package kernel

import (
	"maps"
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
// killer does in a memory cgroup, reports it (OOMKills, the OnOOM hook) and looks again as
// soon as the victim's memory is freed (its pages are punched out of the file, so the host
// gets them back), or earlier if the sandbox keeps growing meanwhile (oomSlack). The kernel's own memory and the stubs are not counted.

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

// While a victim dies the watcher samples more often (memWatchDying), and re-checks at once
// when a process's memory has been released; it chooses another victim as soon as the
// victim's memory is gone and the sandbox is still over its limit, or, before that, when the
// sandbox grows past the limit by more than oomSlack (other processes still allocating: Linux
// would make them wait for the victim; here they run on, so their growth is bounded instead).
// A victim whose memory is not back after oomVictimWait no longer holds the killer back.
const (
	memWatchDying = 2 * time.Millisecond
	oomVictimWait = 2 * time.Second
)

// oomSlack is how far past limit the sandbox may grow while a victim dies: a sixteenth of
// the limit, at least 8 MiB.
func oomSlack(limit int64) int64 { return max(limit/16, 8<<20) }

// oomState is the record of OOM kills and the victims still dying.
type oomState struct {
	mu sync.Mutex
	// kills lists every OOM kill so far. protected by mu
	kills []OOMKill
	// dying are the victims killed whose memory is not released yet, with when they were
	// killed. protected by mu
	dying map[*ThreadGroup]time.Time
	// released, once the watcher runs, gets a token (never blocking) whenever a process's
	// memory has been released. protected by mu
	released chan struct{}
}

// OOMKills returns every OOM kill so far.
func (k *Kernel) OOMKills() []OOMKill {
	k.oom.mu.Lock()
	defer k.oom.mu.Unlock()
	return append([]OOMKill(nil), k.oom.kills...)
}

// noteMemoryReleased is called once tg's memory has been released (its exit dropped the
// last user of its address space): a dying victim no longer holds the killer back.
func (k *Kernel) noteMemoryReleased(tg *ThreadGroup) {
	k.oom.mu.Lock()
	delete(k.oom.dying, tg)
	ch := k.oom.released
	k.oom.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// WatchMemory enforces limit (bytes) on the sandbox's memory until the kernel is done;
// onKill, if set, is told of each kill.
func (k *Kernel) WatchMemory(limit int64, onKill func(OOMKill)) {
	if limit <= 0 || k.MemoryFile == nil {
		return
	}
	released := make(chan struct{}, 1)
	k.oom.mu.Lock()
	k.oom.released = released
	k.oom.dying = map[*ThreadGroup]time.Time{}
	k.oom.mu.Unlock()
	slack := oomSlack(limit)
	timer := time.NewTimer(memWatchInterval)
	defer timer.Stop()
	for {
		select {
		case <-k.done:
			return
		case <-timer.C:
		case <-released:
			timer.Stop()
		}
		dying := k.pruneDying()
		if dying > 0 {
			timer.Reset(memWatchDying)
		} else {
			timer.Reset(memWatchInterval)
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
		if dying > 0 && used <= limit+slack {
			continue // the victim's memory is on its way back
		}
		victim, rss := k.oomVictim(uint64(limit) / 4096)
		if victim == nil {
			continue
		}
		kill := OOMKill{Time: time.Now(), PID: victim.PID, Comm: victim.Comm(), RSS: rss, Used: used, Limit: limit}
		k.oom.mu.Lock()
		k.oom.dying[victim] = kill.Time
		k.oom.kills = append(k.oom.kills, kill)
		k.oom.mu.Unlock()
		k.SignalGroup(victim, unix.SIGKILL)
		if onKill != nil {
			onKill(kill)
		}
		timer.Reset(memWatchDying)
	}
}

// pruneDying forgets the victims that are gone (their memory released before they became
// zombies) or that have held the killer back for oomVictimWait, and returns how many are
// left.
func (k *Kernel) pruneDying() int {
	k.oom.mu.Lock()
	defer k.oom.mu.Unlock()
	for tg, at := range k.oom.dying {
		if tg.Zombie() || time.Since(at) > oomVictimWait {
			delete(k.oom.dying, tg)
		}
	}
	return len(k.oom.dying)
}

// oomVictim returns the live process the OOM killer chooses, as Linux's select_bad_process
// does in a memory cgroup of totalPages pages: the highest badness (resident pages plus
// oom_score_adj), never one whose oom_score_adj is -1000; and its resident set.
func (k *Kernel) oomVictim(totalPages uint64) (*ThreadGroup, uint64) {
	var best *ThreadGroup
	var bestRSS uint64
	var bestPoints int64
	seen := map[any]bool{}
	k.oom.mu.Lock()
	dying := maps.Clone(k.oom.dying)
	k.oom.mu.Unlock()
	for _, tg := range k.Groups() {
		if tg.Zombie() {
			continue
		}
		if _, ok := dying[tg]; ok {
			continue // killed already
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
