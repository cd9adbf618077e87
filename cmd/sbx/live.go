package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/sbx-dev/sbx/launcher/control"
	"github.com/sbx-dev/sbx/tui"
	"github.com/spf13/cobra"
)

func controlDir() (string, error) {
	dir, err := control.Dir()
	if err != nil {
		return "", fmt.Errorf("finding running sandboxes: %w", err)
	}
	return dir, nil
}

func newListCmd(io *IOStreams) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List running sandboxes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := controlDir()
			if err != nil {
				return err
			}
			ss, err := tui.SocketFetcher{Dir: dir}.Fetch("")
			if err != nil {
				return err
			}
			if asJSON {
				type row struct {
					control.Info
					Stats control.Stats `json:"stats"`
				}
				out := make([]row, 0, len(ss))
				for _, s := range ss {
					out = append(out, row{s.Info, s.Stats})
				}
				enc := json.NewEncoder(io.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			fmt.Fprint(io.Out, tui.Table(ss, time.Now()))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newKillCmd(io *IOStreams) *cobra.Command {
	var sigName string
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "kill ID|NAME",
		Short: "Stop a running sandbox (SIGTERM to the app, SIGKILL after a grace period)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, err := control.ParseSignal(sigName)
			if err != nil {
				return &usageError{err}
			}
			dir, err := controlDir()
			if err != nil {
				return err
			}
			e, err := control.Find(dir, args[0])
			if errors.Is(err, control.ErrNoSandbox) {
				return fmt.Errorf("kill %s: %w (see 'sbx list')", args[0], err)
			}
			if err != nil {
				return err
			}
			c, err := control.DialSocket(e.Socket)
			if err != nil {
				return fmt.Errorf("kill %s: %w", args[0], err)
			}
			defer c.Close()
			if _, err := c.Do(control.Request{Op: control.OpKill, Signal: int(sig), GraceMS: int(grace.Milliseconds())}); err != nil {
				return fmt.Errorf("kill %s: %w", args[0], err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&sigName, "signal", "s", "TERM", "signal to send to the app first")
	cmd.Flags().DurationVar(&grace, "grace", 3*time.Second, "time before SIGKILL")
	return cmd
}

func newTopCmd(io *IOStreams) *cobra.Command {
	var once bool
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Live view of running sandboxes",
		Long: `A live table of running sandboxes, refreshed every second. Keys: arrows move,
enter shows details (process tree, syscall histogram), / filters, c/m/s/d sort by CPU,
memory, syscalls/s or denials, k kills (after confirmation), ? helps, q quits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := controlDir()
			if err != nil {
				return err
			}
			f := tui.SocketFetcher{Dir: dir}
			if once {
				ss, err := f.Fetch("")
				if err != nil {
					return err
				}
				fmt.Fprint(io.Out, tui.Table(ss, time.Now()))
				return nil
			}
			plain := os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" || os.Getenv("TERM") == ""
			_, err = tea.NewProgram(tui.New(f, plain), tea.WithInput(io.In), tea.WithOutput(io.Out)).Run()
			return err
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "print one snapshot and exit (for scripts)")
	return cmd
}
