package kernel

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sbx-dev/sbx/kernel/net/inet"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// Namespaces inside the sandbox (namespaces(7)). Every process starts in the sandbox's root
// namespaces; clone and unshare with CLONE_NEW* make new ones, setns joins one through a
// /proc/PID/ns file. They exist only in this kernel: nothing of them reaches the host.
//
// Credentials keep the sandbox's (root user namespace's) IDs whatever user namespace a
// process is in: every privilege check on a sandbox-wide object (files, other processes'
// signals, SysV IPC) sees those and is unchanged by a nested namespace, as Linux checks
// capabilities against the object's own user namespace. The IDs a process sees (getuid,
// stat) are translated through its namespace's uid_map/gid_map. Capabilities a process holds
// inside a namespace it made (or entered) count only for that namespace's objects: its UTS
// name, chroot, its own capability sets.
//
// PIDs: a process has a number in its own PID namespace and in every ancestor; the kernel's
// tables are keyed by the root namespace's number (Task.TID, ThreadGroup.PID) and syscalls
// translate at the boundary (Task.PIDOf, Task.GroupByPID, ...). The root namespace's /proc
// shows root numbers, as a proc mounted in the root PID namespace does on Linux.

// NSKind is one namespace type.
type NSKind int

// The namespace types, in /proc/PID/ns order.
const (
	NSCgroup NSKind = iota
	NSIPC
	NSMnt
	NSNet
	NSPID
	NSUser
	NSUTS
	nsKinds
)

// NSNames are the /proc/PID/ns link names (and the prefix of their targets).
var NSNames = [nsKinds]string{"cgroup", "ipc", "mnt", "net", "pid", "user", "uts"}

// nsFlags are the clone flags of each kind.
var nsFlags = [nsKinds]uint64{unix.CLONE_NEWCGROUP, unix.CLONE_NEWIPC, unix.CLONE_NEWNS, unix.CLONE_NEWNET,
	unix.CLONE_NEWPID, unix.CLONE_NEWUSER, unix.CLONE_NEWUTS}

// CloneFlag is the CLONE_NEW* flag of kind k.
func (k NSKind) CloneFlag() uint64 { return nsFlags[k] }

// rootNSIno are the inode numbers of the initial namespaces (include/linux/proc_ns.h); the
// mount and network ones are dynamic on Linux, these are what a fresh boot typically shows.
var rootNSIno = [nsKinds]uint64{0xEFFFFFFB, 0xEFFFFFFF, 0xF0000000, 0xF0000008, 0xEFFFFFFC, 0xEFFFFFFD, 0xEFFFFFFE}

// Namespace is one namespace of any kind.
type Namespace struct {
	Kind NSKind
	// Ino is the inode number its /proc/PID/ns link names.
	Ino uint64
	// Owner is the user namespace that owns it (for a user namespace: its parent; nil for
	// the root one).
	Owner *UserNS

	// user is set for user namespaces, pid for PID namespaces, uts for UTS ones.
	user *UserNS
	pid  *PIDNS
	uts  *utsState
	// net is a network namespace's stack: the sandbox's for the root one, an empty one
	// (only the loopback) for a new one.
	net *inet.Stack
	// mnt is a mount namespace's table of mounts; users counts the processes in it
	// (mount.go).
	mnt   *vfs.Namespace
	users atomic.Int64
}

// IsRootNS reports whether n is one of the sandbox's initial namespaces.
func (k *Kernel) IsRootNS(n *Namespace) bool { return k.rootNS[n.Kind] == n }

// NetStack is the network stack of the process's network namespace.
func (tg *ThreadGroup) NetStack() *inet.Stack { return tg.ns.Load()[NSNet].net }

// String is the /proc/PID/ns link target, "user:[4026531837]".
func (n *Namespace) String() string { return fmt.Sprintf("%s:[%d]", NSNames[n.Kind], n.Ino) }

