package oci

// FeaturesDoc is the runtime's `features` output (runtime-spec features.md).
type FeaturesDoc struct {
	OCIVersionMin string            `json:"ociVersionMin"`
	OCIVersionMax string            `json:"ociVersionMax"`
	Hooks         []string          `json:"hooks"`
	MountOptions  []string          `json:"mountOptions"`
	Linux         FeaturesLinux     `json:"linux"`
	Annotations   map[string]string `json:"annotations"`
}

// FeaturesLinux is the Linux part of features.
type FeaturesLinux struct {
	Namespaces   []string `json:"namespaces"`
	Capabilities []string `json:"capabilities"`
}

// Features describes what sbx's OCI runtime implements.
func Features() FeaturesDoc {
	return FeaturesDoc{OCIVersionMin: "1.0.0", OCIVersionMax: Version,
		Hooks:        []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions: []string{"bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "mode"},
		Linux: FeaturesLinux{Namespaces: []string{"pid", "network", "ipc", "uts", "mount", "user"},
			Capabilities: []string{}},
		Annotations: map[string]string{"io.github.sbx.runtime": "sbx: a user-space kernel runs the container's system calls"}}
}

// Example is the config.json `spec` writes: sh on a terminal in ./rootfs, as runc's.
func Example(rootless bool) *Spec {
	s := &Spec{OCIVersion: Version,
		Process: &Process{Terminal: true, Args: []string{"sh"}, Cwd: "/",
			Env:     []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Rlimits: []Rlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}}, NoNewPrivileges: true},
		Root:     &Root{Path: "rootfs", Readonly: true},
		Hostname: "sbx",
		Mounts: []Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &Linux{Namespaces: []Namespace{{Type: "pid"}, {Type: "network"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}},
			MaskedPaths:   []string{"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}},
	}
	if rootless {
		s.Linux.Namespaces = append(s.Linux.Namespaces, Namespace{Type: "user"})
	}
	return s
}
