package platform

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
)

// HostSyscall is a host system call a platform makes from the kernel process (or that its
// stubs, which inherit the kernel's seccomp filter, make before confining themselves).
type HostSyscall struct {
	Nr     uintptr
	Reason string
}

// Constructor describes one registered platform.
type Constructor struct {
	// Name is what --platform and [kernel] platform say.
	Name string
	// New builds the platform over the sandbox's memory file.
	New func(memFile *os.File) (Platform, error)
	// Probe reports whether the platform can run on this host: nil, or why not.
	Probe func() error
	// AutoRank orders the platforms `auto` tries, highest first; 0 never auto.
	AutoRank int
	// NotAuto says why a platform with AutoRank 0 is not picked (shown by --debug).
	NotAuto string
	// AutoCheck, when set, decides whether `auto` may pick the platform (nil) or not (why
	// not), in place of Probe: a platform that is only worth it on some hosts measures
	// itself there (kvm: faster than trap?), and says so.
	AutoCheck func() error
	// HostSyscalls are the host syscalls the platform needs beyond the kernel's own; the
	// kernel's seccomp allow-list is composed from them.
	HostSyscalls []HostSyscall
}

// The registry is written by the platform packages' init functions, then only read.
var (
	registryMu sync.Mutex
	registry   = map[string]Constructor{}
)

// Register adds a platform; platform packages call it from init.
func Register(c Constructor) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[c.Name]; dup {
		panic("platform: " + c.Name + " registered twice")
	}
	registry[c.Name] = c
}

// Names returns the registered platform names, sorted.
func Names() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the platform registered as name.
func Lookup(name string) (Constructor, bool) {
	registryMu.Lock()
	defer registryMu.Unlock()
	c, ok := registry[name]
	return c, ok
}

// Choice is the platform Resolve picked and why.
type Choice struct {
	Constructor
	// Why explains an automatic choice ("" when the platform was named).
	Why string
}

// Resolve turns a configured name ("auto" or "" for the best that works here, or a
// platform's name) into a platform.
func Resolve(name string) (Choice, error) {
	if name != "" && name != "auto" {
		c, ok := Lookup(name)
		if !ok {
			return Choice{}, fmt.Errorf("unknown platform %q (valid: auto, %s)", name, strings.Join(Names(), ", "))
		}
		if c.Probe != nil {
			if err := c.Probe(); err != nil {
				return Choice{}, fmt.Errorf("platform %s cannot run here: %w", name, err)
			}
		}
		return Choice{Constructor: c}, nil
	}
	registryMu.Lock()
	cands := make([]Constructor, 0, len(registry))
	var notes []string
	for _, c := range registry {
		if c.AutoRank > 0 {
			cands = append(cands, c)
		} else if c.NotAuto != "" {
			notes = append(notes, c.Name+": "+c.NotAuto)
		}
	}
	sort.Strings(notes)
	registryMu.Unlock()
	slices.SortFunc(cands, func(a, b Constructor) int { return b.AutoRank - a.AutoRank })
	var skipped []string
	for _, c := range cands {
		check := c.Probe
		if c.AutoCheck != nil {
			check = c.AutoCheck
		}
		if check != nil {
			if err := check(); err != nil {
				skipped = append(skipped, c.Name+": "+err.Error())
				continue
			}
		}
		why := "auto: the fastest platform available here"
		if len(skipped) > 0 {
			why = "auto: " + strings.Join(skipped, "; ")
		}
		if len(notes) > 0 {
			why += "; " + strings.Join(notes, "; ")
		}
		return Choice{Constructor: c, Why: why}, nil
	}
	return Choice{}, fmt.Errorf("no platform can run here (%s)", strings.Join(skipped, "; "))
}
