package inet

import "golang.org/x/sys/unix"

// Host readiness for signal-driven I/O (fcntl O_ASYNC, F_SETOWN, SIGURG): a socket whose
// data moves through a host FD hears of nothing by itself, so each watch runs a goroutine
// on a private edge-triggered epoll set holding the socket's host FD and an eventfd that
// stops it. Edge triggering reports each arrival, as Linux signals each one; the state
// the FD is in when the watch starts is not reported.

// hostWatch is one WatchHost registration; its fields are protected by Socket.mu.
type hostWatch struct {
	mask   uint32
	notify func(ev uint32)
	run    *watchRun // the goroutine watching the current host FD; nil when there is none
}

// watchRun is one watcher goroutine.
type watchRun struct {
	stopFD int
	done   chan struct{}
}

// WatchHost calls notify with each new readiness event of mask (waiter.Event* bits) on the
// socket's host FD, also after connect gives the socket another FD, until stop is called.
// A socket without a host FD (an in-kernel listener) reports nothing: its events come from
// its queue.
func (s *Socket) WatchHost(mask uint32, notify func(ev uint32)) (stop func()) {
	w := &hostWatch{mask: mask, notify: notify}
	s.mu.Lock()
	s.watches = append(s.watches, w)
	if s.fd >= 0 {
		w.run = startWatch(s.fd, mask, notify)
	}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		for i, o := range s.watches {
			if o == w {
				s.watches = append(s.watches[:i:i], s.watches[i+1:]...)
				break
			}
		}
		run := w.run
		w.run = nil
		s.mu.Unlock()
		run.stop()
	}
}

// rewatchLocked moves the watches to the socket's current host FD. Preconditions: s.mu
// held.
func (s *Socket) rewatchLocked() {
	for _, w := range s.watches {
		w.run.stop()
		w.run = nil
		if s.fd >= 0 {
			w.run = startWatch(s.fd, w.mask, w.notify)
		}
	}
}

// stopWatchesLocked ends every watcher (the socket is closing). Preconditions: s.mu held.
func (s *Socket) stopWatchesLocked() {
	for _, w := range s.watches {
		w.run.stop()
		w.run = nil
	}
}

func startWatch(fd int, mask uint32, notify func(ev uint32)) *watchRun {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	stopFD, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(ep)
		return nil
	}
	if unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: mask | unix.EPOLLET, Fd: int32(fd)}) != nil ||
		unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, stopFD, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(stopFD)}) != nil {
		unix.Close(ep)
		unix.Close(stopFD)
		return nil
	}
	// Swallow the state at registration: only what happens from now on is news.
	var evs [2]unix.EpollEvent
	unix.EpollWait(ep, evs[:], 0)
	r := &watchRun{stopFD: stopFD, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		defer unix.Close(ep)
		for {
			n, err := unix.EpollWait(ep, evs[:], -1)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return
			}
			for _, e := range evs[:n] {
				if e.Fd == int32(stopFD) {
					return
				}
				notify(e.Events & (mask | unix.EPOLLERR | unix.EPOLLHUP))
			}
		}
	}()
	return r
}

// stop ends the watcher and waits for it, so no notification follows.
func (r *watchRun) stop() {
	if r == nil {
		return
	}
	unix.Write(r.stopFD, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	<-r.done
	unix.Close(r.stopFD)
}
