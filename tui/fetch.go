package tui

import (
	"syscall"

	"github.com/sbx-dev/sbx/launcher/control"
)

// SocketFetcher reads the control sockets in a directory.
type SocketFetcher struct{ Dir string }

// Fetch implements Fetcher.
func (f SocketFetcher) Fetch(detail string) ([]Sandbox, error) {
	ents, err := control.List(f.Dir)
	if err != nil {
		return nil, err
	}
	out := make([]Sandbox, 0, len(ents))
	for _, e := range ents {
		s := Sandbox{Info: e.Info}
		c, err := control.DialSocket(e.Socket)
		if err != nil {
			continue
		}
		if r, err := c.Do(control.Request{Op: control.OpStats}); err == nil && r.Stats != nil {
			s.Stats = *r.Stats
		} else if err != nil {
			s.Err = err.Error()
		}
		if detail != "" && detail == e.Info.ID {
			if r, err := c.Do(control.Request{Op: control.OpTree}); err == nil {
				s.Tree, s.Connections = r.Tree, r.Connections
			}
		}
		c.Close()
		out = append(out, s)
	}
	return out, nil
}

// Kill implements Fetcher: SIGTERM, then SIGKILL after the default grace period.
func (f SocketFetcher) Kill(id string) error {
	e, err := control.Find(f.Dir, id)
	if err != nil {
		return err
	}
	c, err := control.DialSocket(e.Socket)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Do(control.Request{Op: control.OpKill, Signal: int(syscall.SIGTERM)})
	return err
}
