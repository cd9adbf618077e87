// Package loader loads x86-64 ELF programs (static, static-PIE and dynamic, with their
// PT_INTERP) and #! scripts into a fresh address space, and builds the initial stack
// (argv, envp, auxv) as Linux's binfmt_elf does.
package loader

import (
	"bytes"
	"crypto/rand"
	"debug/elf"
	"io"
	"math/big"
	"os"
	"strings"
	"sync"

	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// File is an executable opened by the kernel (after path resolution and permission checks).
type File interface {
	ReadAt(p []byte, off int64) (int, error)
}

// Opened is what Open returns.
type Opened struct {
	File     File
	Path     string // the resolved path, for /proc/PID/exe and maps
	Dev, Ino uint64
	Size     int64
	Release  func()
	// Hold keeps File readable for as long as a mapping of it exists.
	Hold mm.Holder
}

// Open resolves path for execution: ENOENT, EACCES (no exec permission, not a regular
// file, noexec mount) as execve(2) specifies.
type Open func(path string) (*Opened, error)

// Args are what execve passes.
type Args struct {
	Path  string
	Argv  []string
	Envv  []string
	Open  Open
	Creds struct{ UID, EUID, GID, EGID uint32 }
	// StackLimit is RLIMIT_STACK's soft limit.
	StackLimit uint64
	// NoASLR disables randomisation (personality ADDR_NO_RANDOMIZE).
	NoASLR bool
	// PathInaccessible marks a program named by a close-on-exec descriptor (execveat):
	// an interpreter could not open it after the exec, so a #! script fails with ENOENT
	// (Linux's BINPRM_FLAGS_PATH_INACCESSIBLE).
	PathInaccessible bool
}

// Result describes the loaded program.
type Result struct {
	Entry    uint64 // where execution starts (the interpreter's entry for dynamic programs)
	SP       uint64
	Exe      *Opened
	Comm     string
	Argv     []string
	Layout   mm.Layout
	BrkStart uint64
}

// maxInterpDepth is how many #! scripts may nest: Linux's exec_binprm runs the binary
// handlers at most six times (depth 0 to 5), the last one for the final program.
const maxInterpDepth = 5

// Load loads the program into m, which must be empty.
func Load(m *mm.MM, a Args) (*Result, error) {
	argv := a.Argv
	path := a.Path
	var f *Opened
	for depth := 0; ; depth++ {
		var err error
		f, err = a.Open(path)
		if err != nil {
			return nil, err
		}
		hdr := make([]byte, 256)
		n, err := f.File.ReadAt(hdr, 0)
		if err != nil && err != io.EOF {
			f.Release()
			return nil, unix.EIO
		}
		hdr = hdr[:n]
		if !bytes.HasPrefix(hdr, []byte("#!")) {
			break
		}
		f.Release()
		if depth >= maxInterpDepth {
			return nil, unix.ELOOP
		}
		if a.PathInaccessible {
			return nil, unix.ENOENT
		}
		interp, arg, ok := parseShebang(hdr)
		if !ok {
			return nil, unix.ENOEXEC
		}
		nargv := []string{interp}
		if arg != "" {
			nargv = append(nargv, arg)
		}
		nargv = append(nargv, path)
		if len(argv) > 1 {
			nargv = append(nargv, argv[1:]...)
		}
		argv = nargv
		path = interp
	}
	res, err := loadELF(m, a, f, path, argv)
	if err != nil {
		f.Release()
		return nil, err
	}
	return res, nil
}

// parseShebang parses "#!interp [arg]" from the first 256 bytes of a file as Linux's
// binfmt_script does: the line ends at a newline, else at byte 255 provided the
// interpreter name ends (at a blank or NUL) before it, else the name may be truncated and
// the file is not executable; blanks around the name and the one optional argument are
// trimmed, and a NUL ends either.
func parseShebang(hdr []byte) (string, string, bool) {
	var buf [256]byte
	copy(buf[:], hdr)
	blank := func(c byte) bool { return c == ' ' || c == '\t' }
	term := func(c byte) bool { return blank(c) || c == 0 }
	end := bytes.IndexByte(buf[:], '\n')
	if end < 0 {
		i := 2
		for i < 255 && blank(buf[i]) {
			i++
		}
		if i == 255 {
			return "", "", false // nothing but blanks
		}
		for i < 255 && !term(buf[i]) {
			i++
		}
		if i == 255 {
			return "", "", false // the name runs past the buffer
		}
		end = 255
	}
	line := buf[2:end]
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	s := strings.TrimLeft(strings.TrimRight(string(line), " \t"), " \t")
	if s == "" {
		return "", "", false
	}
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, "", true
	}
	return s[:i], strings.TrimLeft(s[i:], " \t"), true
}

