package abi

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// layoutProgram prints, for each structure, its sizeof and the offsetof and sizeof of each
// field, from the kernel's uapi headers as a C compiler sees them.
const layoutProgram = `#include <stdio.h>
#include <stddef.h>
#include <linux/time_types.h>
#define S(t) printf("%s %zu\n", #t, sizeof(struct t));
#define F(t, f) printf("%s.%s %zu %zu\n", #t, #f, offsetof(struct t, f), sizeof(((struct t *)0)->f));
int main(void) {
	S(__kernel_old_timeval) F(__kernel_old_timeval, tv_sec) F(__kernel_old_timeval, tv_usec)
	S(__kernel_timespec) F(__kernel_timespec, tv_sec) F(__kernel_timespec, tv_nsec)
	S(__kernel_old_itimerval) F(__kernel_old_itimerval, it_interval.tv_sec) F(__kernel_old_itimerval, it_interval.tv_usec)
	F(__kernel_old_itimerval, it_value.tv_sec) F(__kernel_old_itimerval, it_value.tv_usec)
	S(__kernel_itimerspec) F(__kernel_itimerspec, it_interval.tv_sec) F(__kernel_itimerspec, it_interval.tv_nsec)
	F(__kernel_itimerspec, it_value.tv_sec) F(__kernel_itimerspec, it_value.tv_nsec)
	return 0;
}
`

// TestLayoutsMatchC builds layoutProgram and checks each Go type against it: the encoded
// size is the C sizeof, and a value whose fields are all different lands each field at
// its C offset with its C size.
func TestLayoutsMatchC(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed (make test installs it)")
	}
	dir := t.TempDir()
	src, exe := filepath.Join(dir, "layout.c"), filepath.Join(dir, "layout")
	if err := os.WriteFile(src, []byte(layoutProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-o", exe, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	out, err := exec.Command(exe).Output()
	if err != nil {
		t.Fatal(err)
	}
	c := map[string][2]int{} // name -> offset, size (structures: size only)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		n1, _ := strconv.Atoi(f[1])
		if len(f) == 2 {
			c[f[0]] = [2]int{0, n1}
		} else {
			n2, _ := strconv.Atoi(f[2])
			c[f[0]] = [2]int{n1, n2}
		}
	}
	tests := []struct {
		cname  string
		size   int
		encode func([]byte)
		fields map[string]int64 // C field -> the value encode wrote there
	}{
		{"__kernel_old_timeval", SizeofTimeval, Timeval{Sec: 1, Usec: 2}.Encode,
			map[string]int64{"tv_sec": 1, "tv_usec": 2}},
		{"__kernel_timespec", SizeofTimespec, Timespec{Sec: 1, Nsec: 2}.Encode,
			map[string]int64{"tv_sec": 1, "tv_nsec": 2}},
		{"__kernel_old_itimerval", SizeofItimerval, Itimerval{Interval: Timeval{1, 2}, Value: Timeval{3, 4}}.Encode,
			map[string]int64{"it_interval.tv_sec": 1, "it_interval.tv_usec": 2, "it_value.tv_sec": 3, "it_value.tv_usec": 4}},
		{"__kernel_itimerspec", SizeofItimerspec, Itimerspec{Interval: Timespec{1, 2}, Value: Timespec{3, 4}}.Encode,
			map[string]int64{"it_interval.tv_sec": 1, "it_interval.tv_nsec": 2, "it_value.tv_sec": 3, "it_value.tv_nsec": 4}},
	}
	for _, tt := range tests {
		if got := c[tt.cname][1]; got != tt.size {
			t.Errorf("sizeof(struct %s) = %d in C; Go says %d", tt.cname, got, tt.size)
			continue
		}
		b := make([]byte, tt.size)
		tt.encode(b)
		for field, want := range tt.fields {
			at, ok := c[tt.cname+"."+field]
			if !ok || at[1] != 8 {
				t.Errorf("struct %s: field %s is %v in C; the test expects an 8-byte field", tt.cname, field, at)
				continue
			}
			if got := int64(binary.LittleEndian.Uint64(b[at[0]:])); got != want {
				t.Errorf("struct %s: at offsetof(%s) = %d the Go encoding holds %d; want %d", tt.cname, field, at[0], got, want)
			}
		}
	}
	// Decoding is the inverse of encoding.
	b := make([]byte, SizeofItimerval)
	in := Itimerval{Interval: Timeval{5, 6}, Value: Timeval{7, 8}}
	in.Encode(b)
	if got := DecodeItimerval(b); got != in {
		t.Errorf("DecodeItimerval(Encode(%v)) = %v", in, got)
	}
	bs := make([]byte, SizeofItimerspec)
	ins := Itimerspec{Interval: Timespec{5, 6}, Value: Timespec{7, 8}}
	ins.Encode(bs)
	if got := DecodeItimerspec(bs); got != ins {
		t.Errorf("DecodeItimerspec(Encode(%v)) = %v", ins, got)
	}
}
