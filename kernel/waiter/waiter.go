// Package waiter lets kernel objects (pipes, sockets, terminals) tell blocked tasks that
// they became ready. A Queue lives in the object; a task registers an Entry for the events it
// waits on and is called back on Notify. Callbacks must not block: tasks use them to wake
// their own event FD.
package waiter

import "sync"

// Event masks, equal to poll(2)'s bits.
const (
	EventIn     uint32 = 0x1
	EventPri    uint32 = 0x2
	EventOut    uint32 = 0x4
	EventErr    uint32 = 0x8
	EventHUp    uint32 = 0x10
	EventNVal   uint32 = 0x20
	EventRdNorm uint32 = 0x40
	EventRdHUp  uint32 = 0x2000
)

// Entry is one registration.
type Entry struct {
	Mask     uint32
	Callback func(mask uint32)
}

// Queue is a set of registrations.
type Queue struct {
	mu sync.Mutex
	// entries is protected by mu
	entries map[*Entry]struct{}
}

// EventRegister adds e.
func (q *Queue) EventRegister(e *Entry) {
	q.mu.Lock()
	if q.entries == nil {
		q.entries = make(map[*Entry]struct{})
	}
	q.entries[e] = struct{}{}
	q.mu.Unlock()
}

// EventUnregister removes e.
func (q *Queue) EventUnregister(e *Entry) {
	q.mu.Lock()
	delete(q.entries, e)
	q.mu.Unlock()
}

// Notify calls back every entry interested in any of mask.
func (q *Queue) Notify(mask uint32) {
	q.mu.Lock()
	var fire []*Entry
	for e := range q.entries {
		if e.Mask&mask != 0 {
			fire = append(fire, e)
		}
	}
	q.mu.Unlock()
	for _, e := range fire {
		e.Callback(mask)
	}
}
