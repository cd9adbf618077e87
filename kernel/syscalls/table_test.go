package syscalls

import (
	"os"
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
