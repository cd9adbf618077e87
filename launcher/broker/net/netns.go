package net

import (
	"fmt"
	gonet "net"
	"net/netip"
	"runtime"

	"golang.org/x/sys/unix"
)

// A broker normally makes its host sockets in the launcher's own network namespace. An OCI
// engine instead gives a container a network namespace of its own (podman's bridge or
// slirp4netns, a CNI or netavark network): its interfaces, addresses, routes and published
// ports live there, and the container's sockets must be made there. A socket stays in the
// namespace it was made in whatever thread later uses it, so only socket creation moves: it
// runs on one OS thread that entered the namespace and does nothing else (Go schedules every
// other goroutine on other threads, so the rest of the launcher stays where it is).

// nsThread runs functions in a network namespace.
type nsThread struct {
	calls chan func()
}

// enterNS starts a thread in the network namespace at path (a bind mount such as
// /run/netns/NAME, or /proc/PID/ns/net). Entering needs CAP_SYS_ADMIN over the namespace's
// user namespace: root, or root of the rootless engine's user namespace that made it.
func enterNS(path string) (*nsThread, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", path, err)
	}
	t := &nsThread{calls: make(chan func())}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: when this goroutine returns, Go ends the thread with it rather
		// than reuse a thread in another namespace.
		runtime.LockOSThread()
		err := unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("network namespace %s: entering it: %w (the runtime needs CAP_SYS_ADMIN over it)", path, err)
			return
		}
		errc <- nil
		for f := range t.calls {
			f()
		}
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return t, nil
}

// do runs f in the namespace and returns when it has.
func (t *nsThread) do(f func()) {
	done := make(chan struct{})
	t.calls <- func() { f(); close(done) }
	<-done
}

func (t *nsThread) stop() { close(t.calls) }

// EnterNamespace makes the broker create its host sockets in the network namespace at path
// from now on (before Serve). The policy applies as before.
func (b *Broker) EnterNamespace(path string) error {
	t, err := enterNS(path)
	if err != nil {
		return err
	}
	b.ns = t
	return nil
}

// InNamespace runs f where the broker makes its sockets (its network namespace).
func (b *Broker) InNamespace(f func()) {
	if b.ns == nil {
		f()
		return
	}
	b.ns.do(f)
}

// newSocket is socket(2) in the broker's network namespace.
func (b *Broker) newSocket(domain, typ, proto int) (fd int, err error) {
	b.InNamespace(func() { fd, err = unix.Socket(domain, typ, proto) })
	return fd, err
}

// Addrs returns the global unicast addresses (with prefix lengths) of the up, non-loopback
// interfaces of the broker's network namespace: what the sandbox's eth0 shows.
func (b *Broker) Addrs() []string {
	var out []string
	b.InNamespace(func() {
		ifs, err := gonet.Interfaces()
		if err != nil {
			return
		}
		for _, ifc := range ifs {
			if ifc.Flags&gonet.FlagUp == 0 || ifc.Flags&gonet.FlagLoopback != 0 {
				continue
			}
			addrs, _ := ifc.Addrs()
			for _, a := range addrs {
				ipn, ok := a.(*gonet.IPNet)
				if !ok {
					continue
				}
				ip, ok := netip.AddrFromSlice(ipn.IP)
				if !ok || !ip.Unmap().IsGlobalUnicast() {
					continue
				}
				bits, _ := ipn.Mask.Size()
				out = append(out, netip.PrefixFrom(ip.Unmap(), bits).String())
			}
		}
	})
	return out
}
