package seccomp

import (
	"testing"

	"golang.org/x/sys/unix"
)

func stmt(code uint16, k uint32) Insn { return Insn{Code: code, K: k} }
func jump(code uint16, k uint32, jt, jf uint8) Insn {
	return Insn{Code: code, K: k, Jt: jt, Jf: jf}
}

var (
	ldNr  = stmt(bpfLD|bpfW|bpfABS, 0)
	allow = stmt(bpfRET|bpfK, RetAllow)
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		prog []Insn
		ok   bool
	}{
		{"allow", []Insn{allow}, true},
		{"empty", nil, false},
		{"no return last", []Insn{ldNr}, false},
		{"byte load", []Insn{stmt(bpfLD|0x10|bpfABS, 0), allow}, false},
		{"unaligned load", []Insn{stmt(bpfLD|bpfW|bpfABS, 2), allow}, false},
		{"load past seccomp_data", []Insn{stmt(bpfLD|bpfW|bpfABS, 64), allow}, false},
		{"jump past the end", []Insn{ldNr, jump(bpfJMP|bpfJEQ, 1, 1, 0), allow}, false},
		{"ja past the end", []Insn{stmt(bpfJMP|bpfJA, 1), allow}, false},
		{"divide by constant zero", []Insn{stmt(bpfALU|bpfDIV|bpfK, 0), allow}, false},
		{"shift by 32", []Insn{stmt(bpfALU|bpfRSH|bpfK, 32), allow}, false},
		{"scratch index", []Insn{stmt(bpfST, 16), allow}, false},
		{"read before write", []Insn{stmt(bpfLD|bpfMEM, 0), allow}, false},
		{"written on one path only", []Insn{ldNr, jump(bpfJMP|bpfJEQ, 1, 0, 1), stmt(bpfST, 2), stmt(bpfLD|bpfMEM, 2), allow}, false},
		{"written on every path", []Insn{stmt(bpfST, 2), ldNr, jump(bpfJMP|bpfJEQ, 1, 0, 0), stmt(bpfLDX|bpfMEM, 2), allow}, true},
		{"return x", []Insn{stmt(bpfRET|bpfX, 0)}, false},
		{"len", []Insn{stmt(bpfLD|bpfW|bpfLEN, 0), stmt(bpfRET|bpfA, 0)}, true},
	}
	for _, tt := range tests {
		err := Check(tt.prog)
		if (err == nil) != tt.ok {
			t.Errorf("Check(%s) = %v; want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && err != unix.EINVAL {
			t.Errorf("Check(%s) = %v; want EINVAL", tt.name, err)
		}
	}
}

func TestRunPrecedence(t *testing.T) {
	ret := func(v uint32) []Insn { return []Insn{stmt(bpfRET|bpfK, v)} }
	f, _ := NewFilter(ret(RetErrno|1), nil, false, nil)
	f, _ = NewFilter(ret(RetAllow), f, false, nil)
	f, _ = NewFilter(ret(RetErrno|2), f, false, nil)
	d := &Data{}
	if r, m := f.Run(d); r != RetErrno|2 || m != f {
		t.Errorf("Run = %#x; want the newest ERRNO (%#x)", r, RetErrno|2)
	}
	g, _ := NewFilter(ret(RetKillProcess), f, false, nil)
	if r, _ := g.Run(d); r != RetKillProcess {
		t.Errorf("Run = %#x; want KILL_PROCESS", r)
	}
	if !g.Descends(f) || f.Descends(g) || g.Count() != 4 {
		t.Errorf("chain relations wrong")
	}
}

func TestRunData(t *testing.T) {
	// A = args[1] high word + args[2] low word, via X and scratch memory; return it as ERRNO data.
	prog := []Insn{
		stmt(bpfLD|bpfW|bpfABS, 16+8+4), stmt(bpfST, 5), stmt(bpfLD|bpfW|bpfABS, 16+16),
		stmt(bpfLDX|bpfMEM, 5), stmt(bpfALU|bpfADD|bpfX, 0), stmt(bpfALU|bpfAND|bpfK, 0xffff),
		stmt(bpfALU|bpfOR|bpfK, RetErrno), stmt(bpfRET|bpfA, 0),
	}
	if err := Check(prog); err != nil {
		t.Fatal(err)
	}
	f, _ := NewFilter(prog, nil, false, nil)
	d := &Data{Args: [6]uint64{0, 7 << 32, 5}}
	if r, _ := f.Run(d); r != RetErrno|12 {
		t.Errorf("Run = %#x; want %#x", r, RetErrno|12)
	}
}

// filter100 is a 100-instruction filter whose every instruction runs for the syscall
// benchmarked: load the number, 98 comparisons that do not match, allow.
func filter100() *Filter {
	prog := []Insn{ldNr}
	for i := range 98 {
		prog = append(prog, jump(bpfJMP|bpfJEQ, uint32(1000+i), 0, 0))
	}
	prog = append(prog, allow)
	if err := Check(prog); err != nil {
		panic(err)
	}
	f, _ := NewFilter(prog, nil, false, nil)
	return f
}

// BenchmarkRun100 is what a 100-instruction filter adds to each syscall of a filtered task.
func BenchmarkRun100(b *testing.B) {
	f := filter100()
	d := &Data{Nr: 39, Arch: AuditArchX86_64}
	for b.Loop() {
		if r, _ := f.Run(d); r != RetAllow {
			b.Fatal(r)
		}
	}
}
