package procfs

import (
	"fmt"
	"strings"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/mm"
)

// Memory figures: the sandbox is the machine, its memory limit the RAM (kernel.MemInfo);
// a process's sizes come from its VMAs and the pages of the memory file behind them.

func (p *proc) meminfo() string {
	mi := p.k.MemInfo()
	var b strings.Builder
	row := func(name string, bytes uint64) { fmt.Fprintf(&b, "%-16s%8d kB\n", name+":", bytes/1024) }
	row("MemTotal", mi.Total)
	row("MemFree", mi.Free)
	row("MemAvailable", mi.Available)
	row("Buffers", 0)
	row("Cached", mi.Cached)
	row("SwapCached", 0)
	row("SwapTotal", mi.SwapTotal)
	row("SwapFree", mi.SwapFree)
	row("Shmem", 0)
	return b.String()
}

// memStats returns tg's sizes (zero once it exited).
func memStats(tg *kernel.ThreadGroup) mm.Stats {
	if m := tg.MM(); m != nil {
		return m.Stats()
	}
	return mm.Stats{}
}

// statusMemory is the memory part of /proc/PID/status.
func statusMemory(s mm.Stats) string {
	var b strings.Builder
	row := func(name string, bytes uint64) { fmt.Fprintf(&b, "%s:\t%8d kB\n", name, bytes/1024) }
	row("VmPeak", s.Size)
	row("VmSize", s.Size)
	row("VmLck", 0)
	row("VmPin", 0)
	row("VmHWM", s.RSS.Total())
	row("VmRSS", s.RSS.Total())
	row("RssAnon", s.RSS.Anon)
	row("RssFile", s.RSS.File)
	row("RssShmem", s.RSS.Shmem)
	row("VmData", s.Data)
	row("VmStk", s.Stack)
	row("VmExe", s.Exec)
	row("VmLib", 0)
	row("VmPTE", 0)
	row("VmSwap", 0)
	return b.String()
}

// statm is /proc/PID/statm: size resident shared text lib data dt, in pages.
func statm(s mm.Stats) string {
	return fmt.Sprintf("%d %d %d %d 0 %d 0\n", s.Size/mm.PageSize, s.RSS.Total()/mm.PageSize,
		(s.RSS.File+s.RSS.Shmem)/mm.PageSize, s.Exec/mm.PageSize, (s.Data+s.Stack)/mm.PageSize)
}

// smapsRollup is /proc/PID/smaps_rollup: the process's memory summed over its mappings.
// Pages shared copy-on-write or through the page cache count whole in each process (Pss
// equals Rss).
func smapsRollup(tg *kernel.ThreadGroup) string {
	m := tg.MM()
	if m == nil {
		return ""
	}
	lo, hi := m.Span()
	s := m.Stats()
	var b strings.Builder
	fmt.Fprintf(&b, "%08x-%08x ---p 00000000 00:00 0%s[rollup]\n", lo, hi, strings.Repeat(" ", 26))
	row := func(name string, bytes uint64) { fmt.Fprintf(&b, "%-16s%8d kB\n", name+":", bytes/1024) }
	rss := s.RSS.Total()
	row("Rss", rss)
	row("Pss", rss)
	row("Pss_Dirty", s.RSS.Anon+s.RSS.Shmem)
	row("Pss_Anon", s.RSS.Anon)
	row("Pss_File", s.RSS.File)
	row("Pss_Shmem", s.RSS.Shmem)
	row("Shared_Clean", 0)
	row("Shared_Dirty", 0)
	row("Private_Clean", s.RSS.File)
	row("Private_Dirty", s.RSS.Anon+s.RSS.Shmem)
	row("Referenced", rss)
	row("Anonymous", s.RSS.Anon)
	for _, z := range []string{"KSM", "LazyFree", "AnonHugePages", "ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb",
		"Private_Hugetlb", "Swap", "SwapPss", "Locked"} {
		row(z, 0)
	}
	return b.String()
}
