package gofer

// The messages of the protocol, each defined once: a Go struct per request and per reply
// body, with the encode and decode methods both ends use. A request's fields follow the
// request header (u32 ID, u8 op); a reply body follows the reply header (u32 ID, u16
// errno) and is sent only with errno 0. Integers are little-endian; a string is a u32
// length and its bytes. Every string a decoder reads has a bound (decoder.str), so a
// malformed message fails decoding (EINVAL at the server, EIO at the client) instead of
// allocating what the peer asks.

// request is one request message.
type request interface {
	// op is the request's type on the wire.
	op() Op
	encode(e *encoder)
	decode(d *decoder)
}

// handleRequest is a request about one handle (every request but attach).
type handleRequest interface {
	request
	handle() uint64
}

// requests makes an empty request of each op for the server to decode into.
var requests = [opMax]func() request{
	OpAttach:      func() request { return new(attachReq) },
	OpWalk:        func() request { return new(walkReq) },
	OpStat:        func() request { return &handleReq{kind: OpStat} },
	OpStatFS:      func() request { return &handleReq{kind: OpStatFS} },
	OpOpen:        func() request { return new(openReq) },
	OpCreate:      func() request { return new(createReq) },
	OpMkdir:       func() request { return &mkReq{kind: OpMkdir} },
	OpMknod:       func() request { return &mkReq{kind: OpMknod} },
	OpSymlink:     func() request { return new(symlinkReq) },
	OpLink:        func() request { return new(linkReq) },
	OpUnlink:      func() request { return new(unlinkReq) },
	OpRename:      func() request { return new(renameReq) },
	OpReadlink:    func() request { return &handleReq{kind: OpReadlink} },
	OpSetAttr:     func() request { return new(setAttrReq) },
	OpGetdents:    func() request { return new(getdentsReq) },
	OpGetxattr:    func() request { return &xattrNameReq{kind: OpGetxattr} },
	OpListxattr:   func() request { return &handleReq{kind: OpListxattr} },
	OpSetxattr:    func() request { return new(setxattrReq) },
	OpClose:       func() request { return &handleReq{kind: OpClose} },
	OpGrow:        func() request { return new(growReq) },
	OpRemovexattr: func() request { return &xattrNameReq{kind: OpRemovexattr} },
	OpWatch:       func() request { return new(watchReq) },
	OpUnwatch:     func() request { return new(unwatchReq) },
}

// newRequest returns an empty request of type op, nil for an unknown op.
func newRequest(op Op) request {
	if op == 0 || op >= opMax || requests[op] == nil {
		return nil
	}
	return requests[op]()
}

// Bounds of the variable-length fields.
const (
	// maxNameField accepts one byte more than NAME_MAX so that the server, not the
	// decoder, answers a too-long name (validName: EINVAL).
	maxNameField = MaxName + 1
	// maxXattrName is XATTR_NAME_MAX; maxXattrValue is XATTR_SIZE_MAX (also the bound of
	// a listxattr reply).
	maxXattrName  = 255
	maxXattrValue = 64 << 10
)

// handleField is the handle every handle request starts with.
type handleField struct{ Handle uint64 }

func (r *handleField) handle() uint64 { return r.Handle }

// attachReq asks for the root of mount Mount. Reply: entryReply.
type attachReq struct{ Mount uint32 }

func (*attachReq) op() Op              { return OpAttach }
func (r *attachReq) encode(e *encoder) { e.u32(r.Mount) }
func (r *attachReq) decode(d *decoder) { r.Mount = d.u32() }

// handleReq is a request with no field but its handle: stat (reply: attrReply), statfs
// (statFSReply), readlink and listxattr (stringReply), close (no body).
type handleReq struct {
	kind Op
	handleField
}

func (r *handleReq) op() Op            { return r.kind }
func (r *handleReq) encode(e *encoder) { e.u64(r.Handle) }
func (r *handleReq) decode(d *decoder) { r.Handle = d.u64() }

