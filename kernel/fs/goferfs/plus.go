package goferfs

import (
	"sync"

	"github.com/sbx-dev/sbx/kernel/vfs"
)

// Listings with their entries walked.
//
// tar, cp -r, du, ls -l and git list a directory, then look up every entry: one gofer
// round trip per entry (tar of /usr/share/doc: 7,072 walks after 1,236 listings). A
// listing with Plus has the gofer walk every entry it lists in the same request (and on a
// read-only mount open regular files read-only, on a read-write one watch them, as the
// walks would), and the VFS caches the children. Where the app only lists (find, a shell's
// completion) that work and the handles it makes are wasted, so the kernel samples: a
// plain listing counts how many of its entries are walked afterwards, and listings come
// with Plus while at least half of the sampled entries were; every plusSample-th listing
// is plain, so that a change of pattern is seen.

// plusSample is how often a listing is plain to sample the app's pattern.
const plusSample = 16

// plusStats is a sandbox's sample of what follows its listings.
type plusStats struct {
	mu sync.Mutex
	// listed counts the entries of sampled (plain) listings, walked the walks below
	// those directories since; n counts listings. protected by mu
	listed, walked, n uint64
}

// use says whether the next listing comes with Plus.
func (p *plusStats) use() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if p.n%plusSample == 0 || p.listed == 0 {
		return false
	}
	return p.walked*2 >= p.listed
}

// sample notes a plain listing of entries entries.
func (p *plusStats) sample(entries int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.listed += uint64(entries)
	if p.listed > 1<<14 {
		p.listed, p.walked = p.listed/2, p.walked/2
	}
}

// sample counts a walk below in, if in was listed plain and not all its entries were
// walked since.
func (in *Inode) sample() {
	if in.cache == nil {
		return
	}
	in.mu.Lock()
	counted := in.sampled > 0
	if counted {
		in.sampled--
	}
	in.mu.Unlock()
	if counted {
		p := &in.cache.plus
		p.mu.Lock()
		p.walked++
		p.mu.Unlock()
	}
}

// ReaddirPlus implements vfs.PlusReader.
func (in *Inode) ReaddirPlus() ([]vfs.Dirent, []vfs.PlusChild, error) {
	if in.cache == nil || !in.cache.plus.use() {
		ents, err := in.Readdir()
		if err == nil && in.cache != nil {
			in.cache.plus.sample(len(ents))
			in.mu.Lock()
			in.sampled = len(ents)
			in.mu.Unlock()
		}
		return ents, nil, err
	}
	w := &in.cache.names
	w.mu.Lock()
	watch := !in.ro && w.haveFD && !w.broken && !w.full && w.watches < maxAttrWatches
	mark := w.startLogLocked()
	w.mu.Unlock()
	ds, err := in.h.GetdentsPlus(in.ro, watch)
	if err != nil {
		w.mu.Lock()
		w.endLogLocked(mark, nil, 0)
		w.mu.Unlock()
		return nil, nil, err
	}
	out := make([]vfs.Dirent, 0, len(ds))
	kids := make([]vfs.PlusChild, 0, len(ds))
	var wds []int32
	for _, d := range ds {
		out = append(out, vfs.Dirent{Name: d.Name, Ino: d.Ino, Type: dtOf(d.Kind)})
		if d.Entry == nil {
			continue
		}
		n := fromEntry(*d.Entry, in.cache)
		n.adopt(d.File)
		kids = append(kids, vfs.PlusChild{Name: d.Name, Inode: n})
		wds = append(wds, d.Entry.WD)
	}
	in.mu.Lock()
	x := in.watch
	in.mu.Unlock()
	var dirWD int32
	if x != nil {
		dirWD = x.wd
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// Events drained since the request was sent may have been about these files, or names
	// removed from the directory, before they were registered: the children are then not
	// cached (their walks come later, as without Plus).
	if w.endLogLocked(mark, wds, dirWD) {
		return out, nil, nil
	}
	for i := range kids {
		n := kids[i].Inode.(*Inode)
		if wds[i] > 0 {
			wx := w.registerLocked(n, wds[i])
			n.mu.Lock()
			n.attrs, n.attrEpoch = true, wx.gen+w.overflows.Load()<<40
			n.mu.Unlock()
		}
		kids[i].Epoch, kids[i].Valid = w.childEpochLocked(x, kids[i].Name)
	}
	return out, kids, nil
}
