package oci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sbx-dev/sbx/oci/spec"
	"golang.org/x/sys/unix"
)

// Cgroups. A container's processes are sbx's (its monitor, gofer, kernel and the stubs
// running the app's code); where the runtime may write the host's cgroup filesystem (as
// root), they are put in the cgroup the spec names, so that the engine's accounting
// (`podman stats`, containerd's metrics) sees the container's use and CPU quotas and
// shares apply to it. Memory and task limits are the kernel's own (plan.ForBundle): it
// counts the app's pages and processes itself, where a host limit would also count sbx's
// own threads and bookkeeping. Without write access (rootless) there is no cgroup, as
// with runc's rootless cgroupfs manager; the kernel's limits apply all the same.

// cgroupRoot is where the host's cgroup filesystems are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// v1Controllers are the cgroup v1 hierarchies a container joins (when mounted).
var v1Controllers = []string{"memory", "pids", "cpu", "cpuacct", "blkio"}

// cgroupPath turns the spec's cgroupsPath into a path below each hierarchy's root: as is
// for cgroupfs, "slice:prefix:name" for systemd's (runc's --systemd-cgroup) as systemd
// names the scope, and the container's ID under /sbx when the spec gives none.
func cgroupPath(p, id string) string {
	if p == "" {
		return "/sbx/" + id
	}
	if slice, rest, ok := strings.Cut(p, ":"); ok && !strings.HasPrefix(p, "/") {
		prefix, name, _ := strings.Cut(rest, ":")
		if slice == "" {
			slice = "system.slice"
		}
		// A nested slice (a-b.slice) lives under its parents (a.slice/a-b.slice).
		var dirs []string
		parts := strings.Split(strings.TrimSuffix(slice, ".slice"), "-")
		for i := range parts {
			dirs = append(dirs, strings.Join(parts[:i+1], "-")+".slice")
		}
		return "/" + filepath.Join(append(dirs, prefix+"-"+name+".scope")...)
	}
	return filepath.Clean("/" + p)
}

// cgroupV2 reports whether the host has the unified hierarchy only.
func cgroupV2() bool {
	var st unix.Statfs_t
	return unix.Statfs(cgroupRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// cgroupDirs are the directories of the container's cgroup, one per hierarchy.
func cgroupDirs(path string) []string {
	if cgroupV2() {
		return []string{filepath.Join(cgroupRoot, path)}
	}
	var dirs []string
	for _, c := range v1Controllers {
		if _, err := os.Stat(filepath.Join(cgroupRoot, c, "cgroup.procs")); err == nil {
			dirs = append(dirs, filepath.Join(cgroupRoot, c, path))
		}
	}
	return dirs
}

// joinCgroup puts pid in the container's cgroup with the spec's CPU limits. It reports
// false, with no error, when this runtime may not make cgroups (rootless).
func joinCgroup(path string, pid int, r *spec.Resources) (bool, error) {
	dirs := cgroupDirs(path)
	if len(dirs) == 0 || unix.Access(filepath.Dir(dirs[0]), unix.W_OK) != nil && !canMkdirAll(dirs[0]) {
		return false, nil
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			if errors.Is(err, os.ErrPermission) || errors.Is(err, unix.EROFS) {
				return false, nil
			}
			return false, fmt.Errorf("cgroup %s: %w", d, err)
		}
	}
	if err := setCPU(dirs, r); err != nil {
		return true, err
	}
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return true, fmt.Errorf("joining cgroup %s: %w", d, err)
		}
	}
	return true, nil
}

// canMkdirAll reports whether the nearest existing ancestor of dir is writable.
func canMkdirAll(dir string) bool {
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			return unix.Access(d, unix.W_OK) == nil
		}
	}
	return false
}

// setCPU writes the spec's CPU quota and shares.
func setCPU(dirs []string, r *spec.Resources) error {
	if r == nil || r.CPU == nil {
		return nil
	}
	c := r.CPU
	period := uint64(100000)
	if c.Period != nil && *c.Period > 0 {
		period = *c.Period
	}
	write := func(dir, file, v string) error {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(v), 0); err != nil {
			return fmt.Errorf("cgroup %s: %w", filepath.Join(dir, file), err)
		}
		return nil
	}
	for _, d := range dirs {
		if cgroupV2() {
			if c.Quota != nil && *c.Quota > 0 {
				if err := write(d, "cpu.max", fmt.Sprintf("%d %d", *c.Quota, period)); err != nil {
					return err
				}
			}
			if c.Shares != nil && *c.Shares > 0 {
				// runc's conversion of shares (2..262144) to weight (1..10000).
				w := 1 + ((*c.Shares-2)*9999)/262142
				if err := write(d, "cpu.weight", strconv.FormatUint(w, 10)); err != nil {
					return err
				}
			}
			continue
		}
		if !strings.HasPrefix(d, cgroupRoot+"/cpu/") {
			continue
		}
		if c.Quota != nil && *c.Quota > 0 {
			if err := write(d, "cpu.cfs_period_us", strconv.FormatUint(period, 10)); err != nil {
				return err
			}
			if err := write(d, "cpu.cfs_quota_us", strconv.FormatInt(*c.Quota, 10)); err != nil {
				return err
			}
		}
		if c.Shares != nil && *c.Shares > 0 {
			if err := write(d, "cpu.shares", strconv.FormatUint(*c.Shares, 10)); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeCgroup removes the container's cgroup, once its last processes (the kernel and
// stubs die with the monitor) have left it.
func removeCgroup(path string) {
	for _, d := range cgroupDirs(path) {
		for i := 0; i < 200; i++ {
			if err := unix.Rmdir(d); err != unix.EBUSY {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// setCPUs confines pid (and the processes it starts: the gofer, the kernel, the stubs
// running the app's code) to the spec's CPU list ("0-3,6"), as cpuset.cpus would; it needs
// no privilege. The kernel reports the same CPUs inside (nproc, /sys/devices/system/cpu).
func setCPUs(pid int, list string) error {
	var set unix.CPUSet
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a || b >= 1024 {
			return fmt.Errorf("resources.cpu.cpus %q: not a CPU list", list)
		}
		for c := a; c <= b; c++ {
			set.Set(c)
		}
	}
	if set.Count() == 0 {
		return nil
	}
	// Affinity is per thread, and a child inherits the thread that forks it: every thread
	// of pid is confined, again until a pass finds no thread it has not seen (the Go
	// runtime may start one meanwhile; new ones inherit from a confined thread).
	done := map[int]bool{}
	for {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return fmt.Errorf("resources.cpu.cpus %q: %w", list, err)
		}
		fresh := false
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("resources.cpu.cpus %q: %w", list, err)
			}
			done[tid], fresh = true, true
		}
		if !fresh {
			return nil
		}
	}
}
