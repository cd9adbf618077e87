package syscalls

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// The kernel's key retention service (keyrings(7)): keys and keyrings of the sandbox, kept
// on its Kernel, never in the host's keyrings. A process has a session keyring (inherited
// by fork, kept across execve) and, once asked for, a process keyring (dropped by fork and
// execve); a thread has a thread keyring (never inherited). Each user has a user keyring
// and a user-session keyring, the latter standing in as the session keyring of a process
// that has none. Key types: "user", "logon" and "keyring". There is no upcall:
// request_key finds keys, it never constructs them.

// Key permission bits (linux/key.h), one byte per class: possessor, user, group, other.
const (
	keyView    = 0x01
	keyRead    = 0x02
	keyWrite   = 0x04
	keySearch  = 0x08
	keyLink    = 0x10
	keySetattr = 0x20
	keyAll     = 0x3f

	keyPosAll  = keyAll << 24
	keyUsrView = keyView << 16
)

// Special key IDs (linux/keyctl.h).
const (
	keySpecThread      = -1
	keySpecProcess     = -2
	keySpecSession     = -3
	keySpecUser        = -4
	keySpecUserSession = -5
	keySpecGroup       = -6
	keySpecReqkeyAuth  = -7
	keySpecRequestor   = -8
)

// Limits of security/keys: type and description sizes, payloads, search depth, quotas
// (/proc/sys/kernel/keys).
const (
	keyTypeMax        = 32
	keyDescMax        = 4096
	keyPayloadMax     = 1<<20 - 1
	keyUserDataMax    = 32767
	keySearchMaxDepth = 6
	keyQuotaKeys      = 200
	keyQuotaBytes     = 20000
	keyRootQuotaKeys  = 1000000
	keyRootQuotaBytes = 25000000
	keyNoGID          = ^uint32(0)
)

// keyType is a key type's behaviour.
type keyType struct {
	name      string
	readable  bool
	updatable bool
	keyring   bool
}

func lookupKeyType(name string) *keyType {
	switch name {
	case "user":
		return &keyType{name: "user", readable: true, updatable: true}
	case "logon":
		return &keyType{name: "logon", updatable: true}
	case "keyring":
		return &keyType{name: "keyring", readable: true, keyring: true}
	}
	return nil
}

// key is a key or keyring. Its mutable fields are protected by keyRegistry.mu.
type key struct {
	serial int32
	typ    *keyType
	desc   string

	uid, gid    uint32
	perm        uint32
	payload     []byte
	links       []*key // a keyring's keys, in link order
	revoked     bool
	invalidated bool
	restricted  bool      // KEYCTL_RESTRICT_KEYRING with no type: nothing may be linked
	expiry      time.Time // zero: never
	quota       int       // bytes charged to the owner; -1: not in quota
}

// keyUser is one user's keyrings and quota use.
type keyUser struct {
	keyring, session *key
	nkeys, nbytes    int
}

// keyRegistry is the sandbox's keys.
type keyRegistry struct {
	k  *kernel.Kernel
	mu sync.Mutex
	// bySerial holds every key not yet collected. protected by mu
	bySerial map[int32]*key
	// users are the users that have keyrings or keys. protected by mu
	users map[uint32]*keyUser
	// collectAt is the key count at which the next allocation collects unreachable keys.
	// protected by mu
	collectAt int
}

func keyRegistryOf(t *kernel.Task) *keyRegistry {
	return kernel.StateOf(t.Kernel(), func(k *kernel.Kernel) *keyRegistry {
		return &keyRegistry{k: k, bySerial: make(map[int32]*key), users: make(map[uint32]*keyUser), collectAt: 256}
	})
}

// keyCaller is the calling task with its credentials, fixed for one call.
type keyCaller struct {
	t     *kernel.Task
	creds vfs.Creds
	r     *keyRegistry
}

func newKeyCaller(t *kernel.Task) *keyCaller {
	return &keyCaller{t: t, creds: *t.Creds(), r: keyRegistryOf(t)}
}

func asKey(v any) *key {
	k, _ := v.(*key)
	return k
}

func (k *key) dead(now time.Time) error {
	switch {
	case k.invalidated:
		return unix.ENOKEY
	case k.revoked:
		return unix.EKEYREVOKED
	case !k.expiry.IsZero() && !now.Before(k.expiry):
		return unix.EKEYEXPIRED
	}
	return nil
}

// permits is key_task_permission: the user, group or other byte, plus the possessor byte
// for a possessed key. Capabilities do not override key permissions.
func (c *keyCaller) permits(k *key, possessed bool, need uint32) bool {
	var p uint32
	switch {
	case k.uid == c.creds.FSUID:
		p = k.perm >> 16
	case k.gid != keyNoGID && c.creds.InGroup(k.gid):
		p = k.perm >> 8
	default:
		p = k.perm
	}
	if possessed {
		p |= k.perm >> 24
	}
	return need&^(p&0xff) == 0
}

func (c *keyCaller) permission(k *key, possessed bool, need uint32) error {
	if !c.permits(k, possessed, need) {
		return unix.EACCES
	}
	return nil
}

