package oci

// Event is one line of `events`: runc's event JSON (libcontainer's types.Event), so that
// tools reading runc's events read sbx's.
type Event struct {
	Type string      `json:"type"`
	ID   string      `json:"id"`
	Data *EventStats `json:"data,omitempty"`
}

// EventStats is runc's stats event data; sbx fills what its kernel counts (CPU time,
// memory in use against the limit, processes against the limit) and leaves the rest
// empty.
type EventStats struct {
	CPU               eventCPU            `json:"cpu"`
	CPUSet            struct{}            `json:"cpuset"`
	Memory            eventMemory         `json:"memory"`
	Pids              eventPids           `json:"pids"`
	Blkio             struct{}            `json:"blkio"`
	Hugetlb           map[string]struct{} `json:"hugetlb"`
	IntelRdt          struct{}            `json:"intel_rdt"`
	NetworkInterfaces []struct{}          `json:"network_interfaces"`
}

type eventCPU struct {
	Usage struct {
		Total  uint64 `json:"total,omitempty"`
		Kernel uint64 `json:"kernel"`
		User   uint64 `json:"user"`
	} `json:"usage"`
	Throttling struct{} `json:"throttling"`
}

type eventMemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type eventMemory struct {
	Usage eventMemoryEntry `json:"usage,omitempty"`
	Swap  eventMemoryEntry `json:"swap,omitempty"`
}

type eventPids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// StatsEvent is u as runc's stats event of container id. The app's CPU time counts as
// user time (the kernel does not split it); an OOM kill inside counts as a failure to
// stay under the limit.
func StatsEvent(id string, u *Usage) Event {
	var s EventStats
	s.CPU.Usage.Total = uint64(max(u.CPUNanos, 0))
	s.CPU.Usage.User = s.CPU.Usage.Total
	s.Memory.Usage = eventMemoryEntry{Limit: uint64(max(u.MemoryLimit, 0)), Usage: uint64(max(u.MemoryBytes, 0)), Failcnt: uint64(u.OOMKills)}
	s.Pids = eventPids{Current: uint64(max(u.Tasks, 0)), Limit: uint64(max(u.TaskLimit, 0))}
	return Event{Type: "stats", ID: id, Data: &s}
}