// walkReq looks up Name in directory Handle. Reply: entryReply. With Open, a regular
// file found is also opened read-only and its FD donated with the reply (the lookup of an
// open: one round trip instead of two); a file that cannot be opened so comes without.
//
// With Watch, the file found (not a symlink) is also watched on the host, on the instance
// of the kernel's caches (as OpWatch with Attrs, watch.go), and the attributes in the
// reply are taken after the watch began; the reply's WD says which watch (0: none).
type walkReq struct {
	handleField
	Name  string
	Open  bool
	Watch bool
}

func (*walkReq) op() Op { return OpWalk }
func (r *walkReq) encode(e *encoder) {
	e.u64(r.Handle)
	e.str(r.Name)
	e.bool(r.Open)
	e.bool(r.Watch)
}
func (r *walkReq) decode(d *decoder) {
	r.Handle = d.u64()
	r.Name = d.str(maxNameField)
	r.Open = d.u8() != 0
	r.Watch = d.u8() != 0
}

// openReq opens Handle's file with Flags; the reply carries the FD, no body.
type openReq struct {
	handleField
	Flags uint32
}

func (*openReq) op() Op { return OpOpen }
func (r *openReq) encode(e *encoder) {
	e.u64(r.Handle)
	e.u32(r.Flags)
}
func (r *openReq) decode(d *decoder) {
	r.Handle = d.u64()
	r.Flags = d.u32()
}

// createReq creates and opens regular file Name in directory Handle. Reply: entryReply
// and the FD.
type createReq struct {
	handleField
	Name        string
	Flags, Mode uint32
}

func (*createReq) op() Op { return OpCreate }
func (r *createReq) encode(e *encoder) {
	e.u64(r.Handle)
	e.str(r.Name)
	e.u32(r.Flags)
	e.u32(r.Mode)
}
func (r *createReq) decode(d *decoder) {
	r.Handle = d.u64()
	r.Name = d.str(maxNameField)
	r.Flags = d.u32()
	r.Mode = d.u32()
}

// mkReq makes directory (OpMkdir) or node (OpMknod) Name in directory Handle. Reply:
// entryReply.
type mkReq struct {
	kind Op
	handleField
	Name string
	Mode uint32
}

func (r *mkReq) op() Op { return r.kind }
func (r *mkReq) encode(e *encoder) {
	e.u64(r.Handle)
	e.str(r.Name)
	e.u32(r.Mode)
}
func (r *mkReq) decode(d *decoder) {
	r.Handle = d.u64()
	r.Name = d.str(maxNameField)
	r.Mode = d.u32()
}

// symlinkReq makes symlink Name to Target in directory Handle. Reply: entryReply.
type symlinkReq struct {
	handleField
	Name, Target string
}

func (*symlinkReq) op() Op { return OpSymlink }
func (r *symlinkReq) encode(e *encoder) {
	e.u64(r.Handle)
	e.str(r.Name)
	e.str(r.Target)
}
func (r *symlinkReq) decode(d *decoder) {
	r.Handle = d.u64()
	r.Name = d.str(maxNameField)
	r.Target = d.str(MaxPath)
}

// linkReq links file Target as Name in directory Handle. Reply: entryReply.
type linkReq struct {
	handleField
	Target uint64
	Name   string
}

func (*linkReq) op() Op { return OpLink }
func (r *linkReq) encode(e *encoder) {
	e.u64(r.Handle)
	e.u64(r.Target)
	e.str(r.Name)
}
func (r *linkReq) decode(d *decoder) {
	r.Handle = d.u64()
	r.Target = d.u64()
	r.Name = d.str(maxNameField)
}

// unlinkReq removes Name from directory Handle (a directory with AT_REMOVEDIR).
type unlinkReq struct {
	handleField
	Name  string
	Flags uint32
}

