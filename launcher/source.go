package launcher

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/sbx-dev/sbx/kernel/sandbox"
	"github.com/sbx-dev/sbx/launcher/control"
)

// Live makes a running sandbox visible on its control socket.
type Live struct {
	sb       *Sandbox
	id, name string
	done     chan struct{}
	// l is the control socket's listener, closed (and the socket removed) by Close.
	l *net.UnixListener

	mu sync.Mutex
	// last stats sample, for syscalls/s. protected by mu
	lastCalls uint64
	lastAt    time.Time
	// events keeps recent events; subs are live subscribers. protected by mu
	events []control.Event
	subs   map[chan control.Event]struct{}
	// denials counts refusals by kind (file, network, dbus). protected by mu
	denials map[string]uint64
	// srv serves the control socket.
	srv *control.Server
	// oomSeen is how many of the kernel's OOM kills are published. protected by mu
	oomSeen int
	// diskSeen is how many disk-limit refusals are counted. protected by mu
	diskSeen uint64
}

// maxEvents bounds the events a sandbox remembers for new subscribers.
const maxEvents = 256

// Publish registers the sandbox under the control directory and serves its socket until
// the sandbox ends (call Close).
func (s *Sandbox) Publish() (*Live, error) {
	dir, err := control.Dir()
	if err != nil {
		return nil, err
	}
	id, name, l, err := control.Register(dir, s.Plan.App)
	if err != nil {
		return nil, err
	}
	lv := &Live{sb: s, id: id, name: name, l: l, done: make(chan struct{}), subs: map[chan control.Event]struct{}{}, denials: map[string]uint64{}}
	s.denialSink.Store(func(kind, detail string) {
		lv.mu.Lock()
		lv.denials[kind]++
		lv.mu.Unlock()
		lv.publish(control.Event{Time: time.Now(), Kind: "denial", Detail: kind + ": " + detail})
	})
	lv.publish(control.Event{Time: time.Now(), Kind: "exec", Detail: joinArgs(s.Plan.Argv)})
	if s.Plan.MemoryLimit > 0 || s.Plan.DiskLimit > 0 {
		go lv.watchLimits()
	}
	lv.srv = control.NewServer(lv, nil)
	go lv.srv.Serve(l)
	s.Plan.mark(s.stderr, "registered for sbx list/top")
	return lv, nil
}

