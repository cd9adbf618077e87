package abi

import "encoding/binary"

// Rlimit is struct rlimit of getrlimit(2), setrlimit(2) and prlimit64(2) (struct
// rlimit64 has the same layout on x86-64; include/uapi/linux/resource.h).
type Rlimit struct {
	Cur uint64 `c:"rlim_cur"`
	Max uint64 `c:"rlim_max"`
}

// SizeofRlimit is sizeof(struct rlimit).
const SizeofRlimit = 16

// Encode writes r to b[:SizeofRlimit].
func (r *Rlimit) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], r.Cur)
	binary.LittleEndian.PutUint64(b[8:], r.Max)
}

// Decode reads r from b[:SizeofRlimit].
func (r *Rlimit) Decode(b []byte) {
	r.Cur, r.Max = binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])
}

// Rusage is struct rusage of getrusage(2) and wait4(2) (include/uapi/linux/resource.h).
type Rusage struct {
	Utime    Timeval `c:"ru_utime"`
	Stime    Timeval `c:"ru_stime"`
	Maxrss   int64   `c:"ru_maxrss"`
	Ixrss    int64   `c:"ru_ixrss"`
	Idrss    int64   `c:"ru_idrss"`
	Isrss    int64   `c:"ru_isrss"`
	Minflt   int64   `c:"ru_minflt"`
	Majflt   int64   `c:"ru_majflt"`
	Nswap    int64   `c:"ru_nswap"`
	Inblock  int64   `c:"ru_inblock"`
	Oublock  int64   `c:"ru_oublock"`
	Msgsnd   int64   `c:"ru_msgsnd"`
	Msgrcv   int64   `c:"ru_msgrcv"`
	Nsignals int64   `c:"ru_nsignals"`
	Nvcsw    int64   `c:"ru_nvcsw"`
	Nivcsw   int64   `c:"ru_nivcsw"`
}

// SizeofRusage is sizeof(struct rusage).
const SizeofRusage = 144

// Encode writes r to b[:SizeofRusage].
func (r *Rusage) Encode(b []byte) {
	r.Utime.Encode(b[0:])
	r.Stime.Encode(b[16:])
	for i, v := range []int64{r.Maxrss, r.Ixrss, r.Idrss, r.Isrss, r.Minflt, r.Majflt, r.Nswap, r.Inblock, r.Oublock,
		r.Msgsnd, r.Msgrcv, r.Nsignals, r.Nvcsw, r.Nivcsw} {
		binary.LittleEndian.PutUint64(b[32+8*i:], uint64(v))
	}
}

// Decode reads r from b[:SizeofRusage].
func (r *Rusage) Decode(b []byte) {
	r.Utime, r.Stime = DecodeTimeval(b[0:]), DecodeTimeval(b[16:])
	for i, p := range []*int64{&r.Maxrss, &r.Ixrss, &r.Idrss, &r.Isrss, &r.Minflt, &r.Majflt, &r.Nswap, &r.Inblock,
		&r.Oublock, &r.Msgsnd, &r.Msgrcv, &r.Nsignals, &r.Nvcsw, &r.Nivcsw} {
		*p = int64(binary.LittleEndian.Uint64(b[32+8*i:]))
	}
}

// Sysinfo is struct sysinfo of sysinfo(2) on x86-64 (include/uapi/linux/sysinfo.h).
type Sysinfo struct {
	Uptime    int64     `c:"uptime"`
	Loads     [3]uint64 `c:"loads"`
	Totalram  uint64    `c:"totalram"`
	Freeram   uint64    `c:"freeram"`
	Sharedram uint64    `c:"sharedram"`
	Bufferram uint64    `c:"bufferram"`
	Totalswap uint64    `c:"totalswap"`
	Freeswap  uint64    `c:"freeswap"`
	Procs     uint16    `c:"procs"`
	_         uint16    // pad
	_         uint32    // alignment of totalhigh
	Totalhigh uint64    `c:"totalhigh"`
	Freehigh  uint64    `c:"freehigh"`
	MemUnit   uint32    `c:"mem_unit"`
	_         uint32    // _f (empty on 64-bit) and the structure's alignment
}

// SizeofSysinfo is sizeof(struct sysinfo).
const SizeofSysinfo = 112

// Encode writes s to b[:SizeofSysinfo] (padding zeroed).
func (s *Sysinfo) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(s.Uptime))
	for i, v := range []uint64{s.Loads[0], s.Loads[1], s.Loads[2], s.Totalram, s.Freeram, s.Sharedram, s.Bufferram,
		s.Totalswap, s.Freeswap} {
		le.PutUint64(b[8+8*i:], v)
	}
	le.PutUint16(b[80:], s.Procs)
	clear(b[82:88])
	le.PutUint64(b[88:], s.Totalhigh)
	le.PutUint64(b[96:], s.Freehigh)
	le.PutUint32(b[104:], s.MemUnit)
	clear(b[108:SizeofSysinfo])
}

// Decode reads s from b[:SizeofSysinfo].
func (s *Sysinfo) Decode(b []byte) {
	le := binary.LittleEndian
	s.Uptime = int64(le.Uint64(b[0:]))
	for i, p := range []*uint64{&s.Loads[0], &s.Loads[1], &s.Loads[2], &s.Totalram, &s.Freeram, &s.Sharedram,
		&s.Bufferram, &s.Totalswap, &s.Freeswap} {
		*p = le.Uint64(b[8+8*i:])
	}
	s.Procs = le.Uint16(b[80:])
	s.Totalhigh, s.Freehigh, s.MemUnit = le.Uint64(b[88:]), le.Uint64(b[96:]), le.Uint32(b[104:])
}

// Utsname is struct new_utsname of uname(2) (include/uapi/linux/utsname.h): six
// NUL-terminated strings of at most 64 bytes.
type Utsname struct {
	Sysname    [65]byte `c:"sysname"`
	Nodename   [65]byte `c:"nodename"`
	Release    [65]byte `c:"release"`
	Version    [65]byte `c:"version"`
	Machine    [65]byte `c:"machine"`
	Domainname [65]byte `c:"domainname"`
}

// SizeofUtsname is sizeof(struct new_utsname).
const SizeofUtsname = 6 * 65

// Encode writes u to b[:SizeofUtsname].
func (u *Utsname) Encode(b []byte) {
	for i, f := range []*[65]byte{&u.Sysname, &u.Nodename, &u.Release, &u.Version, &u.Machine, &u.Domainname} {
		copy(b[65*i:65*(i+1)], f[:])
	}
}

// Decode reads u from b[:SizeofUtsname].
func (u *Utsname) Decode(b []byte) {
	for i, f := range []*[65]byte{&u.Sysname, &u.Nodename, &u.Release, &u.Version, &u.Machine, &u.Domainname} {
		copy(f[:], b[65*i:65*(i+1)])
	}
}

// UtsField returns s as a utsname field: at most 64 bytes and a NUL.
func UtsField(s string) [65]byte {
	var f [65]byte
	copy(f[:64], s)
	return f
}