func (*unlinkReq) op() Op { return OpUnlink }
func (r *unlinkReq) encode(e *encoder) {
	e.u64(r.Handle)
	e.str(r.Name)
	e.u32(r.Flags)
}
func (r *unlinkReq) decode(d *decoder) {
	r.Handle = d.u64()
	r.Name = d.str(maxNameField)
	r.Flags = d.u32()
}

// renameReq moves OldName in directory Handle to NewName in directory NewDir
// (renameat2 flags).
type renameReq struct {
	handleField
	OldName string
	NewDir  uint64
	NewName string
	Flags   uint32
}

func (*renameReq) op() Op { return OpRename }
func (r *renameReq) encode(e *encoder) {
	e.u64(r.Handle)
	e.str(r.OldName)
	e.u64(r.NewDir)
	e.str(r.NewName)
	e.u32(r.Flags)
}
func (r *renameReq) decode(d *decoder) {
	r.Handle = d.u64()
	r.OldName = d.str(maxNameField)
	r.NewDir = d.u64()
	r.NewName = d.str(maxNameField)
	r.Flags = d.u32()
}

// SetAttr mask bits on the wire.
const (
	setMode = 1 << iota
	setUID
	setGID
	setSize
	setAtime
	setMtime
)

// setAttrReq changes the attributes Mask names (setMode, ...); the others are ignored.
type setAttrReq struct {
	handleField
	Mask, Mode, UID, GID uint32
	Size                 int64
	Atime, Mtime         Timespec
}

func (*setAttrReq) op() Op { return OpSetAttr }
func (r *setAttrReq) encode(e *encoder) {
	e.u64(r.Handle)
	e.u32(r.Mask)
	e.u32(r.Mode)
	e.u32(r.UID)
	e.u32(r.GID)
	e.u64(uint64(r.Size))
	e.timespec(r.Atime)
	e.timespec(r.Mtime)
}
func (r *setAttrReq) decode(d *decoder) {
	r.Handle = d.u64()
	r.Mask, r.Mode, r.UID, r.GID = d.u32(), d.u32(), d.u32(), d.u32()
	r.Size = int64(d.u64())
	r.Atime = d.timespec()
	r.Mtime = d.timespec()
}

// getdentsReq lists directory Handle from Offset. Reply: getdentsReply. With Plus, each
// entry is also walked as walkReq with Open and Watch would (Entries; the FDs of the
// entries whose HasFD is set come with the reply, in order, at most maxPlusFDs).
type getdentsReq struct {
	handleField
	Offset      uint64
	Plus        bool
	Open, Watch bool
}

func (*getdentsReq) op() Op { return OpGetdents }
func (r *getdentsReq) encode(e *encoder) {
	e.u64(r.Handle)
	e.u64(r.Offset)
	e.bool(r.Plus)
	e.bool(r.Open)
	e.bool(r.Watch)
}
func (r *getdentsReq) decode(d *decoder) {
	r.Handle = d.u64()
	r.Offset = d.u64()
	r.Plus = d.u8() != 0
	r.Open = d.u8() != 0
	r.Watch = d.u8() != 0
}

// maxPlusFDs bounds the FDs one getdents reply donates (SCM_MAX_FD is 253).
const maxPlusFDs = 240

// xattrNameReq reads (OpGetxattr; reply: stringReply) or removes (OpRemovexattr) the
// extended attribute Name.
type xattrNameReq struct {
	kind Op
	handleField
	Name string
}

func (r *xattrNameReq) op() Op { return r.kind }
func (r *xattrNameReq) encode(e *encoder) {
	e.u64(r.Handle)
	e.str(r.Name)
}
func (r *xattrNameReq) decode(d *decoder) {
	r.Handle = d.u64()
	r.Name = d.str(maxXattrName)
}

// setxattrReq sets extended attribute Name to Value (setxattr flags).
type setxattrReq struct {
	handleField
	Name  string
	Value string
	Flags uint32
}