// UserNS is a user namespace: who owns it and how its IDs map to its parent's.
type UserNS struct {
	NS     *Namespace
	Parent *UserNS
	Level  int
	// OwnerUID and OwnerGID are the creator's effective IDs (root namespace numbers).
	OwnerUID, OwnerGID uint32

	mu sync.Mutex
	// uidMap and gidMap map this namespace's IDs to the root namespace's; nil until written
	// (once). protected by mu
	uidMap, gidMap []IDExtent
	// setgroupsDenied is "deny" written to /proc/PID/setgroups. protected by mu
	setgroupsDenied bool
}

// IDExtent is one line of uid_map/gid_map: Count IDs from First inside map to Lower (root
// namespace numbers) and LowerShown (the parent namespace's numbers, as written).
type IDExtent struct {
	First, Lower, LowerShown, Count uint32
}

// PIDNS is a PID namespace.
type PIDNS struct {
	NS     *Namespace
	Parent *PIDNS
	Level  int

	mu sync.Mutex
	// next is the next number to try; byNr maps numbers to tasks. protected by mu
	next int32
	byNr map[int32]*Task
	// groups maps numbers to processes (live or zombie, until reaped). protected by mu
	groups map[int32]*ThreadGroup
	// init is the process numbered 1; once it is gone no process can be made here. protected by mu
	init     *ThreadGroup
	initGone bool
}

// utsState is a UTS namespace's names.
type utsState struct {
	mu                   sync.Mutex
	hostname, domainname string // protected by mu
}

// NSSet is the namespaces of a process, one per kind (pid is pid_for_children). A set is
// never modified: unshare and setns install a new one.
type NSSet [nsKinds]*Namespace

// nsIno hands out inode numbers of new namespaces.
func (k *Kernel) newNS(kind NSKind, owner *UserNS) *Namespace {
	n := &Namespace{Kind: kind, Ino: k.nsIno.Add(1), Owner: owner}
	return n
}

// rootNamespaces makes the sandbox's initial namespaces.
func (k *Kernel) rootNamespaces() *NSSet {
	var s NSSet
	for kind := range nsKinds {
		s[kind] = &Namespace{Kind: kind, Ino: rootNSIno[kind]}
	}
	s[NSUser].user = &UserNS{NS: s[NSUser], OwnerUID: 0, OwnerGID: 0}
	for kind := range nsKinds {
		if kind != NSUser {
			s[kind].Owner = s[NSUser].user
		}
	}
	s[NSPID].pid = &PIDNS{NS: s[NSPID]}
	s[NSUTS].uts = &utsState{hostname: k.Hostname, domainname: "(none)"}
	s[NSNet].net = k.Net
	s[NSMnt].mnt = k.NS
	return &s
}

// Namespaces returns the process's namespaces.
func (tg *ThreadGroup) Namespaces() *NSSet { return tg.ns.Load() }

// UserNS returns the user namespace the process is in.
func (tg *ThreadGroup) UserNS() *UserNS { return tg.ns.Load()[NSUser].user }

// ActivePIDNS is the PID namespace the process itself is numbered in (its pid link).
func (tg *ThreadGroup) ActivePIDNS() *PIDNS {
	if tg.pidNS != nil {
		return tg.pidNS
	}
	return tg.k.rootNS[NSPID].pid
}

// IsRoot reports whether u is the sandbox's initial user namespace.
func (u *UserNS) IsRoot() bool { return u.Parent == nil }

// maxUserNSLevel is Linux's nesting limit for user namespaces.
const maxUserNSLevel = 32

