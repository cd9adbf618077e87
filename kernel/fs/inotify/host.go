package inotify

import (
	"sync"
	"time"
)

// Events from the host: the gofer watches host files the sandbox watches, and the kernel
// forwards what the host reports. The sandbox's own changes are on the host too (the gofer
// and the kernel make them there), and the kernel has already reported them itself: a host
// event matching one the kernel delivered for the same inode, event and name within
// ownWindow is that echo and is dropped.

const ownWindow = 2 * time.Second

type recentKey struct {
	k    Key
	mask uint32
	name string
}

// recentEvents are the events the kernel delivered itself, by when.
type recentEvents struct {
	mu sync.Mutex
	// m holds when the kernel last reported each event. protected by mu
	m map[recentKey]time.Time
}

// remember records an event the kernel itself delivered.
func (recent *recentEvents) remember(k Key, mask uint32, name string) {
	now := time.Now()
	recent.mu.Lock()
	defer recent.mu.Unlock()
	if recent.m == nil {
		recent.m = map[recentKey]time.Time{}
	}
	if len(recent.m) > 4096 {
		for rk, at := range recent.m {
			if now.Sub(at) > ownWindow {
				delete(recent.m, rk)
			}
		}
	}
	recent.m[recentKey{k, mask & InAllEvents, name}] = now
}

// own reports (and forgets) whether the kernel delivered this event itself just now.
func (recent *recentEvents) own(k Key, mask uint32, name string) bool {
	rk := recentKey{k, mask & InAllEvents, name}
	recent.mu.Lock()
	defer recent.mu.Unlock()
	at, ok := recent.m[rk]
	if !ok || time.Since(at) > ownWindow {
		return false
	}
	if mask&InModify == 0 {
		delete(recent.m, rk)
	}
	return true
}

// DeliverHost reports an event the host saw on the watched inode k (about its child name
// when name is set), unless the sandbox caused it.
func (tbl *Table) DeliverHost(k Key, mask, cookie uint32, name string) {
	if tbl.recent.own(k, mask, name) {
		return
	}
	if mask&InDeleteSelf != 0 {
		tbl.gone(k, InDeleteSelf)
		return
	}
	tbl.deliverFrom(k, mask, cookie, name, false, false)
}