// user returns the caller's keyUser, made on first use.
func (r *keyRegistry) user(uid uint32) *keyUser {
	u := r.users[uid]
	if u == nil {
		u = &keyUser{}
		r.users[uid] = u
	}
	return u
}

// alloc makes a key owned by uid/gid, charging uid's quota unless quota is -1; overrun
// lets process keyrings exceed it, as Linux's KEY_ALLOC_QUOTA_OVERRUN. Preconditions:
// r.mu held.
func (r *keyRegistry) allocLocked(typ *keyType, desc string, uid, gid, perm uint32, quota int, overrun bool) (*key, error) {
	if quota >= 0 {
		u := r.user(uid)
		maxKeys, maxBytes := keyQuotaKeys, keyQuotaBytes
		if uid == 0 {
			maxKeys, maxBytes = keyRootQuotaKeys, keyRootQuotaBytes
		}
		if !overrun && (u.nkeys+1 > maxKeys || u.nbytes+quota > maxBytes) {
			return nil, unix.EDQUOT
		}
		u.nkeys++
		u.nbytes += quota
	}
	if len(r.bySerial) >= r.collectAt {
		r.collectLocked()
	}
	k := &key{typ: typ, desc: desc, uid: uid, gid: gid, perm: perm, quota: quota}
	for {
		k.serial = rand.Int32N(1<<31-3) + 3
		if r.bySerial[k.serial] == nil {
			break
		}
	}
	r.bySerial[k.serial] = k
	return k, nil
}

// collectLocked drops the keys no process, user or reachable keyring refers to, returning
// their quota (Linux's key garbage collector). Preconditions: r.mu held.
func (r *keyRegistry) collectLocked() {
	live := make(map[*key]bool)
	var mark func(k *key)
	mark = func(k *key) {
		if k == nil || live[k] {
			return
		}
		live[k] = true
		for _, l := range k.links {
			mark(l)
		}
	}
	for _, u := range r.users {
		mark(u.keyring)
		mark(u.session)
	}
	for _, tg := range r.k.Groups() {
		s, p := tg.Keyrings()
		mark(asKey(s))
		mark(asKey(p))
		for _, t := range tg.Tasks() {
			mark(asKey(t.ThreadKeyring()))
		}
	}
	for serial, k := range r.bySerial {
		if !live[k] {
			delete(r.bySerial, serial)
			if k.quota >= 0 {
				u := r.user(k.uid)
				u.nkeys--
				u.nbytes -= k.quota
			}
		}
	}
	r.collectAt = max(256, 2*len(r.bySerial))
}

// userKeyringsLocked returns the caller's user and user-session keyrings, made on first
// use: "_uid.UID" and "_uid_ses.UID", the second linking the first. Preconditions: r.mu
// held.
func (c *keyCaller) userKeyringsLocked() (uk, usk *key) {
	uid := c.creds.UID
	u := c.r.user(uid)
	if u.keyring == nil {
		perm := uint32(keyPosAll&^(keySetattr<<24) | keyAll<<16)
		ring := lookupKeyType("keyring")
		u.keyring, _ = c.r.allocLocked(ring, fmt.Sprintf("_uid.%d", uid), uid, keyNoGID, perm, -1, false)
		u.session, _ = c.r.allocLocked(ring, fmt.Sprintf("_uid_ses.%d", uid), uid, keyNoGID, perm, -1, false)
		u.session.links = []*key{u.keyring}
	}
	return u.keyring, u.session
}

// newKeyringLocked makes a keyring owned by the caller. Preconditions: r.mu held.
func (c *keyCaller) newKeyringLocked(desc string, perm uint32, overrun bool) (*key, error) {
	return c.r.allocLocked(lookupKeyType("keyring"), desc, c.creds.FSUID, c.creds.FSGID, perm, len(desc)+1, overrun)
}

// joinLocked gives the process a new session keyring: an anonymous "_ses" one, or the
// keyring called name (found if the caller may search it, else made). Preconditions:
// r.mu held.
func (c *keyCaller) joinLocked(name *string) (*key, error) {
	tg := c.t.Group()
	if name == nil {
		k, err := c.newKeyringLocked("_ses", keyPosAll|keyUsrView|keyRead<<16, true)
		if err != nil {
			return nil, err
		}
		tg.SetSessionKeyring(k)
		return k, nil
	}
	if *name != "" && (*name)[0] != '.' {
		for _, k := range c.r.bySerial {
			if k.typ.keyring && k.desc == *name && !k.revoked && !k.invalidated && c.permits(k, false, keySearch) {
				tg.SetSessionKeyring(k)
				return k, nil
			}
		}
	}
	k, err := c.newKeyringLocked(*name, keyPosAll|keyUsrView|keyRead<<16|keyLink<<16, false)
	if err != nil {
		return nil, err
	}
	tg.SetSessionKeyring(k)
	return k, nil
}

// Lookup flags (security/keys/internal.h).
const (
	keyLookupCreate  = 1
	keyLookupPartial = 2
	keyDeferPerm     = ^uint32(0)
)