// Layout constants for an x86-64 process.
const (
	pieBase     = 0x555555554000
	stackGap    = 128 << 20
	maxStackRnd = 1 << 34 // 16 GiB, as Linux's STACK_RND_MASK on x86-64
	maxMmapRnd  = 1 << 40 // 2^28 pages
	maxPieRnd   = 1 << 40
	maxBrkRnd   = 1 << 25 // 32 MiB
)

func randPages(limit uint64, off bool) uint64 {
	if off || limit == 0 {
		return 0
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(limit/mm.PageSize)))
	if err != nil {
		return 0
	}
	return n.Uint64() * mm.PageSize
}

func protOf(flags elf.ProgFlag) platform.Prot {
	var p platform.Prot
	if flags&elf.PF_R != 0 {
		p |= platform.ProtRead
	}
	if flags&elf.PF_W != 0 {
		p |= platform.ProtWrite
	}
	if flags&elf.PF_X != 0 {
		p |= platform.ProtExec
	}
	return p
}

type image struct {
	entry, base, phdr  uint64
	phnum, phent       uint64
	end                uint64 // end of the highest segment (brk start for the main program)
	startCode, endCode uint64
	startData          uint64
	interp             string
}

// readerAt adapts File to io.ReaderAt for debug/elf.
type readerAt struct{ f File }

func (r readerAt) ReadAt(p []byte, off int64) (int, error) { return r.f.ReadAt(p, off) }

// loadImage maps an ELF file's PT_LOAD segments. For ET_DYN, bias picks the load address
// (0: let the mmap allocator choose).
func loadImage(m *mm.MM, f *Opened, bias uint64, isMain bool) (*image, error) {
	ef, err := elf.NewFile(readerAt{f.File})
	if err != nil {
		return nil, unix.ENOEXEC
	}
	if ef.Class != elf.ELFCLASS64 || ef.Machine != elf.EM_X86_64 || ef.Data != elf.ELFDATA2LSB {
		return nil, unix.ENOEXEC
	}
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		return nil, unix.ENOEXEC
	}
	img := &image{phnum: uint64(len(ef.Progs)), phent: 56}
	var lo, hi uint64 = ^uint64(0), 0
	var loads []*elf.Prog
	for _, p := range ef.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			if p.Memsz == 0 {
				continue
			}
			if p.Filesz > p.Memsz {
				return nil, unix.ENOEXEC
			}
			loads = append(loads, p)
			lo = min(lo, p.Vaddr&^(mm.PageSize-1))
			hi = max(hi, p.Vaddr+p.Memsz)
		case elf.PT_INTERP:
			if !isMain {
				continue
			}
			b := make([]byte, p.Filesz)
			if _, err := f.File.ReadAt(b, int64(p.Off)); err != nil && err != io.EOF {
				return nil, unix.EIO
			}
			img.interp = strings.TrimRight(string(b), "\x00")
			if img.interp == "" {
				return nil, unix.ENOEXEC
			}
		}
	}
	if len(loads) == 0 {
		return nil, unix.ENOEXEC
	}
	total := (hi + mm.PageSize - 1) &^ (mm.PageSize - 1)
	total -= lo
	var load uint64 // added to p_vaddr
	if ef.Type == elf.ET_DYN {
		// Reserve the whole span first so segments land relative to each other.
		addr, err := m.Map(mm.MapOpts{Addr: bias, Length: total, Prot: 0})
		if err != nil {
			return nil, err
		}
		load = addr - lo
		if err := m.Unmap(addr, total); err != nil {
			return nil, err
		}
	}
	img.base = load + lo
	for _, p := range loads {
		start := (p.Vaddr + load) &^ (mm.PageSize - 1)
		pageOff := (p.Vaddr + load) - start
		fileStart := int64(p.Off) - int64(pageOff)
		if fileStart < 0 {
			return nil, unix.ENOEXEC
		}
		fileEnd := p.Vaddr + load + p.Filesz
		memEnd := p.Vaddr + load + p.Memsz
		prot := protOf(p.Flags)
		// The file-backed part (copied: private mapping).
		fileMapEnd := (fileEnd + mm.PageSize - 1) &^ (mm.PageSize - 1)
		if p.Filesz > 0 {
			// The file's own pages (shared through the page cache when it can) with the
			// start of .bss in the last one zeroed, as Linux's padzero does; or a copy
			// whose bytes past p_filesz read as zero.
			var src mm.Source = &segmentSource{f: f.File, limit: int64(p.Off + p.Filesz)}
			_, whole := f.File.(mm.Cacheable)
			if _, direct := f.File.(mm.DirectSource); direct {
				whole = true // mapped from the host file itself (mm/direct.go)
			}
			pad := memEnd > fileEnd && fileMapEnd > fileEnd
			whole = whole && (!pad || prot&platform.ProtWrite != 0)
			if whole {
				src = f.File
			}
			if _, err := m.Map(mm.MapOpts{Addr: start, Length: fileMapEnd - start, Prot: prot, Fixed: true,
				Source: src, Hold: f.Hold, Offset: fileStart, Name: f.Path, Dev: f.Dev, Ino: f.Ino}); err != nil {
				return nil, err
			}
			if whole && pad {
				if err := m.ZeroOut(fileEnd, int(fileMapEnd-fileEnd)); err != nil {
					return nil, err
				}
			}
		} else {
			fileMapEnd = start
		}
		// Anonymous pages for the rest of .bss.
		if memEnd > fileMapEnd {
			if _, err := m.Map(mm.MapOpts{Addr: fileMapEnd, Length: memEnd - fileMapEnd, Prot: prot, Fixed: true}); err != nil {
				return nil, err
			}
		}
		if p.Flags&elf.PF_X != 0 {
			if img.startCode == 0 || start < img.startCode {
				img.startCode = start
			}
			img.endCode = max(img.endCode, fileEnd)
		} else if img.startData == 0 {
			img.startData = p.Vaddr + load
		}
		img.end = max(img.end, memEnd)
	}
	img.entry = ef.Entry + load
	// AT_PHDR: where the program headers are in memory.
	phoff := phdrOffset(f.File)
	for _, p := range loads {
		if phoff >= p.Off && phoff < p.Off+p.Filesz {
			img.phdr = p.Vaddr + load + (phoff - p.Off)
			break
		}
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_PHDR {
			img.phdr = p.Vaddr + load
		}
	}
	return img, nil
}

