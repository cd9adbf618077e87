package syscalls

import (
	"testing"

	"github.com/sbx-dev/sbx/kernel"
)

// TestOneEntryPerNumber: each syscall number is registered once across all the entry lists
// Table builds from; a second entry would silently replace the first.
func TestOneEntryPerNumber(t *testing.T) {
	st := Table()
	first := map[uint64]int{}
	for li, list := range entryLists() {
		for _, e := range list {
			if e.nr >= kernel.MaxSyscall {
				t.Errorf("list %d: syscall %d is beyond the table (MaxSyscall %d)", li, e.nr, kernel.MaxSyscall)
				continue
			}
			if prev, dup := first[e.nr]; dup {
				t.Errorf("syscall %s (%d) is registered twice: in entry list %d and list %d (see entryLists)", st.Name(e.nr), e.nr, prev, li)
				continue
			}
			first[e.nr] = li
		}
	}
	handlers := 0
	for _, e := range st.Entries {
		if e.Fn != nil {
			handlers++
		}
	}
	if handlers != len(first) {
		t.Errorf("Table has %d handlers, the entry lists register %d numbers: Table builds from something entryLists does not name", handlers, len(first))
	}
}