// lookupLocked is lookup_user_key: a special or real key ID to a key, whether the caller
// possesses it, and the state and permission checks (need keyDeferPerm: neither).
// Preconditions: r.mu held.
func (c *keyCaller) lookupLocked(id int32, flags int, need uint32) (*key, bool, error) {
	var k *key
	possessed := true
	switch id {
	case keySpecThread:
		var err error
		if k, err = c.threadKeyringLocked(flags&keyLookupCreate != 0); err != nil {
			return nil, false, err
		}
	case keySpecProcess:
		_, p := c.t.Group().Keyrings()
		k = asKey(p)
		if k == nil {
			if flags&keyLookupCreate == 0 {
				return nil, false, unix.ENOKEY
			}
			nk, err := c.newKeyringLocked("_pid", keyPosAll|keyUsrView, true)
			if err != nil {
				return nil, false, err
			}
			k = asKey(c.t.Group().InstallProcessKeyring(nk))
		}
	case keySpecSession:
		s, _ := c.t.Group().Keyrings()
		k = asKey(s)
		_, usk := c.userKeyringsLocked()
		switch {
		case k == nil && flags&keyLookupCreate == 0:
			// A process without a session keyring subscribes to its user-session keyring.
			k = usk
			c.t.Group().SetSessionKeyring(k)
		case k == nil || k == usk && flags&keyLookupCreate != 0:
			var err error
			if k, err = c.joinLocked(nil); err != nil {
				return nil, false, err
			}
		}
	case keySpecUser:
		k, _ = c.userKeyringsLocked()
	case keySpecUserSession:
		_, k = c.userKeyringsLocked()
	case keySpecGroup:
		return nil, false, unix.EINVAL
	case keySpecReqkeyAuth, keySpecRequestor:
		// Only a request-key upcall program holds an authorization key, and there is no
		// upcall.
		return nil, false, unix.ENOKEY
	default:
		if id < 1 {
			return nil, false, unix.EINVAL
		}
		k = c.r.bySerial[id]
		if k == nil {
			return nil, false, unix.ENOKEY
		}
		possessed = c.possessedLocked(k)
	}
	if need == keyDeferPerm {
		return k, possessed, nil
	}
	if err := k.dead(time.Now()); err != nil {
		return nil, false, err
	}
	if err := c.permission(k, possessed, need); err != nil {
		return nil, false, err
	}
	return k, possessed, nil
}

// threadKeyringLocked returns the calling thread's keyring, making it when asked to or
// when the thread is due one. Preconditions: r.mu held.
func (c *keyCaller) threadKeyringLocked(create bool) (*key, error) {
	v := c.t.ThreadKeyring()
	if k := asKey(v); k != nil {
		return k, nil
	}
	if _, due := v.(kernel.ThreadKeyringDue); !due && !create {
		return nil, unix.ENOKEY
	}
	k, err := c.newKeyringLocked("_tid", keyPosAll|keyUsrView, true)
	if err != nil {
		return nil, err
	}
	c.t.SetThreadKeyring(k)
	return k, nil
}

// searchRootsLocked are the keyrings a process's searches start from: thread, process,
// and session keyring (the user-session keyring for a process without one).
// Preconditions: r.mu held.
func (c *keyCaller) searchRootsLocked() []*key {
	var roots []*key
	if k, _ := c.threadKeyringLocked(false); k != nil {
		roots = append(roots, k)
	}
	s, p := c.t.Group().Keyrings()
	if k := asKey(p); k != nil {
		roots = append(roots, k)
	}
	if k := asKey(s); k != nil {
		roots = append(roots, k)
	} else {
		_, usk := c.userKeyringsLocked()
		roots = append(roots, usk)
	}
	return roots
}

// keyringSearch is one keyring search (search_nested_keyrings).
type keyringSearch struct {
	c         *keyCaller
	match     func(*key) bool
	possessed bool
	noPerm    bool // KEYRING_SEARCH_NO_CHECK_PERM
	noState   bool // KEYRING_SEARCH_NO_STATE_CHECK
	tooDeep   bool // KEYRING_SEARCH_DETECT_TOO_DEEP: descending below the limit is ELOOP
	now       time.Time
	skipped   error // why the last matching key was passed over
}

// accept is the search iterator's verdict on a matching key.
func (s *keyringSearch) accept(k *key) bool {
	if !s.noState {
		if err := k.dead(s.now); err != nil {
			if err == unix.ENOKEY {
				err = unix.EKEYREVOKED
			}
			s.skipped = err
			return false
		}
	}
	if !s.noPerm && !s.c.permits(k, s.possessed, keySearch) {
		s.skipped = unix.EACCES
		return false
	}
	return true
}

// in searches keyring ring, depth levels below the top, for a matching key: first its own
// keys, then the keyrings it holds that grant search.
func (s *keyringSearch) in(ring *key, depth int) (*key, error) {
	if depth == 0 && s.match(ring) && s.accept(ring) {
		return ring, nil
	}
	for _, k := range ring.links {
		if s.match(k) && s.accept(k) {
			return k, nil
		}
	}
	for _, k := range ring.links {
		if !k.typ.keyring {
			continue
		}
		if depth >= keySearchMaxDepth {
			if s.tooDeep {
				return nil, unix.ELOOP
			}
			continue
		}
		if !s.noPerm && !s.c.permits(k, s.possessed, keySearch) {
			continue
		}
		if found, err := s.in(k, depth+1); found != nil || err != nil {
			return found, err
		}
	}
	return nil, nil
}