func joinArgs(a []string) string {
	out := ""
	for i, s := range a {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out
}

// ID and Name identify the sandbox for sbx list/kill/top.
func (lv *Live) ID() string   { return lv.id }
func (lv *Live) Name() string { return lv.name }

// Close announces the exit and removes the socket.
func (lv *Live) Close(status int) {
	lv.publish(control.Event{Time: time.Now(), Kind: "exit", Detail: "status " + itoa(status)})
	lv.mu.Lock()
	for ch := range lv.subs {
		close(ch)
		delete(lv.subs, ch)
	}
	lv.mu.Unlock()
	// Why: the request that ended the sandbox (sbx kill) still gets its answer.
	lv.srv.Drain(time.Second)
	close(lv.done)
	// Why: closed here, not by a goroutine waiting for done, which sbx's exit often beat:
	// the socket then stayed behind, claiming the sandbox's name until found dead.
	lv.l.Close()
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	neg := i < 0
	if neg {
		i = -i
	}
	var b []byte
	for i > 0 {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}

func (lv *Live) publish(ev control.Event) {
	lv.mu.Lock()
	defer lv.mu.Unlock()
	lv.events = append(lv.events, ev)
	if len(lv.events) > maxEvents {
		lv.events = lv.events[len(lv.events)-maxEvents:]
	}
	for ch := range lv.subs {
		select {
		case ch <- ev:
		default: // a slow subscriber misses events rather than stalling the sandbox
		}
	}
}

// Info implements control.Source.
func (lv *Live) Info() control.Info {
	p := lv.sb.Plan
	k, g := lv.sb.Pids()
	return control.Info{ID: lv.id, Name: lv.name, App: p.App, Argv: p.Argv, Profile: p.ProfileName, ProfileFile: p.ProfileFile,
		Platform: p.Platform, Started: lv.sb.Started, LauncherPID: os.Getpid(), KernelPID: k, GoferPID: g, Warnings: p.Warnings}
}

func counts(in []sandbox.SyscallCount) []control.NameCount {
	out := make([]control.NameCount, len(in))
	for i, c := range in {
		out[i] = control.NameCount{Name: c.Name, Count: c.Count}
	}
	return out
}

// Stats implements control.Source.
func (lv *Live) Stats() (control.Stats, error) {
	rep, err := lv.sb.Query(sandbox.ControlRequest{Op: "stats"})
	if err != nil {
		return control.Stats{}, err
	}
	lv.publishLimits(rep)
	st := control.Stats{Tasks: rep.Tasks, MemoryBytes: rep.MemoryBytes, MemoryLimit: rep.MemoryLimit, CPUNanos: rep.CPUNanos, Syscalls: rep.Syscalls,
		TopSyscalls: counts(rep.TopSyscalls), Unimplemented: counts(rep.Unimplemented), Denials: map[string]uint64{}}
	lv.mu.Lock()
	for k, v := range lv.denials {
		st.Denials[k] = v
	}
	lv.mu.Unlock()
	now := time.Now()
	lv.mu.Lock()
	if !lv.lastAt.IsZero() && rep.Syscalls >= lv.lastCalls {
		if dt := now.Sub(lv.lastAt).Seconds(); dt > 0 {
			st.SyscallsPerSec = float64(rep.Syscalls-lv.lastCalls) / dt
		}
	} else if el := now.Sub(lv.sb.Started).Seconds(); el > 0 {
		st.SyscallsPerSec = float64(rep.Syscalls) / el
	}
	lv.lastCalls, lv.lastAt = rep.Syscalls, now
	lv.mu.Unlock()
	return st, nil
}

// Tree implements control.Source.
func (lv *Live) Tree() ([]control.Process, error) {
	rep, err := lv.sb.Query(sandbox.ControlRequest{Op: "tree"})
	if err != nil {
		return nil, err
	}
	out := make([]control.Process, len(rep.Processes))
	for i, p := range rep.Processes {
		out[i] = control.Process{PID: p.PID, PPID: p.PPID, Command: p.Command, Threads: p.Threads, State: p.State, HostFiles: p.HostFiles}
	}
	return out, nil
}

// Connections implements control.ConnectionLister: the kernel's Internet sockets, each
// remote address with the names the sandbox's resolver answered it for.
func (lv *Live) Connections() ([]control.Connection, error) {
	rep, err := lv.sb.Query(sandbox.ControlRequest{Op: "connections"})
	if err != nil {
		return nil, err
	}
	out := make([]control.Connection, len(rep.Connections))
	for i, c := range rep.Connections {
		out[i] = control.Connection{Proto: c.Proto, State: c.State, Local: c.Local, Remote: c.Remote, Private: c.Private,
			BytesIn: c.BytesIn, BytesOut: c.BytesOut}
		if a, err := netip.ParseAddrPort(c.Remote); err == nil && lv.sb.net != nil && !c.Private {
			out[i].Names = lv.sb.net.NamesOf(a.Addr())
		}
	}
	return out, nil
}

// Subscribe implements control.Source.
func (lv *Live) Subscribe() (<-chan control.Event, func()) {
	ch := make(chan control.Event, maxEvents+16)
	lv.mu.Lock()
	for _, ev := range lv.events {
		ch <- ev
	}
	select {
	case <-lv.done:
		close(ch)
		lv.mu.Unlock()
		return ch, func() {}
	default:
	}
	lv.subs[ch] = struct{}{}
	lv.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			lv.mu.Lock()
			if _, ok := lv.subs[ch]; ok {
				delete(lv.subs, ch)
				close(ch)
			}
			lv.mu.Unlock()
		})
	}
}

// Kill implements control.Source: sig to the app, SIGKILL to the whole sandbox after grace.
func (lv *Live) Kill(sig syscall.Signal, grace time.Duration) error {
	if sig != syscall.SIGKILL {
		lv.sb.Signal(sig)
	}
	go func() {
		select {
		case <-lv.done:
		case <-time.After(grace):
			lv.sb.kernel.Process.Kill()
		}
	}()
	if sig == syscall.SIGKILL {
		return lv.sb.kernel.Process.Kill()
	}
	return nil
}

// oomPoll is how often the launcher asks the kernel for OOM kills when nobody watches.
const oomPoll = 500 * time.Millisecond

// watchLimits turns the kernel's OOM kills and disk-limit refusals into events while the
// sandbox lives.
func (lv *Live) watchLimits() {
	t := time.NewTicker(oomPoll)
	defer t.Stop()
	for {
		select {
		case <-lv.done:
			return
		case <-t.C:
		}
		rep, err := lv.sb.Query(sandbox.ControlRequest{Op: "stats"})
		if err != nil {
			continue
		}
		lv.publishLimits(rep)
	}
}

// publishLimits publishes the OOM kills and disk-limit refusals not published yet.
func (lv *Live) publishLimits(rep *sandbox.ControlReply) {
	kills := rep.OOMKills
	lv.mu.Lock()
	full := rep.DiskFull - min(rep.DiskFull, lv.diskSeen)
	lv.diskSeen = max(lv.diskSeen, rep.DiskFull)
	if full > 0 {
		lv.denials["disk"] += full
	}
	fresh := kills[min(lv.oomSeen, len(kills)):]
	lv.oomSeen = max(lv.oomSeen, len(kills))
	lv.mu.Unlock()
	if full > 0 {
		lv.publish(control.Event{Time: time.Now(), Kind: "denial", Detail: fmt.Sprintf("disk: %d write(s) refused at the disk limit", full)})
	}
	for _, k := range fresh {
		lv.publish(control.Event{Time: k.Time, Kind: "oom", Detail: fmt.Sprintf("killed process %d (%s), %d MiB resident; sandbox at %d of %d MiB",
			k.PID, k.Comm, k.RSS>>20, k.Used>>20, k.Limit>>20)})
	}
}