func phdrOffset(f File) uint64 {
	var b [8]byte
	if _, err := f.ReadAt(b[:], 32); err != nil {
		return 0
	}
	return abi.U64(b[:])
}

// segmentSource reads a segment's file bytes and zeroes what lies past p_filesz (the start of
// .bss sharing the last file page).
type segmentSource struct {
	f     File
	limit int64
}

func (s *segmentSource) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.limit {
		return 0, io.EOF
	}
	want := p
	if int64(len(p)) > s.limit-off {
		want = p[:s.limit-off]
	}
	n, err := s.f.ReadAt(want, off)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

func loadELF(m *mm.MM, a Args, f *Opened, path string, argv []string) (*Result, error) {
	stackRnd := randPages(maxStackRnd, a.NoASLR)
	stackTop := (m.MaxAddr() - mm.PageSize - stackRnd) &^ 15
	stackLimit := a.StackLimit
	if stackLimit == 0 || stackLimit > 1<<30 {
		stackLimit = 8 << 20
	}
	gap := max(uint64(stackGap), stackLimit)
	mmapBase := (stackTop - gap - randPages(maxMmapRnd, a.NoASLR)) &^ (mm.PageSize - 1)
	m.SetMmapBase(mmapBase)

	main, err := loadImage(m, f, pieBase+randPages(maxPieRnd, a.NoASLR), true)
	if err != nil {
		return nil, err
	}
	entry := main.entry
	var interpBase uint64
	if main.interp != "" {
		ifile, err := a.Open(main.interp)
		if err != nil {
			if err == unix.EACCES || err == unix.ENOENT {
				return nil, err
			}
			return nil, err
		}
		interp, err := loadImage(m, ifile, 0, false)
		ifile.Release()
		if err != nil {
			if err == unix.ENOEXEC {
				return nil, unix.ELIBBAD
			}
			return nil, err
		}
		entry = interp.entry
		interpBase = interp.base
	}
	brk := (main.end + mm.PageSize - 1) &^ (mm.PageSize - 1)
	brk += randPages(maxBrkRnd, a.NoASLR)
	m.SetBrk(brk)

	// The stack: mapped eagerly up to the limit (the memory file is sparse).
	stackSize := (stackLimit + mm.PageSize - 1) &^ (mm.PageSize - 1)
	stackEnd := (stackTop + mm.PageSize) &^ (mm.PageSize - 1)
	if _, err := m.Map(mm.MapOpts{Addr: stackEnd - stackSize, Length: stackSize, Prot: platform.ProtRead | platform.ProtWrite,
		Fixed: true, GrowsDown: true, Name: "[stack]"}); err != nil {
		return nil, err
	}
	sb := &stackBuilder{m: m, sp: stackTop}
	execfn, err := sb.pushString(a.Path)
	if err != nil {
		return nil, err
	}
	var rnd [16]byte
	rand.Read(rnd[:])
	atRandom, err := sb.pushBytes(rnd[:])
	if err != nil {
		return nil, err
	}
	atPlatform, err := sb.pushString("x86_64")
	if err != nil {
		return nil, err
	}
	// argv and envp strings, envp above argv as Linux places them.
	envEnd := sb.sp
	envPtrs := make([]uint64, len(a.Envv))
	for i := len(a.Envv) - 1; i >= 0; i-- {
		if envPtrs[i], err = sb.pushString(a.Envv[i]); err != nil {
			return nil, err
		}
	}
	envStart := sb.sp
	argEnd := sb.sp
	argPtrs := make([]uint64, len(argv))
	for i := len(argv) - 1; i >= 0; i-- {
		if argPtrs[i], err = sb.pushString(argv[i]); err != nil {
			return nil, err
		}
	}
	argStart := sb.sp
	hw := hostAux()
	var auxv []uint64
	if v := m.VDSO(); v != nil {
		auxv = append(auxv, abi.AT_SYSINFO_EHDR, v.Base)
	}
	auxv = append(auxv,
		abi.AT_PHDR, main.phdr, abi.AT_PHENT, main.phent, abi.AT_PHNUM, main.phnum,
		abi.AT_PAGESZ, mm.PageSize, abi.AT_BASE, interpBase, abi.AT_FLAGS, 0, abi.AT_ENTRY, main.entry,
		abi.AT_UID, uint64(a.Creds.UID), abi.AT_EUID, uint64(a.Creds.EUID), abi.AT_GID, uint64(a.Creds.GID),
		abi.AT_EGID, uint64(a.Creds.EGID), abi.AT_SECURE, 0, abi.AT_RANDOM, atRandom,
		abi.AT_HWCAP, hw.hwcap, abi.AT_HWCAP2, hw.hwcap2, abi.AT_CLKTCK, 100,
		abi.AT_EXECFN, execfn, abi.AT_PLATFORM, atPlatform,
	)
	if hw.minsigstksz != 0 {
		auxv = append(auxv, abi.AT_MINSIGSTKSZ, hw.minsigstksz)
	}
	auxv = append(auxv, abi.AT_NULL, 0)
	// Pointers: argc, argv[], NULL, envp[], NULL, auxv — 16-byte aligned at argc.
	words := 1 + len(argPtrs) + 1 + len(envPtrs) + 1 + len(auxv)
	sb.sp = (sb.sp - uint64(words*8)) &^ 15
	buf := make([]byte, 0, words*8)
	put := func(v uint64) { buf = abi.AppendU64(buf, v) }
	put(uint64(len(argPtrs)))
	for _, p := range argPtrs {
		put(p)
	}
	put(0)
	for _, p := range envPtrs {
		put(p)
	}
	put(0)
	for _, v := range auxv {
		put(v)
	}
	if _, err := m.CopyOut(sb.sp, buf); err != nil {
		return nil, err
	}
	comm := path
	if i := strings.LastIndexByte(comm, '/'); i >= 0 {
		comm = comm[i+1:]
	}
	if len(comm) > 15 {
		comm = comm[:15]
	}
	return &Result{Entry: entry, SP: sb.sp, Exe: f, Comm: comm, Argv: argv, BrkStart: brk,
		Layout: mm.Layout{ArgStart: argStart, ArgEnd: argEnd, EnvStart: envStart, EnvEnd: envEnd, StackTop: stackTop,
			StackStart: sb.sp, StartCode: main.startCode, EndCode: main.endCode, StartData: main.startData, Auxv: auxv}}, nil
}