// searchLocked is keyring_search_rcu: ring must be a keyring the caller may search.
// Preconditions: r.mu held.
func (s *keyringSearch) searchLocked(ring *key) (*key, error) {
	if !ring.typ.keyring {
		return nil, unix.ENOTDIR
	}
	if !s.noPerm && !s.c.permits(ring, s.possessed, keySearch) {
		return nil, unix.EACCES
	}
	if s.now.IsZero() {
		s.now = time.Now()
	}
	return s.in(ring, 0)
}

// searchProcessLocked is search_process_keyrings: the first match from the caller's
// thread, process and session keyrings; otherwise the most telling reason none was
// found. Preconditions: r.mu held.
func (c *keyCaller) searchProcessLocked(match func(*key) bool, noState bool) (*key, error) {
	noKey := false
	var sample error
	for _, root := range c.searchRootsLocked() {
		s := &keyringSearch{c: c, match: match, possessed: true, noState: noState}
		found, err := s.searchLocked(root)
		switch {
		case found != nil:
			return found, nil
		case err == nil && s.skipped == nil:
			noKey = true
		case err != nil:
			sample = err
		default:
			sample = s.skipped
		}
	}
	if noKey || sample == nil {
		return nil, unix.ENOKEY
	}
	return nil, sample
}

// possessedLocked reports whether the caller possesses k: k is reachable, searchably,
// from its thread, process or session keyring. Preconditions: r.mu held.
func (c *keyCaller) possessedLocked(k *key) bool {
	found, _ := c.searchProcessLocked(func(o *key) bool { return o == k }, true)
	return found != nil
}

// linkLocked is key_link: k into keyring ring, displacing a key of the same type and
// description, refusing cycles and too deep nesting. Preconditions: r.mu held.
func (c *keyCaller) linkLocked(ring, k *key) error {
	if !ring.typ.keyring {
		return unix.ENOTDIR
	}
	if err := ring.dead(time.Now()); err != nil {
		return err
	}
	if ring.restricted {
		return unix.EPERM
	}
	if k.typ.keyring {
		if k == ring {
			return unix.EDEADLK
		}
		s := &keyringSearch{c: c, match: func(o *key) bool { return o == ring }, noPerm: true, noState: true, tooDeep: true}
		found, err := s.searchLocked(k)
		if err != nil {
			return err
		}
		if found != nil {
			return unix.EDEADLK
		}
	}
	for i, o := range ring.links {
		if o == k {
			return nil
		}
		if o.typ.name == k.typ.name && o.desc == k.desc {
			ring.links[i] = k
			return nil
		}
	}
	ring.links = append(ring.links, k)
	return nil
}

// unlinkFrom removes from ring the key with k's type and description: k itself or, as on
// Linux (the keyring's index is the type and description), another key displacing it.
func unlinkFrom(ring, k *key) bool {
	for i, o := range ring.links {
		if o.typ.name == k.typ.name && o.desc == k.desc {
			ring.links = append(ring.links[:i:i], ring.links[i+1:]...)
			return true
		}
	}
	return false
}

// copyInKeyType is key_get_type_from_user: a type name of 1 to 31 bytes, none starting
// with '.' (reserved for the kernel's own types).
func copyInKeyType(t *kernel.Task, addr uint64) (string, error) {
	s, err := t.CopyInString(addr, keyTypeMax-1)
	if err == unix.ENAMETOOLONG || err == nil && s == "" {
		return "", unix.EINVAL
	}
	if err != nil {
		return "", err
	}
	if s[0] == '.' {
		return "", unix.EPERM
	}
	return s, nil
}

// copyInKeyDesc is strndup_user with the description limit.
func copyInKeyDesc(t *kernel.Task, addr uint64, limit int) (string, error) {
	s, err := t.CopyInString(addr, limit-1)
	if err == unix.ENAMETOOLONG {
		return "", unix.EINVAL
	}
	return s, err
}

func copyInPayload(t *kernel.Task, addr, n uint64) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	b := make([]byte, n)
	if _, err := t.CopyIn(addr, b); err != nil {
		return nil, unix.EFAULT
	}
	return b, nil
}

// preparse is each type's payload check.
func (typ *keyType) preparse(payload []byte) error {
	switch {
	case typ.keyring && len(payload) != 0:
		return unix.EINVAL
	case !typ.keyring && (len(payload) == 0 || len(payload) > keyUserDataMax):
		return unix.EINVAL
	}
	return nil
}

// vetDesc is the logon type's check that a description names a service ("svc:...").
func (typ *keyType) vetDesc(desc string) error {
	if typ.name == "logon" {
		if i := strings.IndexByte(desc, ':'); i <= 0 {
			return unix.EINVAL
		}
	}
	return nil
}