func (*setxattrReq) op() Op { return OpSetxattr }
func (r *setxattrReq) encode(e *encoder) {
	e.u64(r.Handle)
	e.str(r.Name)
	e.str(r.Value)
	e.u32(r.Flags)
}
func (r *setxattrReq) decode(d *decoder) {
	r.Handle = d.u64()
	r.Name = d.str(maxXattrName)
	r.Value = d.str(maxXattrValue)
	r.Flags = d.u32()
}

// growReq asks that file Handle may reach End bytes (disk limit). Reply: u64Reply, the
// end granted.
type growReq struct {
	handleField
	End int64
}

func (*growReq) op() Op { return OpGrow }
func (r *growReq) encode(e *encoder) {
	e.u64(r.Handle)
	e.u64(uint64(r.End))
}
func (r *growReq) decode(d *decoder) {
	r.Handle = d.u64()
	r.End = int64(d.u64())
}

// watchReq watches Handle's file on the host. Reply: u32Reply, the host watch
// descriptor, and with WantFD the host inotify FD. With Names, Handle is a directory
// watched on a second instance for names appearing in it (the kernel's cache of missing
// names, watch.go); with Attrs, a file of any kind is watched on that instance for changes
// of its attributes (the kernel's attribute cache).
type watchReq struct {
	handleField
	WantFD bool
	Names  bool
	Attrs  bool
}

func (*watchReq) op() Op { return OpWatch }
func (r *watchReq) encode(e *encoder) {
	e.u64(r.Handle)
	e.bool(r.WantFD)
	e.bool(r.Names)
	e.bool(r.Attrs)
}
func (r *watchReq) decode(d *decoder) {
	r.Handle = d.u64()
	r.WantFD = d.u8() != 0
	r.Names = d.u8() != 0
	r.Attrs = d.u8() != 0
}

// unwatchReq drops host watch WD.
type unwatchReq struct {
	handleField
	WD uint32
}

func (*unwatchReq) op() Op { return OpUnwatch }
func (r *unwatchReq) encode(e *encoder) {
	e.u64(r.Handle)
	e.u32(r.WD)
}
func (r *unwatchReq) decode(d *decoder) {
	r.Handle = d.u64()
	r.WD = d.u32()
}

// Reply bodies.

// replyBody is the body of a successful reply.
type replyBody interface {
	encode(e *encoder)
	decode(d *decoder)
}

// entryReply is a new handle: walk, attach, create, mkdir, mknod, symlink, link.
// WD is the host watch a walk with Watch put on the file (0: none).
type entryReply struct {
	Handle uint64
	Attr   Attr
	Target string
	WD     uint32
}

func (r *entryReply) encode(e *encoder) {
	e.u64(r.Handle)
	e.attr(r.Attr)
	e.str(r.Target)
	e.u32(r.WD)
}
func (r *entryReply) decode(d *decoder) {
	r.Handle = d.u64()
	r.Attr = d.attr()
	r.Target = d.str(MaxPath)
	r.WD = d.u32()
}

// attrReply is stat's.
type attrReply struct{ Attr Attr }

func (r *attrReply) encode(e *encoder) { e.attr(r.Attr) }
func (r *attrReply) decode(d *decoder) { r.Attr = d.attr() }

// statFSReply is statfs's.
type statFSReply struct{ StatFS StatFS }

func (r *statFSReply) encode(e *encoder) {
	s := r.StatFS
	for _, v := range []uint64{uint64(s.Type), uint64(s.Bsize), s.Blocks, s.Bfree, s.Bavail, s.Files, s.Ffree,
		uint64(s.NameLen), uint64(s.Frsize), uint64(s.Flags)} {
		e.u64(v)
	}
}
func (r *statFSReply) decode(d *decoder) {
	s := &r.StatFS
	s.Type, s.Bsize = int64(d.u64()), int64(d.u64())
	s.Blocks, s.Bfree, s.Bavail, s.Files, s.Ffree = d.u64(), d.u64(), d.u64(), d.u64(), d.u64()
	s.NameLen, s.Frsize, s.Flags = int64(d.u64()), int64(d.u64()), int64(d.u64())
}