type stackBuilder struct {
	m  *mm.MM
	sp uint64
}

func (s *stackBuilder) pushBytes(b []byte) (uint64, error) {
	s.sp -= uint64(len(b))
	if _, err := s.m.CopyOut(s.sp, b); err != nil {
		return 0, unix.E2BIG
	}
	return s.sp, nil
}

func (s *stackBuilder) pushString(str string) (uint64, error) {
	return s.pushBytes(append([]byte(str), 0))
}

type hostAuxv struct{ hwcap, hwcap2, minsigstksz uint64 }

var (
	hostAuxOnce sync.Once
	hostAuxVal  hostAuxv
)

// PrimeHostAux reads the host's hardware capability words from the kernel process's own
// auxv. Call it before the process confines itself (it reads /proc/self/auxv).
func PrimeHostAux() { hostAux() }

func hostAux() hostAuxv {
	hostAuxOnce.Do(func() {
		b, err := os.ReadFile("/proc/self/auxv")
		if err != nil {
			return
		}
		for i := 0; i+16 <= len(b); i += 16 {
			k, v := abi.U64(b[i:]), abi.U64(b[i+8:])
			switch k {
			case abi.AT_HWCAP:
				hostAuxVal.hwcap = v
			case abi.AT_HWCAP2:
				hostAuxVal.hwcap2 = v
			case abi.AT_MINSIGSTKSZ:
				hostAuxVal.minsigstksz = v
			}
		}
	})
	return hostAuxVal
}