// AddKey implements add_key(2).
func AddKey(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	plen := a[3]
	if plen > keyPayloadMax {
		return 0, unix.EINVAL
	}
	typName, err := copyInKeyType(t, a[0])
	if err != nil {
		return 0, err
	}
	var desc string
	if a[1] != 0 {
		if desc, err = copyInKeyDesc(t, a[1], keyDescMax); err != nil {
			return 0, err
		}
		if desc != "" && desc[0] == '.' && strings.HasPrefix(typName, "keyring") {
			return 0, unix.EPERM
		}
	}
	payload, err := copyInPayload(t, a[2], plen)
	if err != nil {
		return 0, err
	}
	c := newKeyCaller(t)
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	ring, possessed, err := c.lookupLocked(int32(a[4]), keyLookupCreate, keyWrite)
	if err != nil {
		return 0, err
	}
	typ := lookupKeyType(typName)
	if typ == nil {
		return 0, unix.ENODEV
	}
	if !ring.typ.keyring {
		return 0, unix.ENOTDIR
	}
	if err := typ.preparse(payload); err != nil {
		return 0, err
	}
	if desc == "" {
		return 0, unix.EINVAL
	}
	if ring.restricted {
		return 0, unix.EPERM
	}
	if typ.updatable {
		for _, o := range ring.links {
			if o.typ.name == typ.name && o.desc == desc && !o.revoked && !o.invalidated {
				if err := c.permission(o, possessed, keyWrite); err != nil {
					return 0, err
				}
				if err := c.r.setPayloadLocked(o, payload); err != nil {
					return 0, err
				}
				return uint64(o.serial), nil
			}
		}
	}
	perm := uint32(keyPosAll&^(keyRead<<24|keyWrite<<24) | keyUsrView)
	if typ.readable {
		perm |= keyRead << 24
	}
	if typ.keyring || typ.updatable {
		perm |= keyWrite << 24
	}
	if err := typ.vetDesc(desc); err != nil {
		return 0, err
	}
	k, err := c.r.allocLocked(typ, desc, c.creds.FSUID, c.creds.FSGID, perm, len(desc)+1+len(payload), false)
	if err != nil {
		return 0, err
	}
	k.payload = payload
	if err := c.linkLocked(ring, k); err != nil {
		return 0, err
	}
	return uint64(k.serial), nil
}

// setPayloadLocked replaces a key's payload, moving its quota charge. Preconditions: r.mu
// held.
func (r *keyRegistry) setPayloadLocked(k *key, payload []byte) error {
	if k.quota >= 0 {
		u := r.user(k.uid)
		q := len(k.desc) + 1 + len(payload)
		maxBytes := keyQuotaBytes
		if k.uid == 0 {
			maxBytes = keyRootQuotaBytes
		}
		if u.nbytes-k.quota+q > maxBytes {
			return unix.EDQUOT
		}
		u.nbytes += q - k.quota
		k.quota = q
	}
	k.payload = payload
	return nil
}

// RequestKey implements request_key(2). There is no request-key upcall in the sandbox: a
// key not found is ENOKEY, as when /sbin/request-key cannot make it.
func RequestKey(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	typName, err := copyInKeyType(t, a[0])
	if err != nil {
		return 0, err
	}
	desc, err := copyInKeyDesc(t, a[1], keyDescMax)
	if err != nil {
		return 0, err
	}
	if a[2] != 0 {
		if _, err := copyInKeyDesc(t, a[2], 4096); err != nil {
			return 0, err
		}
	}
	c := newKeyCaller(t)
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	var dest *key
	if id := int32(a[3]); id != 0 {
		if dest, _, err = c.lookupLocked(id, keyLookupCreate, keyWrite); err != nil {
			return 0, err
		}
	}
	typ := lookupKeyType(typName)
	if typ == nil {
		return 0, unix.ENOKEY
	}
	k, err := c.searchProcessLocked(func(o *key) bool { return o.typ.name == typ.name && o.desc == desc }, false)
	if err != nil {
		return 0, err
	}
	if dest != nil {
		if err := c.linkLocked(dest, k); err != nil {
			return 0, err
		}
	}
	return uint64(k.serial), nil
}

// keyctl(2) operations (linux/keyctl.h).
const (
	keyctlGetKeyringID       = 0
	keyctlJoinSessionKeyring = 1
	keyctlUpdate             = 2
	keyctlRevoke             = 3
	keyctlChown              = 4
	keyctlSetperm            = 5
	keyctlDescribe           = 6
	keyctlClear              = 7
	keyctlLink               = 8
	keyctlUnlink             = 9
	keyctlSearch             = 10
	keyctlRead               = 11
	keyctlInstantiate        = 12
	keyctlNegate             = 13
	keyctlSetReqkeyKeyring   = 14
	keyctlSetTimeout         = 15
	keyctlAssumeAuthority    = 16
	keyctlGetSecurity        = 17
	keyctlSessionToParent    = 18
	keyctlReject             = 19
	keyctlInstantiateIov     = 20
	keyctlInvalidate         = 21
	keyctlRestrictKeyring    = 29
	keyctlMove               = 30
	keyctlCapabilities       = 31
)

