package sandbox

import (
	"fmt"
	"os"

	"github.com/sbx-dev/sbx/gofer"
	"github.com/sbx-dev/sbx/gofer/seccomp"

	"golang.org/x/sys/unix"
)

// StubPath is where the stub program lives in the confined kernel's root.
const StubPath = "/sbx-stub"

// confine takes the kernel process's host view away once the sandbox is built: an empty
// root (pivot_root into a fresh tmpfs that is then made read-only), no capabilities, no new
// privileges, and a seccomp allow-list of the host syscalls the kernel needs (rules; nil:
// none, for tests that run without seccomp). Its network
// namespace is the empty one the launcher created. mark logs the steps for the start-up
// breakdown.
//
// The host root is detached in the background (gofer.DetachAsync): confine returns a function
// that waits for that, which must return nil before the kernel uses anything untrusted.
func confine(rules []seccomp.Rule, stub []byte, mark func(string)) (detached func() error, err error) {
	// Why: the kernel must hold no host filesystem; everything it serves comes from the gofer.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("making mounts private: %w", err)
	}
	// The new root is staged over /tmp: this mount namespace is the kernel's own, and the
	// kernel needs no host path once the sandbox is built.
	const dir = "/tmp"
	if err := unix.Mount("sbx-empty", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=256k,nr_inodes=4,mode=0755"); err != nil {
		return nil, fmt.Errorf("mounting the empty root: %w", err)
	}
	// The only file in the kernel's root: the stub program the platform executes (if any).
	if stub != nil {
		if err := os.WriteFile(dir+StubPath, stub, 0o555); err != nil {
			return nil, fmt.Errorf("placing the stub: %w", err)
		}
	}
	if err := unix.Chdir(dir); err != nil {
		return nil, err
	}
	// pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the
	// empty tmpfs. Until then, "/" still names the tmpfs (a walk never descends into what
	// is stacked on the root it starts from), so the remount below makes the tmpfs
	// read-only whether or not the host root is gone yet.
	if err := unix.PivotRoot(".", "."); err != nil {
		return nil, fmt.Errorf("pivot_root: %w", err)
	}
	detached, err = gofer.DetachAsync(".")
	if err != nil {
		// Where the helper cannot start, the host root is detached here, and waited for.
		if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
			return nil, fmt.Errorf("detaching the host root: %w", err)
		}
		detached = func() error { return nil }
	}
	if err := unix.Chdir("/"); err != nil {
		detached()
		return nil, err
	}
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		detached()
		return nil, fmt.Errorf("making the root read-only: %w", err)
	}
	if err := gofer.DropAllCapabilities(); err != nil {
		detached()
		return nil, err
	}
	mark("capabilities dropped")
	if rules != nil {
		if err := seccomp.Install(rules); err != nil {
			detached()
			return nil, fmt.Errorf("seccomp: %w", err)
		}
	}
	return detached, nil
}
