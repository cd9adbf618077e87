package procfs

import (
	"fmt"
	"strings"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/mm"
)

// Memory figures: the sandbox is the machine, its memory limit the RAM (kernel.MemInfo);
// a process's sizes come from its VMAs and the pages of the memory file behind them.

// meminfo is /proc/meminfo with Linux 6.x's fields: the sandbox's memory (kernel.MemInfo);
// what the sandbox cannot know (slab, page tables, ...) reads 0.
func (p *proc) meminfo() string {
	mi := p.k.MemInfo()
	kb := func(v uint64) uint64 { return v / 1024 }
	total, free, cached, shmem := kb(mi.Total), kb(mi.Free), kb(mi.Cached), kb(mi.Shmem)
	anon := kb(mi.Used) - min(kb(mi.Used), cached+shmem)
	rows := []struct {
		name string
		v    uint64
	}{
		{"MemTotal", total}, {"MemFree", free}, {"MemAvailable", kb(mi.Available)}, {"Buffers", 0}, {"Cached", cached + shmem},
		{"SwapCached", 0}, {"Active", anon + shmem + cached}, {"Inactive", 0}, {"Active(anon)", anon + shmem}, {"Inactive(anon)", 0},
		{"Active(file)", cached}, {"Inactive(file)", 0}, {"Unevictable", 0}, {"Mlocked", 0},
		{"SwapTotal", kb(mi.SwapTotal)}, {"SwapFree", kb(mi.SwapFree)}, {"Zswap", 0}, {"Zswapped", 0},
		{"Dirty", 0}, {"Writeback", 0}, {"AnonPages", anon}, {"Mapped", cached}, {"Shmem", shmem},
		{"KReclaimable", 0}, {"Slab", 0}, {"SReclaimable", 0}, {"SUnreclaim", 0}, {"KernelStack", 0},
		{"PageTables", 0}, {"SecPageTables", 0}, {"NFS_Unstable", 0}, {"Bounce", 0}, {"WritebackTmp", 0},
		{"CommitLimit", total / 2}, {"Committed_AS", anon}, {"VmallocTotal", 34359738367}, {"VmallocUsed", 0},
		{"VmallocChunk", 0}, {"Percpu", 0}, {"AnonHugePages", 0}, {"ShmemHugePages", 0}, {"ShmemPmdMapped", 0},
		{"FileHugePages", 0}, {"FilePmdMapped", 0}, {"Balloon", 0},
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-16s%8d kB\n", r.name+":", r.v)
	}
	b.WriteString("HugePages_Total:       0\nHugePages_Free:        0\nHugePages_Rsvd:        0\nHugePages_Surp:        0\n")
	b.WriteString("Hugepagesize:       2048 kB\nHugetlb:               0 kB\n")
	fmt.Fprintf(&b, "DirectMap4k:    %8d kB\nDirectMap2M:    %8d kB\nDirectMap1G:    %8d kB\n", total, 0, 0)
	return b.String()
}

// memStats returns tg's sizes (zero once it exited).
func memStats(tg *kernel.ThreadGroup) mm.Stats {
	if m := tg.MM(); m != nil {
		return m.Stats()
	}
	return mm.Stats{}
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