// Keyctl implements keyctl(2).
func Keyctl(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	c := newKeyCaller(t)
	id := int32(a[1])
	switch a[0] {
	case keyctlGetKeyringID:
		flags := 0
		if int32(a[2]) != 0 {
			flags = keyLookupCreate
		}
		c.r.mu.Lock()
		defer c.r.mu.Unlock()
		k, _, err := c.lookupLocked(id, flags, keySearch)
		if err != nil {
			return 0, err
		}
		return uint64(k.serial), nil
	case keyctlJoinSessionKeyring:
		var name *string
		if a[1] != 0 {
			s, err := copyInKeyDesc(t, a[1], keyDescMax)
			if err != nil {
				return 0, err
			}
			name = &s
		}
		c.r.mu.Lock()
		defer c.r.mu.Unlock()
		k, err := c.joinLocked(name)
		if err != nil {
			return 0, err
		}
		return uint64(k.serial), nil
	case keyctlUpdate:
		return 0, c.update(id, a[2], a[3])
	case keyctlRevoke:
		c.r.mu.Lock()
		defer c.r.mu.Unlock()
		k, _, err := c.lookupLocked(id, 0, keyWrite)
		if err == unix.EACCES {
			k, _, err = c.lookupLocked(id, 0, keySetattr)
		}
		if err != nil {
			return 0, err
		}
		k.revoked = true
		return 0, nil
	case keyctlChown:
		return 0, c.chown(id, uint32(a[2]), uint32(a[3]))
	case keyctlSetperm:
		perm := uint32(a[2])
		if perm&^uint32(keyAll<<24|keyAll<<16|keyAll<<8|keyAll) != 0 {
			return 0, unix.EINVAL
		}
		c.r.mu.Lock()
		defer c.r.mu.Unlock()
		k, _, err := c.lookupLocked(id, keyLookupCreate|keyLookupPartial, keySetattr)
		if err != nil {
			return 0, err
		}
		if k.uid != c.creds.FSUID && !capable(t, unix.CAP_SYS_ADMIN) {
			return 0, unix.EACCES
		}
		k.perm = perm
		return 0, nil
	case keyctlDescribe:
		c.r.mu.Lock()
		k, _, err := c.lookupLocked(id, keyLookupPartial, keyView)
		var s string
		if err == nil {
			gid := int64(k.gid)
			if k.gid == keyNoGID {
				gid = 65534 // from_kgid_munged: the overflow GID
			}
			s = fmt.Sprintf("%s;%d;%d;%08x;%s\x00", k.typ.name, k.uid, gid, k.perm, k.desc)
		}
		c.r.mu.Unlock()
		if err != nil {
			return 0, err
		}
		return copyOutIfFits(t, a[2], a[3], []byte(s))
	case keyctlClear:
		c.r.mu.Lock()
		defer c.r.mu.Unlock()
		k, _, err := c.lookupLocked(id, keyLookupCreate, keyWrite)
		if err != nil {
			return 0, err
		}
		if !k.typ.keyring {
			return 0, unix.ENOTDIR
		}
		if k.restricted {
			return 0, unix.EPERM
		}
		k.links = nil
		return 0, nil
	case keyctlLink:
		c.r.mu.Lock()
		defer c.r.mu.Unlock()
		ring, _, err := c.lookupLocked(int32(a[2]), keyLookupCreate, keyWrite)
		if err != nil {
			return 0, err
		}
		k, _, err := c.lookupLocked(id, keyLookupCreate, keyLink)
		if err != nil {
			return 0, err
		}
		return 0, c.linkLocked(ring, k)
	case keyctlUnlink:
		c.r.mu.Lock()
		defer c.r.mu.Unlock()
		ring, _, err := c.lookupLocked(int32(a[2]), 0, keyWrite)
		if err != nil {
			return 0, err
		}
		k, _, err := c.lookupLocked(id, keyLookupPartial, keyDeferPerm)
		if err != nil {
			return 0, err
		}
		if !ring.typ.keyring {
			return 0, unix.ENOTDIR
		}
		if !unlinkFrom(ring, k) {
			return 0, unix.ENOENT
		}
		return 0, nil
	case keyctlSearch:
		return c.search(id, a[2], a[3], int32(a[4]))
	case keyctlRead:
		return c.read(id, a[2], a[3])
	case keyctlInstantiate, keyctlNegate, keyctlReject, keyctlInstantiateIov:
		// Only the holder of a request_key authorization key may instantiate, and without
		// an upcall there is none.
		return 0, unix.EPERM
	case keyctlSetReqkeyKeyring:
		return c.setReqkeyKeyring(int32(a[1]))
	case keyctlSetTimeout:
		c.r.mu.Lock()
		defer c.r.mu.Unlock()
		k, _, err := c.lookupLocked(id, keyLookupCreate|keyLookupPartial, keySetattr)
		if err != nil {
			return 0, err
		}
		k.expiry = time.Time{}
		if secs := uint32(a[2]); secs != 0 {
			k.expiry = time.Now().Add(time.Duration(secs) * time.Second)
		}
		return 0, nil
	case keyctlAssumeAuthority:
		switch {
		case id < 0:
			return 0, unix.EINVAL
		case id == 0:
			return 0, nil
		}
		return 0, unix.ENOKEY
	case keyctlGetSecurity:
		c.r.mu.Lock()
		_, _, err := c.lookupLocked(id, keyLookupPartial, keyView)
		c.r.mu.Unlock()
		if err != nil {
			return 0, err
		}
		// No security module labels keys: an empty label.
		if a[2] != 0 && a[3] > 0 {
			if _, err := t.CopyOut(a[2], []byte{0}); err != nil {
				return 0, unix.EFAULT
			}
		}
		return 1, nil
	case keyctlSessionToParent:
		return 0, c.sessionToParent()
	case keyctlInvalidate:
		c.r.mu.Lock()
		defer c.r.mu.Unlock()
		k, _, err := c.lookupLocked(id, 0, keySearch)
		if err != nil {
			return 0, err
		}
		k.invalidated = true
		// The collector unlinks an invalidated key at once.
		for _, o := range c.r.bySerial {
			for i, l := range o.links {
				if l == k {
					o.links = append(o.links[:i:i], o.links[i+1:]...)
					break
				}
			}
		}
		return 0, nil
	case keyctlRestrictKeyring:
		return 0, c.restrict(id, a[2], a[3])
	case keyctlMove:
		return 0, c.move(id, int32(a[2]), int32(a[3]), uint32(a[4]))
	case keyctlCapabilities:
		// KEYCTL_CAPS0_CAPABILITIES | INVALIDATE | RESTRICT_KEYRING | MOVE; CAPS1_NS_KEYRING_NAME.
		caps := []byte{0x01 | 0x20 | 0x40 | 0x80, 0x01}
		if n := min(a[2], uint64(len(caps))); a[1] != 0 && n > 0 {
			if _, err := t.CopyOut(a[1], caps[:n]); err != nil {
				return 0, unix.EFAULT
			}
		}
		return uint64(len(caps)), nil
	}
	// Persistent keyrings, Diffie-Hellman, public-key operations and key notifications
	// answer as a kernel built without them.
	return 0, unix.EOPNOTSUPP
}

