package procfs

import (
	"bytes"
	"strconv"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// oomNode is /proc/PID/oom_score_adj, or with legacy /proc/PID/oom_adj: the process's
// value, which a write sets as Linux's oom_score_adj_write and oom_adj_write do.
type oomNode struct {
	node
	vfs.NotDir
	k      *kernel.Kernel
	tg     *kernel.ThreadGroup
	legacy bool
}

func (o *oomNode) Stat() (vfs.Attr, error) { return o.attr(unix.S_IFREG|0o644, 0), nil }

func (o *oomNode) Open(int) (vfs.File, error) {
	if o.tg.Zombie() {
		return nil, unix.ESRCH
	}
	v := o.tg.OOMScoreAdj()
	if o.legacy {
		v = o.tg.OOMAdj()
	}
	return &oomFile{snapshot: snapshot{data: []byte(strconv.Itoa(v) + "\n")}, o: o}, nil
}

type oomFile struct {
	snapshot
	o *oomNode
}

// procNumBuf is Linux's PROC_NUMBUF: a write is read into a buffer this size, NUL
// terminated, so only its first 12 bytes count.
const procNumBuf = 13

// WriteBy implements kernel.TaskWriter.
func (f *oomFile) WriteBy(w *kernel.Task, _ int64, p []byte) (int, error) {
	n := min(len(p), procNumBuf-1)
	s := p[:n]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	v, err := kstrtoint(string(bytes.Trim(s, " \t\n\v\f\r")))
	if err != nil {
		return 0, err
	}
	capRes := w.NSCapable(f.o.k.RootUserNS(), unix.CAP_SYS_RESOURCE)
	if err := f.o.tg.SetOOMScoreAdj(v, f.o.legacy, capRes); err != nil {
		return 0, err
	}
	return n, nil
}

// kstrtoint parses s as Linux's kstrtoint(s, 0, ...) does: an optional sign ('-', or '+'
// after it), then "0x" for hexadecimal, a leading 0 for octal, else decimal, and nothing
// else; EINVAL when malformed, ERANGE when it does not fit an int.
func kstrtoint(s string) (int, error) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) > 0 && s[0] == '+' {
		s = s[1:]
	}
	base := uint64(10)
	if len(s) >= 3 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isHex(s[2]) {
		base, s = 16, s[2:]
	} else if len(s) > 0 && s[0] == '0' {
		base = 8
	}
	if s == "" {
		return 0, unix.EINVAL
	}
	var v uint64
	overflow := false
	for i := 0; i < len(s); i++ {
		var d uint64
		switch c := s[i] | 0x20; {
		case s[i] >= '0' && s[i] <= '9':
			d = uint64(s[i] - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		default:
			return 0, unix.EINVAL
		}
		if d >= base {
			return 0, unix.EINVAL
		}
		if v > (1<<64-1-d)/base {
			overflow = true
		}
		v = v*base + d
	}
	switch {
	case overflow:
		return 0, unix.ERANGE
	case neg && v <= 1<<31:
		return -int(v), nil
	case !neg && v < 1<<31:
		return int(v), nil
	}
	return 0, unix.ERANGE
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f'
}

// oomScore is /proc/PID/oom_score (proc_oom_score): the process's badness scaled into
// 0..2000 of the sandbox's memory, which is its machine.
func oomScore(k *kernel.Kernel, tg *kernel.ThreadGroup) int64 {
	m := tg.MM()
	if m == nil {
		return 0
	}
	mi := k.MemInfo()
	return kernel.OOMScore(m.Resident().Total(), tg.OOMScoreAdj(), (mi.Total+mi.SwapTotal)/4096)
}
