package pipe

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestFIFOOpenSeesPartnerAtOpen: a blocking FIFO open that finds the other side open goes
// through even if that side closes before the opener looks again (fifo_open decides under
// the pipe lock). Deciding later hung testdata/diff/fifo.c now and then: a writer wrote and
// closed between its reader's open and the reader's wait.
func TestFIFOOpenSeesPartnerAtOpen(t *testing.T) {
	for _, c := range []struct {
		name          string
		first, second int
	}{
		{"reader after writer", unix.O_WRONLY, unix.O_RDONLY},
		{"writer after reader", unix.O_RDONLY, unix.O_WRONLY},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := New()
			first, err := p.OpenFIFO(c.first)
			if err != nil {
				t.Fatal(err)
			}
			second, err := p.OpenFIFO(c.second)
			if err != nil {
				t.Fatal(err)
			}
			first.Release()
			if second.WaitingForPartner() {
				t.Errorf("WaitingForPartner() = true after the partner that was open at open time closed; want false")
			}
		})
	}
	// An opener that found nobody waits until the other side opens, even briefly.
	p := New()
	r, _ := p.OpenFIFO(unix.O_RDONLY)
	if !r.WaitingForPartner() {
		t.Fatal("reader alone: WaitingForPartner() = false; want true")
	}
	w, _ := p.OpenFIFO(unix.O_WRONLY)
	w.Release()
	if r.WaitingForPartner() {
		t.Error("reader after a writer came and went: WaitingForPartner() = true; want false")
	}
}