// copyOutIfFits copies v to buf when it fits in size bytes, and returns v's length either
// way (KEYCTL_DESCRIBE, KEYCTL_READ).
func copyOutIfFits(t *kernel.Task, buf, size uint64, v []byte) (uint64, error) {
	if buf != 0 && size >= uint64(len(v)) {
		if _, err := t.CopyOut(buf, v); err != nil {
			return 0, unix.EFAULT
		}
	}
	return uint64(len(v)), nil
}

func (c *keyCaller) update(id int32, addr, n uint64) error {
	if n > 4096 {
		return unix.EINVAL
	}
	payload, err := copyInPayload(c.t, addr, n)
	if err != nil {
		return err
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	k, _, err := c.lookupLocked(id, keyLookupCreate, keyWrite)
	if err != nil {
		return err
	}
	if !k.typ.updatable {
		return unix.EOPNOTSUPP
	}
	if err := k.typ.preparse(payload); err != nil {
		return err
	}
	return c.r.setPayloadLocked(k, payload)
}

func (c *keyCaller) chown(id int32, uid, gid uint32) error {
	if uid == ^uint32(0) && gid == ^uint32(0) {
		return nil
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	k, _, err := c.lookupLocked(id, keyLookupCreate|keyLookupPartial, keySetattr)
	if err != nil {
		return err
	}
	privileged := uid != ^uint32(0) && uid != k.uid || gid != ^uint32(0) && gid != k.gid && !c.creds.InGroup(gid)
	if privileged && !capable(c.t, unix.CAP_SYS_ADMIN) {
		return unix.EACCES
	}
	if uid != ^uint32(0) && uid != k.uid {
		if k.quota >= 0 {
			to := c.r.user(uid)
			maxKeys, maxBytes := keyQuotaKeys, keyQuotaBytes
			if uid == 0 {
				maxKeys, maxBytes = keyRootQuotaKeys, keyRootQuotaBytes
			}
			if to.nkeys+1 > maxKeys || to.nbytes+k.quota > maxBytes {
				return unix.EDQUOT
			}
			from := c.r.user(k.uid)
			from.nkeys--
			from.nbytes -= k.quota
			to.nkeys++
			to.nbytes += k.quota
		}
		k.uid = uid
	}
	if gid != ^uint32(0) {
		k.gid = gid
	}
	return nil
}

func (c *keyCaller) search(ringID int32, typAddr, descAddr uint64, destID int32) (uint64, error) {
	typName, err := copyInKeyType(c.t, typAddr)
	if err != nil {
		return 0, err
	}
	desc, err := copyInKeyDesc(c.t, descAddr, keyDescMax)
	if err != nil {
		return 0, err
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	ring, possessed, err := c.lookupLocked(ringID, 0, keySearch)
	if err != nil {
		return 0, err
	}
	var dest *key
	if destID != 0 {
		if dest, _, err = c.lookupLocked(destID, keyLookupCreate, keyWrite); err != nil {
			return 0, err
		}
	}
	typ := lookupKeyType(typName)
	if typ == nil {
		return 0, unix.ENOKEY
	}
	s := &keyringSearch{c: c, match: func(o *key) bool { return o.typ.name == typ.name && o.desc == desc }, possessed: possessed}
	k, err := s.searchLocked(ring)
	if err != nil {
		return 0, err
	}
	if k == nil {
		if s.skipped != nil {
			return 0, s.skipped
		}
		return 0, unix.ENOKEY
	}
	if dest != nil {
		if err := c.permission(k, possessed, keyLink); err != nil {
			return 0, err
		}
		if err := c.linkLocked(dest, k); err != nil {
			return 0, err
		}
	}
	return uint64(k.serial), nil
}

func (c *keyCaller) read(id int32, buf, size uint64) (uint64, error) {
	c.r.mu.Lock()
	k, possessed, err := c.lookupLocked(id, 0, keyDeferPerm)
	if err != nil {
		c.r.mu.Unlock()
		return 0, err
	}
	if err := c.permission(k, possessed, keyRead); err != nil && !possessed {
		c.r.mu.Unlock()
		return 0, err
	}
	if !k.typ.readable {
		c.r.mu.Unlock()
		return 0, unix.EOPNOTSUPP
	}
	if err := k.dead(time.Now()); err != nil {
		c.r.mu.Unlock()
		return 0, err
	}
	var data []byte
	if k.typ.keyring {
		data = make([]byte, 4*len(k.links))
		for i, l := range k.links {
			abi.PutU32(data[4*i:], uint32(l.serial))
		}
	} else {
		data = append([]byte(nil), k.payload...)
	}
	c.r.mu.Unlock()
	return copyOutIfFits(c.t, buf, size, data)
}

// keyReqkeyDefaults are the default request-key destinations per process
// (KEYCTL_SET_REQKEY_KEYRING), inherited by fork like the credentials that hold them.
type keyReqkeyDefaults struct {
	mu sync.Mutex
	// byGroup holds the processes that set one. protected by mu
	byGroup map[*kernel.ThreadGroup]int32
}

func (c *keyCaller) setReqkeyKeyring(v int32) (uint64, error) {
	d := kernel.StateOf(c.t.Kernel(), func(k *kernel.Kernel) *keyReqkeyDefaults {
		d := &keyReqkeyDefaults{byGroup: make(map[*kernel.ThreadGroup]int32)}
		k.OnProcessExit(func(tg *kernel.ThreadGroup) {
			d.mu.Lock()
			delete(d.byGroup, tg)
			d.mu.Unlock()
		})
		return d
	})
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.byGroup[c.t.Group()]
	switch {
	case v == -1: // KEY_REQKEY_DEFL_NO_CHANGE
		return uint64(old), nil
	case v < 0 || v > 7 || v == 6: // the group keyring does not exist
		return 0, unix.EINVAL
	}
	d.byGroup[c.t.Group()] = v
	return uint64(old), nil
}

// sessionToParent is KEYCTL_SESSION_TO_PARENT: the parent process takes the caller's
// session keyring, if it runs with the caller's IDs and is single-threaded.
func (c *keyCaller) sessionToParent() error {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	k, _, err := c.lookupLocked(keySpecSession, 0, keyLink)
	if err != nil {
		return err
	}
	parent := c.t.Kernel().GroupByPID(c.t.Group().PPID())
	// Linux refuses the global init only; the sandbox's first process is not that.
	if parent == nil || len(parent.Tasks()) != 1 {
		return unix.EPERM
	}
	pc := parent.Creds()
	me := c.creds
	if pc.UID != me.EUID || pc.EUID != me.EUID || pc.SUID != me.EUID || pc.GID != me.EGID || pc.EGID != me.EGID || pc.SGID != me.EGID {
		return unix.EPERM
	}
	if ps, _ := parent.Keyrings(); asKey(ps) != nil && asKey(ps).uid != me.EUID || k.uid != me.EUID {
		return unix.EPERM
	}
	parent.SetSessionKeyring(k)
	return nil
}

func (c *keyCaller) restrict(id int32, typAddr, restrictAddr uint64) error {
	if typAddr != 0 {
		if _, err := copyInKeyType(c.t, typAddr); err != nil {
			return err
		}
	} else if restrictAddr != 0 {
		return unix.EINVAL
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	k, _, err := c.lookupLocked(id, 0, keySetattr)
	if err != nil {
		return err
	}
	if !k.typ.keyring {
		return unix.ENOTDIR
	}
	if k.restricted {
		return unix.EEXIST
	}
	if typAddr != 0 {
		// Only asymmetric keys define restrictions, and there are none here.
		return unix.ENOENT
	}
	k.restricted = true
	return nil
}

func (c *keyCaller) move(id, fromID, toID int32, flags uint32) error {
	const moveExcl = 1
	if flags&^moveExcl != 0 {
		return unix.EINVAL
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	k, _, err := c.lookupLocked(id, keyLookupCreate, keyLink)
	if err != nil {
		return err
	}
	from, _, err := c.lookupLocked(fromID, 0, keyWrite)
	if err != nil {
		return err
	}
	to, _, err := c.lookupLocked(toID, keyLookupCreate, keyWrite)
	if err != nil {
		return err
	}
	if from == to {
		return nil
	}
	if !from.typ.keyring || !to.typ.keyring {
		return unix.ENOTDIR
	}
	if flags&moveExcl != 0 {
		for _, o := range to.links {
			if o != k && o.typ.name == k.typ.name && o.desc == k.desc {
				return unix.EEXIST
			}
		}
	}
	linked := false
	for _, o := range from.links {
		linked = linked || o.typ.name == k.typ.name && o.desc == k.desc
	}
	if !linked {
		return unix.ENOENT
	}
	if err := c.linkLocked(to, k); err != nil {
		return err
	}
	unlinkFrom(from, k)
	return nil
}
