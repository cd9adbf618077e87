package syscalls

import (
	"os"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/kernel"
)

func TestDocMatchesTable(t *testing.T) {
	want := Doc(Table())
	got, err := os.ReadFile("../../docs/syscalls.md")
	if err != nil || string(got) != want {
		t.Fatalf("docs/syscalls.md is out of date: run `go run ./kernel/syscalls/gendoc` (%v)", err)
	}
}

func TestTableNamesEveryEntry(t *testing.T) {
	st := Table()
	for nr, e := range st.Entries {
		if e.Fn != nil && e.Name == "" {
			t.Errorf("syscall %d has a handler but no name", nr)
		}
		if e.Fn != nil && e.Support == kernel.Missing {
			t.Errorf("syscall %s has a handler but is marked missing", e.Name)
		}
	}
}

// TestArgKinds: every entry names at most six arguments, each with a known kind, so each
// gets the width of its C type.
func TestArgKinds(t *testing.T) {
	for _, e := range entries() {
		if e.args == "" {
			continue
		}
		kinds := strings.Split(e.args, ",")
		if len(kinds) > 6 {
			t.Errorf("syscall %d: %d argument kinds %q", e.nr, len(kinds), e.args)
		}
		for _, k := range kinds {
			if !strings.Contains("dxpsifouhFm", k) || len(k) != 1 {
				t.Errorf("syscall %d: unknown argument kind %q in %q", e.nr, k, e.args)
			}
		}
	}
}

// TestDecodeWidths: 32-bit arguments lose their register's upper half (int sign-extended,
// unsigned int zero-extended, umode_t to 16 bits); 64-bit ones are kept whole.
func TestDecodeWidths(t *testing.T) {
	st := Table()
	tests := []struct {
		nr       uint64
		in, want kernel.SyscallArgs
	}{
		// memfd_create(const char *name, unsigned int flags)
		{319, kernel.SyscallArgs{0x7fff00001000, 0xdead000000000001}, kernel.SyscallArgs{0x7fff00001000, 1}},
		// openat(int dfd, const char *filename, int flags, umode_t mode)
		{257, kernel.SyscallArgs{0x12345678ffffff9c, 0x1000, 0x100000241, 0xffff0001f1a4},
			kernel.SyscallArgs{^uint64(99), 0x1000, 0x241, 0xf1a4}},
		// read(unsigned int fd, char *buf, size_t count)
		{0, kernel.SyscallArgs{0x1ffffffff, 0xdead00001000, 0x100000000}, kernel.SyscallArgs{0xffffffff, 0xdead00001000, 0x100000000}},
	}
	for _, tt := range tests {
		got := tt.in
		st.Entries[tt.nr].Decode(&got)
		if got != tt.want {
			t.Errorf("Decode(%s %#x) = %#x; want %#x", st.Name(tt.nr), tt.in, got, tt.want)
		}
	}
}