// stringReply is readlink's target, getxattr's value or listxattr's NUL-separated names.
type stringReply struct {
	S   string
	max int // the decoder's bound
}

func (r *stringReply) encode(e *encoder) { e.str(r.S) }
func (r *stringReply) decode(d *decoder) { r.S = d.str(r.max) }

// getdentsReply is one chunk of a directory: its entries and the offset of the next
// chunk (0: the end).
// With Plus, Entries has one entry per dirent (Handle 0: it could not be walked).
type getdentsReply struct {
	Next    uint64
	Dirents []Dirent
	Plus    bool
	Entries []plusEntry
}

// plusEntry is a walked dirent of a getdents reply with Plus.
type plusEntry struct {
	entryReply
	HasFD bool
}

func (r *getdentsReply) encode(e *encoder) {
	e.u64(r.Next)
	e.u32(uint32(len(r.Dirents)))
	for _, de := range r.Dirents {
		e.str(de.Name)
		e.u64(de.Ino)
		e.u8(uint8(de.Kind))
	}
	e.bool(r.Plus)
	if r.Plus {
		for _, pe := range r.Entries {
			pe.entryReply.encode(e)
			e.bool(pe.HasFD)
		}
	}
}
func (r *getdentsReply) decode(d *decoder) {
	r.Next = d.u64()
	n := d.u32()
	for range n {
		de := Dirent{Name: d.str(MaxName), Ino: d.u64(), Kind: Kind(d.u8())}
		if d.err != nil {
			return
		}
		r.Dirents = append(r.Dirents, de)
	}
	r.Plus = d.u8() != 0
	if r.Plus {
		for range n {
			var pe plusEntry
			pe.entryReply.decode(d)
			pe.HasFD = d.u8() != 0
			if d.err != nil {
				return
			}
			r.Entries = append(r.Entries, pe)
		}
	}
}

// u64Reply is grow's granted end; u32Reply is watch's descriptor.
type u64Reply struct{ V uint64 }

func (r *u64Reply) encode(e *encoder) { e.u64(r.V) }
func (r *u64Reply) decode(d *decoder) { r.V = d.u64() }

type u32Reply struct{ V uint32 }

func (r *u32Reply) encode(e *encoder) { e.u32(r.V) }
func (r *u32Reply) decode(d *decoder) { r.V = d.u32() }

// The handshake.

// helloReq is the client's first message: the magic and its version.
type helloReq struct{ Version uint32 }

func (r *helloReq) encode(e *encoder) {
	e.b = append(e.b, Magic...)
	e.u32(r.Version)
}
func (r *helloReq) decode(d *decoder) {
	if string(d.take(4)) != Magic && d.err == nil {
		d.err = errBadMagic
	}
	r.Version = d.u32()
}

// helloReply is the server's answer: the magic, its version (0: it refuses the
// client's) and the view's mounts.
type helloReply struct {
	Version uint32
	Mounts  []MountInfo
}

func (r *helloReply) encode(e *encoder) {
	e.b = append(e.b, Magic...)
	e.u32(r.Version)
	if r.Version == 0 {
		return
	}
	e.u32(uint32(len(r.Mounts)))
	for _, m := range r.Mounts {
		e.str(m.SandboxPath)
		e.bool(m.ReadOnly)
		e.u8(uint8(m.Kind))
	}
}
func (r *helloReply) decode(d *decoder) {
	if string(d.take(4)) != Magic && d.err == nil {
		d.err = errBadMagic
	}
	r.Version = d.u32()
	if r.Version != Version {
		return
	}
	n := d.u32()
	for i := range int(n) {
		m := MountInfo{Index: i, SandboxPath: d.str(MaxPath), ReadOnly: d.u8() != 0, Kind: Kind(d.u8())}
		if d.err != nil {
			return
		}
		r.Mounts = append(r.Mounts, m)
	}
}
