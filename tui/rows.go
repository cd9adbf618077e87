// Package tui is `sbx top`: a live table of running sandboxes (bubbletea), with a detail
// view, sorting, filtering and kill; and the plain snapshot `sbx top --once` and `sbx list`
// print. Data comes from the sandboxes' control sockets through a Fetcher.
package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sbx-dev/sbx/launcher/control"
)

// Sandbox is one row's data.
type Sandbox struct {
	Info  control.Info
	Stats control.Stats
	Tree  []control.Process
	// Connections are the detail view's network connections.
	Connections []control.Connection
	Err         string
}

// Fetcher gets the current sandboxes.
type Fetcher interface {
	Fetch(detail string) ([]Sandbox, error) // detail: ID whose tree to fetch too ("" none)
	Kill(id string) error
}

// Columns of the table.
var Columns = []string{"ID", "NAME", "PROFILE", "PLATFORM", "PID", "TASKS", "CPU", "MEM", "SYSC/S", "DENY", "UPTIME"}

// FormatBytes renders a size the way top does.
func FormatBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.0fK", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%dB", b)
}

// FormatDuration renders an uptime or CPU time compactly.
func FormatDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// FormatMemory is a sandbox's memory in use, with its limit when it has one.
func FormatMemory(s control.Stats) string {
	if s.MemoryLimit <= 0 {
		return FormatBytes(s.MemoryBytes)
	}
	return FormatBytes(s.MemoryBytes) + " of " + FormatBytes(s.MemoryLimit)
}

// Denials sums a sandbox's denials.
func Denials(s control.Stats) uint64 {
	var n uint64
	for _, v := range s.Denials {
		n += v
	}
	return n
}

// Row formats one sandbox as table cells.
func Row(s Sandbox, now time.Time) []string {
	return []string{s.Info.ID, s.Info.Name, s.Info.Profile, s.Info.Platform, fmt.Sprint(s.Info.KernelPID),
		fmt.Sprint(s.Stats.Tasks), FormatDuration(time.Duration(s.Stats.CPUNanos)), FormatBytes(s.Stats.MemoryBytes),
		fmt.Sprintf("%.0f", s.Stats.SyscallsPerSec), fmt.Sprint(Denials(s.Stats)), FormatDuration(now.Sub(s.Info.Started))}
}

// Sort orders sandboxes by key: "cpu", "mem", "sys", "deny" (descending) or "" (start time).
func Sort(ss []Sandbox, key string) {
	sort.SliceStable(ss, func(i, j int) bool {
		a, b := ss[i].Stats, ss[j].Stats
		switch key {
		case "cpu":
			return a.CPUNanos > b.CPUNanos
		case "mem":
			return a.MemoryBytes > b.MemoryBytes
		case "sys":
			return a.SyscallsPerSec > b.SyscallsPerSec
		case "deny":
			return Denials(a) > Denials(b)
		}
		return ss[i].Info.Started.Before(ss[j].Info.Started)
	})
}

// Filter keeps sandboxes whose ID, name, profile or command contains f.
func Filter(ss []Sandbox, f string) []Sandbox {
	if f == "" {
		return ss
	}
	var out []Sandbox
	for _, s := range ss {
		hay := strings.ToLower(strings.Join(append([]string{s.Info.ID, s.Info.Name, s.Info.Profile}, s.Info.Argv...), " "))
		if strings.Contains(hay, strings.ToLower(f)) {
			out = append(out, s)
		}
	}
	return out
}

// Table renders rows as aligned plain text (sbx list, sbx top --once).
func Table(ss []Sandbox, now time.Time) string {
	rows := [][]string{Columns}
	for _, s := range ss {
		rows = append(rows, Row(s, now))
	}
	return align(rows, "  ")
}

func align(rows [][]string, sep string) string {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
			} else {
				fmt.Fprintf(&b, "%-*s%s", widths[i], c, sep)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// ConnRow formats one network connection: protocol, state, local and remote addresses
// (with the names the remote resolved for), bytes in and out.
func ConnRow(c control.Connection) string {
	remote := c.Remote
	if remote == "" {
		remote = "-"
	}
	if len(c.Names) > 0 {
		remote += " (" + strings.Join(c.Names, ", ") + ")"
	}
	where := ""
	if c.Private {
		where = "  [sandbox loopback]"
	}
	return fmt.Sprintf("  %-5s %-11s %-22s → %s  in %s out %s%s", c.Proto, c.State, c.Local, remote,
		FormatBytes(int64(c.BytesIn)), FormatBytes(int64(c.BytesOut)), where)
}