// newNamespaces makes the namespaces flags asks for on top of cur, for a process whose
// credentials are creds (root namespace IDs). It checks the rules of clone(2)/unshare(2):
// a new user namespace needs nothing (and comes first: the others are owned by it and
// need CAP_SYS_ADMIN there); the others need CAP_SYS_ADMIN in the current one.
func (t *Task) newNamespaces(cur *NSSet, flags uint64) (*NSSet, error) {
	k := t.k
	s := *cur
	c := t.Creds()
	if flags&unix.CLONE_NEWUSER != 0 {
		parent := cur[NSUser].user
		if parent.Level >= maxUserNSLevel {
			return nil, unix.EUSERS
		}
		if t.tg.chrooted() {
			return nil, unix.EPERM // user_namespaces(7): not from a chroot
		}
		n := k.newNS(NSUser, parent)
		n.user = &UserNS{NS: n, Parent: parent, Level: parent.Level + 1, OwnerUID: c.EUID, OwnerGID: c.EGID}
		s[NSUser] = n
	} else if flags&(unix.CLONE_NEWNS|unix.CLONE_NEWUTS|unix.CLONE_NEWIPC|unix.CLONE_NEWPID|unix.CLONE_NEWNET|unix.CLONE_NEWCGROUP) != 0 &&
		!t.NSCapable(cur[NSUser].user, unix.CAP_SYS_ADMIN) {
		return nil, unix.EPERM
	}
	owner := s[NSUser].user
	for kind := range nsKinds {
		if kind == NSUser || flags&nsFlags[kind] == 0 {
			continue
		}
		n := k.newNS(kind, owner)
		switch kind {
		case NSPID:
			parent := cur[NSPID].pid
			if parent.Level >= maxUserNSLevel {
				return nil, unix.ENOSPC
			}
			n.pid = &PIDNS{NS: n, Parent: parent, Level: parent.Level + 1, next: 1, byNr: make(map[int32]*Task), groups: make(map[int32]*ThreadGroup)}
		case NSNet:
			n.net = inet.NewStack(nil) // nothing but a private loopback
		case NSUTS:
			u := cur[NSUTS].uts
			u.mu.Lock()
			n.uts = &utsState{hostname: u.hostname, domainname: u.domainname}
			u.mu.Unlock()
		}
		s[kind] = n
	}
	if flags&unix.CLONE_NEWUSER != 0 {
		// The other namespaces made at the same time are owned by the new user namespace.
		for kind := range nsKinds {
			if kind != NSUser && s[kind] != cur[kind] {
				s[kind].Owner = owner
			}
		}
	}
	if flags&unix.CLONE_NEWNS != 0 {
		copyMountNS(s[NSMnt], cur[NSMnt])
	}
	return &s, nil
}

// nsCaps are the capability sets a process gets in a user namespace it creates or enters:
// all of them (capabilities(7)).
func nsFullCaps() *[3]uint64 { return &[3]uint64{capAll, capAll, 0} }

// capAll is every capability Linux 6.8 defines (0..40).
const capAll = 1<<41 - 1

// NSCapable reports whether the task has capability c in user namespace target: in its own
// namespace when c is in its effective set (the sandbox's root holds the launching user's
// set there), in a descendant when it owns that descendant's ancestor just below its own
// namespace (user_namespaces(7)).
func (t *Task) NSCapable(target *UserNS, c uint) bool {
	cr := t.Creds()
	own := t.tg.UserNS()
	for u := target; u != nil; u = u.Parent {
		if u == own {
			return t.EffectiveCaps()&(1<<c) != 0
		}
		if u.Parent == own && u.OwnerUID == cr.EUID {
			return true
		}
	}
	return false
}

// EffectiveCaps is the task's effective capability set in its own user namespace: what
// capset chose, else the launching user's for root in the root namespace, else none.
func (t *Task) EffectiveCaps() uint64 {
	cr := t.Creds()
	if cr.Caps != nil {
		return cr.Caps[0]
	}
	if t.tg.UserNS().IsRoot() && cr.EUID == 0 {
		return t.k.Caps[0]
	}
	return 0
}

// MapUID translates a root namespace ID into u's numbers (overflowuid 65534 if unmapped).
func (u *UserNS) MapUID(id uint32) uint32 { return u.mapUp(id, false) }

// MapGID is MapUID for group IDs.
func (u *UserNS) MapGID(id uint32) uint32 { return u.mapUp(id, true) }

