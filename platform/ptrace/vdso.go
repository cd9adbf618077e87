package ptrace

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// The vDSO (platform.VDSO). Every host process, each stub included, gets the host kernel's
// [vvar] pages (read-only timekeeping data; [vvar_vclock] too on newer kernels) and, right
// after them, the [vdso] code that reads them RIP-relatively. At its exec stop, before its
// seccomp filter exists, each stub moves that block with mremap (Linux allows moving these
// special mappings whole, as CRIU does) to one address the platform picked at start, above
// the stub's own pages; the rest of the stub's address space is then emptied as before. So
// every address space shows the vDSO at the same place, across fork and exec, and the app
// reads the host's clocks without a syscall; a clock the vDSO does not serve makes a
// `syscall` from vDSO code, which PTRACE_SYSEMU stops or the trap filter traps like any
// other, so the kernel still handles it.

// vdsoLow is the lowest address the vDSO block may start at: above the stub's page and the
// trap stub's shared area. The platform picks a random page in the 4 GiB above it.
const (
	vdsoLow  = 0x7ff000200000
	vdsoSpan = 1 << 32
)

// hostVDSO describes the host's vDSO block as this process sees it, moved to the address the
// platform picked: the mappings' offsets from the [vdso] start are the same in every process.
type hostVDSO struct {
	v *platform.VDSO
	// maps are the block's mappings' offsets from the [vdso] start and lengths.
	maps []struct{ off, len int64 }
	// start and end bound the moved block.
	start, end uint64
}

// findHostVDSO reads this process's vDSO block from /proc/self (so it runs before the kernel
// confines itself) and places it at a random page above vdsoLow. nil: the host maps no
// vDSO (vdso=0) or a layout this code does not know; the platform then shows none.
func findHostVDSO() *hostVDSO {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil
	}
	type m struct {
		start, end uint64
		prot       platform.Prot
		name       string
	}
	var block []m
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || !(f[5] == "[vdso]" || strings.HasPrefix(f[5], "[vvar")) {
			continue
		}
		var x m
		if _, err := fmt.Sscanf(f[0], "%x-%x", &x.start, &x.end); err != nil {
			return nil
		}
		for i, c := range "rwx" {
			if f[1][i] == byte(c) {
				x.prot |= []platform.Prot{platform.ProtRead, platform.ProtWrite, platform.ProtExec}[i]
			}
		}
		x.name = f[5]
		block = append(block, x)
	}
	// The [vvar*] mappings then [vdso], back to back.
	if len(block) < 2 || block[len(block)-1].name != "[vdso]" {
		return nil
	}
	for i := 1; i < len(block); i++ {
		if block[i].start != block[i-1].end || block[i-1].name == "[vdso]" {
			return nil
		}
	}
	text := block[len(block)-1]
	image := make([]byte, text.end-text.start)
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		return nil
	}
	_, err = mem.ReadAt(image, int64(text.start))
	mem.Close()
	if err != nil || !bytes.HasPrefix(image, []byte("\x7fELF")) {
		return nil
	}
	var r [8]byte
	rand.Read(r[:])
	start := vdsoLow + binary.LittleEndian.Uint64(r[:])%(vdsoSpan/pageSize)*pageSize
	h := &hostVDSO{v: &platform.VDSO{Image: image}, start: start}
	for _, x := range block {
		off := int64(x.start) - int64(text.start)
		h.maps = append(h.maps, struct{ off, len int64 }{off, int64(x.end - x.start)})
		a := start + (x.start - block[0].start)
		h.v.Maps = append(h.v.Maps, platform.VDSOMap{Start: a, End: a + (x.end - x.start), Prot: x.prot, Name: x.name})
	}
	h.end = start + (text.end - block[0].start)
	h.v.Base = start + (text.start - block[0].start)
	return h
}

const pageSize = 0x1000

// emptyRanges are the ranges a new stub unmaps once started: everything but keep (sorted,
// disjoint) and the vDSO block.
func (p *Platform) emptyRanges(keep ...[2]uint64) [][2]uint64 {
	if p.vdso != nil {
		keep = append(keep, [2]uint64{p.vdso.start, p.vdso.end})
	}
	// A shared stub's thread areas lie above the vDSO block.
	slices.SortFunc(keep, func(a, b [2]uint64) int { return cmp.Compare(a[0], b[0]) })
	var out [][2]uint64
	at := uint64(0)
	for _, k := range keep {
		if k[0] > at {
			out = append(out, [2]uint64{at, k[0]})
		}
		at = k[1]
	}
	if at < taskSize {
		out = append(out, [2]uint64{at, taskSize})
	}
	return out
}

// moveVDSO moves the stub's vDSO block to the platform's address. Preconditions: s is at
// its exec stop (no seccomp filter yet); its registers are kept.
func (s *stubProc) moveVDSO() error {
	h := s.ctx.p.vdso
	if h == nil {
		return nil
	}
	var regs platform.Registers
	if err := getRegs(s.pid, &regs); err != nil {
		return err
	}
	// The auxiliary vector follows argc, argv and envp on the new stack: its
	// AT_SYSINFO_EHDR is where the host put this stub's [vdso].
	// Read word by word (the stack may end just past the vector's strings), each word once,
	// up to the entry: a peek is a syscall, and every stub starts here (x86-64 puts
	// AT_SYSINFO_EHDR first, after the stub's one argument and empty environment).
	var text uint64
	var werr error
	w := func(i int) uint64 {
		var b [8]byte
		if werr != nil {
			return 0
		}
		if _, werr = unix.PtracePeekData(s.pid, uintptr(regs.Rsp)+uintptr(8*i), b[:]); werr != nil {
			return 0
		}
		return binary.LittleEndian.Uint64(b[:])
	}
	i := 1 + int(w(0)) + 1 // past argc, argv, NULL
	for i < 512 && w(i) != 0 {
		i++ // envp
	}
	for i++; i < 512 && text == 0; i += 2 {
		typ := w(i)
		if typ == 0 {
			break // AT_NULL
		}
		if typ == 33 { // AT_SYSINFO_EHDR
			text = w(i + 1)
		}
	}
	if werr != nil {
		return fmt.Errorf("ptrace: reading the stub's auxiliary vector: %w", werr)
	}
	if text == 0 {
		return (fmt.Errorf("ptrace: the stub has no vDSO though sbx has one"))
	}
	for _, m := range h.maps {
		from := uint64(int64(text) + m.off)
		to := uint64(int64(h.v.Base) + m.off)
		r, err := s.inject(sysMremap, uintptr(from), uintptr(m.len), uintptr(m.len), unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, uintptr(to), 0)
		if err != nil {
			return fmt.Errorf("ptrace: moving the stub's vDSO: %w", err)
		}
		if uint64(r) != to {
			return (fmt.Errorf("ptrace: moving the stub's vDSO: mremap returned %#x, want %#x", r, to))
		}
	}
	if err := setRegs(s.pid, &regs); err != nil {
		return err
	}
	return nil
}

// VDSO implements platform.Platform.
func (p *Platform) VDSO() *platform.VDSO {
	if p.vdso == nil {
		return nil
	}
	return p.vdso.v
}
