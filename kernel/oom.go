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
		victim, rss := k.largestProcess()
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

// largestProcess returns the live process with the largest resident set.
func (k *Kernel) largestProcess() (*ThreadGroup, uint64) {
	var best *ThreadGroup
	var bestRSS uint64
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
		if r := m.Resident().Total(); best == nil || r > bestRSS {
			best, bestRSS = tg, r
		}
	}
	return best, bestRSS
}