func (u *UserNS) mapUp(id uint32, gid bool) uint32 {
	if u == nil || u.IsRoot() {
		return id
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	m := u.uidMap
	if gid {
		m = u.gidMap
	}
	for _, e := range m {
		if id >= e.Lower && id-e.Lower < e.Count {
			return e.First + (id - e.Lower)
		}
	}
	return overflowID
}

// UnmapUID translates u's number into the root namespace's; ok is false when unmapped.
func (u *UserNS) UnmapUID(id uint32) (uint32, bool) { return u.mapDown(id, false) }

// UnmapGID is UnmapUID for group IDs.
func (u *UserNS) UnmapGID(id uint32) (uint32, bool) { return u.mapDown(id, true) }

func (u *UserNS) mapDown(id uint32, gid bool) (uint32, bool) {
	if u == nil {
		return id, true
	}
	return u.mapDownRange(id, 1, gid)
}

// mapDownRange translates count IDs from first (u's numbers) into the root namespace's,
// when one extent of u's map holds them all.
func (u *UserNS) mapDownRange(first, count uint32, gid bool) (uint32, bool) {
	if u.IsRoot() {
		return first, true
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	m := u.uidMap
	if gid {
		m = u.gidMap
	}
	for _, e := range m {
		if first >= e.First && uint64(first)+uint64(count) <= uint64(e.First)+uint64(e.Count) {
			return e.Lower + (first - e.First), true
		}
	}
	return 0, false
}

// overflowID is /proc/sys/kernel/overflowuid and overflowgid.
const overflowID = 65534

// Maps returns the namespace's uid_map or gid_map as /proc shows it to a reader in
// namespace reader: lower IDs in the reader's numbers (the parent's when the reader is in
// the namespace itself).
func (u *UserNS) Maps(gid bool, reader *UserNS) []IDExtent {
	if u.IsRoot() {
		return []IDExtent{{First: 0, Lower: 0, LowerShown: 0, Count: 1<<32 - 1}}
	}
	u.mu.Lock()
	m := u.uidMap
	if gid {
		m = u.gidMap
	}
	out := append([]IDExtent(nil), m...)
	u.mu.Unlock()
	if reader == u {
		return out // the parent's numbers, as written
	}
	for i := range out {
		if gid {
			out[i].LowerShown = reader.MapGID(out[i].Lower)
		} else {
			out[i].LowerShown = reader.MapUID(out[i].Lower)
		}
	}
	return out
}

// SetgroupsAllowed reports /proc/PID/setgroups ("allow" or "deny").
func (u *UserNS) SetgroupsAllowed() bool {
	if u.IsRoot() {
		return true
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return !u.setgroupsDenied
}

// SetgroupsAllowedHere reports whether setgroups(2) may work for a process in u: every
// namespace up to the root allows it and the gid_map of u is written.
func (u *UserNS) SetgroupsAllowedHere() bool {
	for n := u; n != nil && !n.IsRoot(); n = n.Parent {
		n.mu.Lock()
		ok := !n.setgroupsDenied && (n != u || n.gidMap != nil)
		n.mu.Unlock()
		if !ok {
			return false
		}
	}
	return true
}

// WriteSetgroups implements a write to /proc/PID/setgroups: "allow" or "deny", only
// before gid_map is written, and "allow" not once the parent denies (user_namespaces(7)).
func (u *UserNS) WriteSetgroups(t *Task, v string) error {
	if u.IsRoot() {
		return unix.EPERM
	}
	if !t.NSCapable(u, unix.CAP_SYS_ADMIN) {
		return unix.EPERM
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.gidMap != nil {
		return unix.EPERM
	}
	switch v {
	case "deny":
		u.setgroupsDenied = true
	case "allow":
		if !u.Parent.SetgroupsAllowed() {
			return unix.EPERM
		}
		u.setgroupsDenied = false
	default:
		return unix.EINVAL
	}
	return nil
}

// maxIDExtents is Linux's limit of lines in a map (since 4.15).
const maxIDExtents = 340

// WriteMap implements a write to /proc/PID/uid_map or gid_map by task t, whose file is
// parsed and checked as user_namespaces(7) says, then set once.
func (u *UserNS) WriteMap(t *Task, gid bool, text string) error {
	if u.IsRoot() {
		return unix.EPERM
	}
	u.mu.Lock()
	written := gid && u.gidMap != nil || !gid && u.uidMap != nil
	u.mu.Unlock()
	if written {
		return unix.EPERM // a map is written once, checked before its contents (map_write)
	}
	var ext []IDExtent
	for _, line := range splitLines(text) {
		var e IDExtent
		var rest string
		n, _ := fmt.Sscanf(line, "%d %d %d%s", &e.First, &e.LowerShown, &e.Count, &rest)
		if n < 3 || n == 4 {
			return unix.EINVAL
		}
		if e.Count == 0 || uint64(e.First)+uint64(e.Count) > 1<<32-1 || uint64(e.LowerShown)+uint64(e.Count) > 1<<32-1 {
			return unix.EINVAL
		}
		for _, o := range ext {
			if overlap(o.First, o.Count, e.First, e.Count) || overlap(o.LowerShown, o.Count, e.LowerShown, e.Count) {
				return unix.EINVAL
			}
		}
		ext = append(ext, e)
	}
	if len(ext) == 0 || len(ext) > maxIDExtents {
		return unix.EINVAL
	}
	// The writer must be in u or its parent, and hold CAP_SETUID/CAP_SETGID in the parent
	// (or be u's owner in the special case below).
	own := t.tg.UserNS()
	if own != u && own != u.Parent {
		return unix.EPERM
	}
	capID := uint(unix.CAP_SETUID)
	if gid {
		capID = unix.CAP_SETGID
	}
	if !t.NSCapable(u, capID) {
		return unix.EPERM
	}
	// Lower IDs are the parent namespace's numbers; each extent must lie inside one of the
	// parent's extents.
	for i := range ext {
		root, ok := u.Parent.mapDownRange(ext[i].LowerShown, ext[i].Count, gid)
		if !ok {
			return unix.EPERM
		}
		ext[i].Lower = root
	}
	// Without CAP_SETUID/CAP_SETGID in the parent: one line mapping the writer's own
	// effective ID, and for gid_map only after setgroups is denied.
	privileged := t.NSCapable(u.Parent, capID)
	cr := t.Creds()
	u.mu.Lock()
	defer u.mu.Unlock()
	if gid && u.gidMap != nil || !gid && u.uidMap != nil {
		return unix.EPERM
	}
	if !privileged {
		want := cr.EUID
		if gid {
			want = cr.EGID
		}
		if len(ext) != 1 || ext[0].Count != 1 || ext[0].Lower != want {
			return unix.EPERM
		}
		if gid && !u.setgroupsDenied {
			return unix.EPERM
		}
	}
	if gid {
		u.gidMap = ext
	} else {
		u.uidMap = ext
	}
	return nil
}

func overlap(a, an, b, bn uint32) bool {
	return uint64(a) < uint64(b)+uint64(bn) && uint64(b) < uint64(a)+uint64(an)
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

// Hostname and Domainname are the UTS namespace's names (uname, /proc/sys/kernel).
func (tg *ThreadGroup) Hostname() (host, domain string) {
	u := tg.ns.Load()[NSUTS].uts
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hostname, u.domainname
}

// SetUTSName implements sethostname(2) (domain false) and setdomainname(2): CAP_SYS_ADMIN
// in the user namespace owning the caller's UTS namespace.
func (t *Task) SetUTSName(name string, domain bool) error {
	n := t.tg.ns.Load()[NSUTS]
	if !t.NSCapable(n.Owner, unix.CAP_SYS_ADMIN) {
		return unix.EPERM
	}
	n.uts.mu.Lock()
	defer n.uts.mu.Unlock()
	if domain {
		n.uts.domainname = name
	} else {
		n.uts.hostname = name
	}
	return nil
}

// Unshare implements unshare(2) for the namespace flags: the process moves to new
// namespaces of those kinds (a new PID namespace is for its children only).
func (t *Task) Unshare(flags uint64) error {
	tg := t.tg
	if flags&unix.CLONE_NEWUSER != 0 {
		tg.mu.Lock()
		n := len(tg.tasks)
		tg.mu.Unlock()
		if n > 1 {
			return unix.EINVAL // a multithreaded process cannot change its user namespace
		}
	}
	cur := tg.ns.Load()
	s, err := t.newNamespaces(cur, flags)
	if err != nil {
		return err
	}
	if flags&unix.CLONE_NEWUSER != 0 {
		t.enterUserNS()
	}
	if flags&unix.CLONE_NEWNS != 0 {
		// A new mount namespace comes with a private root and working directory, moved
		// to the copies of the mounts they were on.
		tg.UnshareFS()
		enterCopiedMountNS(tg.fsCtx(), s[NSMnt].mnt)
	}
	t.k.getNS(s, cur)
	tg.ns.Store(s)
	t.k.putNS(cur, s)
	return nil
}

// enterUserNS gives the task the capabilities one gets on entering a new user namespace:
// all of them, there.
func (t *Task) enterUserNS() {
	c := t.Creds()
	c.Caps = nsFullCaps()
	t.SetCreds(*c)
}

// Setns implements setns(2) with a namespace: the caller joins n, with the rules of
// setns(2): CAP_SYS_ADMIN in the namespace's owner (and in its own for most kinds); a
// user namespace only when not multithreaded and not the caller's own.
func (t *Task) Setns(n *Namespace, nstype uint64) error {
	if nstype != 0 && nstype != nsFlags[n.Kind] {
		return unix.EINVAL
	}
	tg := t.tg
	cur := tg.ns.Load()
	switch n.Kind {
	case NSUser:
		if n == cur[NSUser] {
			return unix.EINVAL
		}
		tg.mu.Lock()
		threads := len(tg.tasks)
		tg.mu.Unlock()
		if threads > 1 || tg.chrooted() {
			return unix.EINVAL
		}
		if !t.NSCapable(n.user, unix.CAP_SYS_ADMIN) {
			return unix.EPERM
		}
	case NSPID:
		// Only the namespace itself or a descendant of the caller's own.
		ok := false
		for p := n.pid; p != nil; p = p.Parent {
			if p == tg.ActivePIDNS() {
				ok = true
			}
		}
		if !ok {
			return unix.EINVAL
		}
		fallthrough
	default:
		if !t.NSCapable(n.Owner, unix.CAP_SYS_ADMIN) || !t.NSCapable(cur[NSUser].user, unix.CAP_SYS_ADMIN) {
			return unix.EPERM
		}
	}
	if n.Kind == NSMnt {
		if err := t.setnsMount(n); err != nil {
			return err
		}
	}
	s := *cur
	s[n.Kind] = n
	if n.Kind == NSUser {
		t.enterUserNS()
	}
	t.k.getNS(&s, cur)
	tg.ns.Store(&s)
	t.k.putNS(cur, &s)
	return nil
}

// chrooted reports whether the process's root is not the sandbox's root.
func (tg *ThreadGroup) chrooted() bool {
	root, _ := tg.FSContext()
	return root != tg.MountNS().Root()
}

// TaskWriter is a file whose writes depend on who writes (/proc/PID/uid_map): write(2)
// and pwrite64(2) hand it the writing task.
type TaskWriter interface {
	WriteBy(t *Task, off int64, p []byte) (int, error)
}

// NSFile is an open /proc/PID/ns file: setns(2) joins its namespace.
type NSFile interface {
	Namespace() *Namespace
}

// User returns the user namespace n is (nil when n is of another kind).
func (n *Namespace) User() *UserNS { return n.user }

// Parent returns the parent of a user or PID namespace (nil for the sandbox's initial
// one); hierarchical is false for the kinds that have no parent (NS_GET_PARENT's EINVAL).
func (n *Namespace) Parent() (parent *Namespace, hierarchical bool) {
	switch n.Kind {
	case NSUser:
		if n.user.Parent != nil {
			return n.user.Parent.NS, true
		}
		return nil, true
	case NSPID:
		if n.pid != nil && n.pid.Parent != nil {
			return n.pid.Parent.NS, true
		}
		return nil, true
	}
	return nil, false
}

// PIDNS returns the PID namespace n is (nil when n is of another kind).
func (n *Namespace) PIDNS() *PIDNS { return n.pid }

// Within reports whether u is v or a descendant of v.
func (u *UserNS) Within(v *UserNS) bool {
	for p := u; p != nil; p = p.Parent {
		if p == v {
			return true
		}
	}
	return false
}
