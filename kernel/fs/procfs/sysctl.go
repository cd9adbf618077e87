package procfs

import (
	"fmt"

	"github.com/sbx-dev/sbx/kernel/fs/inotify"
	"sort"
	"strings"
)

// /proc/sys: the sysctl values programs read, as Linux's defaults give them (or the
// sandbox kernel's own limits where it has them). All are read-only here.

// sysctls maps a path under /proc/sys to its value.
func (p *proc) sysctls() map[string]func() string {
	k := p.k
	c := func(v string) func() string { return func() string { return v + "\n" } }
	return map[string]func() string{
		"kernel/osrelease":            func() string { return k.Release + "\n" },
		"kernel/ostype":               c("Linux"),
		"kernel/version":              func() string { return k.Version + "\n" },
		"kernel/hostname":             func() string { return k.Hostname + "\n" },
		"kernel/domainname":           c("(none)"),
		"kernel/pid_max":              c("4194304"),
		"kernel/ns_last_pid":          func() string { return fmt.Sprintf("%d\n", k.LastPID()) },
		"kernel/threads-max":          c("192735"),
		"kernel/ngroups_max":          c("65536"),
		"kernel/cap_last_cap":         c("40"),
		"kernel/overflowuid":          c("65534"),
		"kernel/overflowgid":          c("65534"),
		"kernel/randomize_va_space":   c("2"),
		"kernel/shmmax":               c("18446744073692774399"),
		"kernel/shmall":               c("18446744073692774399"),
		"kernel/shmmni":               c("4096"),
		"kernel/msgmax":               c("8192"),
		"kernel/msgmnb":               c("16384"),
		"kernel/msgmni":               c("32000"),
		"kernel/sem":                  c("32000\t1024000000\t500\t32000"),
		"kernel/core_pattern":         c("core"),
		"kernel/core_uses_pid":        c("0"),
		"kernel/printk":               c("4\t4\t1\t7"),
		"kernel/dmesg_restrict":       c("1"),
		"kernel/kptr_restrict":        c("0"),
		"kernel/perf_event_paranoid":  c("2"),
		"kernel/tainted":              c("0"),
		"kernel/panic":                c("0"),
		"kernel/keys/maxkeys":         c("200"),
		"kernel/keys/maxbytes":        c("20000"),
		"kernel/random/entropy_avail": c("256"),
		"kernel/random/poolsize":      c("256"),
		"kernel/random/boot_id":       func() string { return k.BootID + "\n" },
		"kernel/random/uuid":          func() string { return newUUID() + "\n" },
		"vm/overcommit_memory":        c("0"),
		// Every user may make ICMP echo sockets (ping): the sandbox's loopback answers them
		// (kernel/net/inet/icmp.go).
		"net/ipv4/ping_group_range":     c("0\t2147483647"),
		"vm/overcommit_ratio":           c("50"),
		"vm/max_map_count":              c("65530"),
		"vm/mmap_min_addr":              c("131072"),
		"vm/swappiness":                 c("60"),
		"vm/dirty_ratio":                c("20"),
		"vm/dirty_background_ratio":     c("10"),
		"vm/nr_hugepages":               c("0"),
		"vm/page-cluster":               c("3"),
		"vm/vfs_cache_pressure":         c("100"),
		"fs/nr_open":                    c("1048576"),
		"fs/file-max":                   c("9223372036854775807"),
		"fs/file-nr":                    c("0\t0\t9223372036854775807"),
		"fs/pipe-max-size":              c("1048576"),
		"fs/pipe-user-pages-soft":       c("16384"),
		"fs/pipe-user-pages-hard":       c("0"),
		"fs/inotify/max_user_watches":   func() string { return fmt.Sprintln(inotify.Of(k).Limits().MaxUserWatches) },
		"fs/inotify/max_user_instances": func() string { return fmt.Sprintln(inotify.Of(k).Limits().MaxUserInstances) },
		"fs/inotify/max_queued_events":  func() string { return fmt.Sprintln(inotify.Of(k).Limits().MaxQueuedEvents) },
		"fs/mqueue/msg_max":             c("10"),
		"fs/mqueue/msgsize_max":         c("8192"),
		"fs/mqueue/queues_max":          c("256"),
		"fs/mqueue/msg_default":         c("10"),
		"fs/mqueue/msgsize_default":     c("8192"),
		"fs/protected_symlinks":         c("1"),
		"fs/protected_hardlinks":        c("1"),
		"fs/aio-max-nr":                 c("65536"),
		"fs/aio-nr":                     c("0"),
		"fs/lease-break-time":           c("45"),
		"fs/dir-notify-enable":          c("1"),
		"fs/epoll/max_user_watches":     c("1000000"),
		"net/core/somaxconn":            c("4096"),
		"net/core/wmem_default":         c("212992"),
		"net/core/rmem_default":         c("212992"),
		"net/unix/max_dgram_qlen":       c("10"),
	}
}

// sysDir builds /proc/sys from sysctls: a directory per path component.
func (p *proc) sysDir() *dirNode {
	vals := p.sysctls()
	children := map[string][]string{} // directory → names in it
	for path := range vals {
		parts := strings.Split(path, "/")
		for i := range parts {
			dir := strings.Join(parts[:i], "/")
			children[dir] = append(children[dir], parts[i])
		}
	}
	var mk func(dir string) *dirNode
	mk = func(dir string) *dirNode {
		seen := map[string]bool{}
		var es []entry
		names := append([]string(nil), children[dir]...)
		sort.Strings(names)
		for _, name := range names {
			if seen[name] {
				continue
			}
			seen[name] = true
			full := strings.TrimPrefix(dir+"/"+name, "/")
			if gen, ok := vals[full]; ok {
				es = append(es, entry{name, p.static("/sys/"+full, gen)})
			} else {
				es = append(es, entry{name, mk(full)})
			}
		}
		path := "/sys"
		if dir != "" {
			path += "/" + dir
		}
		return &dirNode{node: node{boot: p.k.Start, path: path}, list: func() []entry { return es }}
	}
	return mk("")
}
