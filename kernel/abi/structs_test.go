package abi

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// A structure checked against C: every Go field tagged `c:"name"` (nested structures by
// their own tags, joined with dots) is a field of the C structure, and encoding a value
// whose fields all differ puts each at its C offset with its C size. Untagged fields are
// padding: the encoding must leave zeros there, and the Go size must be the C size.
type layoutCase struct {
	header string // the C header that declares it
	// program groups cases whose headers cannot be included together (the kernel's
	// <asm/signal.h> and the C library's <signal.h>): each group is its own C program.
	program string
	// head names the flexible array a C structure ends in when the Go type is only the
	// fixed head before it: the offset of that field stands for the C sizeof.
	head  string
	ctype string // as C names it ("struct stat")
	value any    // a pointer to a Go value: Encode(b []byte) is called on it
	size  int    // the Go Sizeof constant
}

// packed are the structures C packs: Go cannot, so only their encoding is checked.
var packed = map[string]bool{"struct epoll_event": true}

var layoutCases = []layoutCase{
	{header: "<linux/time_types.h>", ctype: "struct __kernel_old_timeval", value: &Timeval{}, size: SizeofTimeval},
	{header: "<linux/time_types.h>", ctype: "struct __kernel_timespec", value: &Timespec{}, size: SizeofTimespec},
	{header: "<linux/time_types.h>", ctype: "struct __kernel_old_itimerval", value: &Itimerval{}, size: SizeofItimerval},
	{header: "<linux/time_types.h>", ctype: "struct __kernel_itimerspec", value: &Itimerspec{}, size: SizeofItimerspec},
	{header: "<sys/stat.h>", ctype: "struct stat", value: &Stat{}, size: SizeofStat},
	{header: "<linux/stat.h>", ctype: "struct statx", value: &Statx{}, size: SizeofStatx},
	{header: "<sys/statfs.h>", ctype: "struct statfs", value: &Statfs{}, size: SizeofStatfs},
	{header: "<sys/resource.h>", ctype: "struct rlimit", value: &Rlimit{}, size: SizeofRlimit},
	{header: "<sys/resource.h>", ctype: "struct rusage", value: &Rusage{}, size: SizeofRusage},
	{header: "<sys/sysinfo.h>", ctype: "struct sysinfo", value: &Sysinfo{}, size: SizeofSysinfo},
	{header: "<sys/utsname.h>", ctype: "struct utsname", value: &Utsname{}, size: SizeofUtsname},
	{header: "<poll.h>", ctype: "struct pollfd", value: &Pollfd{}, size: SizeofPollfd},
	{header: "<sys/epoll.h>", ctype: "struct epoll_event", value: &EpollEvent{}, size: SizeofEpollEvent},
	{header: "<signal.h>", ctype: "stack_t", value: &StackT{}, size: SizeofStackT},
	{header: "<sys/socket.h>", ctype: "struct msghdr", value: &Msghdr{}, size: SizeofMsghdr},
	{header: "<sys/socket.h>", ctype: "struct cmsghdr", value: &Cmsghdr{}, size: SizeofCmsghdr},
	{header: "<sys/socket.h>", ctype: "struct ucred", value: &Ucred{}, size: SizeofUcred},
	{header: "<netinet/in.h>", ctype: "struct sockaddr_in", value: &SockaddrIn{}, size: SizeofSockaddrIn},
	{header: "<netinet/in.h>", ctype: "struct sockaddr_in6", value: &SockaddrIn6{}, size: SizeofSockaddrIn6},
	{header: "<dirent.h>", ctype: "struct dirent64", head: "d_name", value: &Dirent64{}, size: SizeofDirent64Head},
	{header: "<linux/ipc.h>", program: "kipc", ctype: "struct ipc64_perm", value: &IPC64Perm{}, size: SizeofIPC64Perm},
	{header: "<linux/shm.h>", program: "kipc", ctype: "struct shmid64_ds", value: &ShmidDS{}, size: SizeofShmidDS},
	{header: "<linux/msg.h>", program: "kipc", ctype: "struct msqid64_ds", value: &MsqidDS{}, size: SizeofMsqidDS},
	{header: "<linux/sem.h>", program: "kipc", ctype: "struct semid64_ds", value: &SemidDS{}, size: SizeofSemidDS},
	{header: "<sys/ioctl.h>", ctype: "struct winsize", value: &Winsize{}, size: SizeofWinsize},
	{header: "<asm/termbits.h>", program: "asm", ctype: "struct termios", value: &Termios{}, size: SizeofTermios},
	{header: "<signal.h>", ctype: "siginfo_t", value: &SiginfoKill{}, size: SizeofSiginfo},
	{header: "<signal.h>", ctype: "siginfo_t", value: &SiginfoChld{}, size: SizeofSiginfo},
	{header: "<signal.h>", ctype: "siginfo_t", value: &SiginfoTimer{}, size: SizeofSiginfo},
	{header: "<signal.h>", ctype: "siginfo_t", value: &SiginfoFault{}, size: SizeofSiginfo},
	{header: "<signal.h>", ctype: "siginfo_t", value: &SiginfoPoll{}, size: SizeofSiginfo},
	{header: "<signal.h>", ctype: "siginfo_t", value: &SiginfoSys{}, size: SizeofSiginfo},
	{header: "<sys/signalfd.h>", ctype: "struct signalfd_siginfo", value: &SignalfdSiginfo{}, size: SizeofSignalfdSiginfo},
	{header: "<fcntl.h>", ctype: "struct flock", value: &Flock{}, size: SizeofFlock},
	{header: "<asm/signal.h>", program: "asm", ctype: "struct sigaction", value: &Sigaction{}, size: SizeofSigaction},
	{header: "<linux/seccomp.h>", ctype: "struct seccomp_data", value: &SeccompData{}, size: SizeofSeccompData},
	{header: "<linux/filter.h>", ctype: "struct sock_filter", value: &SockFilter{}, size: SizeofSockFilter},
	{header: "<linux/filter.h>", ctype: "struct sock_fprog", value: &SockFprog{}, size: SizeofSockFprog},
	{header: "<linux/seccomp.h>", ctype: "struct seccomp_notif_sizes", value: &SeccompNotifSizes{}, size: SizeofSeccompNotifSizes},
	{header: "<linux/seccomp.h>", ctype: "struct seccomp_notif", value: &SeccompNotif{}, size: SizeofSeccompNotif},
	{header: "<linux/seccomp.h>", ctype: "struct seccomp_notif_resp", value: &SeccompNotifResp{}, size: SizeofSeccompNotifResp},
	{header: "<linux/seccomp.h>", ctype: "struct seccomp_notif_addfd", value: &SeccompNotifAddfd{}, size: SizeofSeccompNotifAddfd},
	{header: "<linux/aio_abi.h>", ctype: "struct iocb", value: &IOCB{}, size: SizeofIOCB},
	{header: "<linux/aio_abi.h>", ctype: "struct io_event", value: &IOEvent{}, size: SizeofIOEvent},
	{header: "<mqueue.h>", ctype: "struct mq_attr", value: &MqAttr{}, size: SizeofMqAttr},
	{header: "<signal.h>", ctype: "struct sigevent", value: &Sigevent{}, size: SizeofSigevent},
	{header: "<net/if.h>", ctype: "struct ifreq", value: &Ifreq{}, size: SizeofIfreq},
	{header: "<net/if.h>", ctype: "struct ifconf", value: &Ifconf{}, size: SizeofIfconf},
	{header: "<linux/netlink.h>", ctype: "struct sockaddr_nl", value: &SockaddrNl{}, size: SizeofSockaddrNl},
	{header: "<linux/netlink.h>", ctype: "struct nlmsghdr", value: &Nlmsghdr{}, size: SizeofNlmsghdr},
	{header: "<linux/netlink.h>", ctype: "struct nlmsgerr", value: &Nlmsgerr{}, size: SizeofNlmsgerr},
	{header: "<linux/rtnetlink.h>", ctype: "struct rtattr", value: &Rtattr{}, size: SizeofRtattr},
	{header: "<linux/rtnetlink.h>", ctype: "struct ifinfomsg", value: &Ifinfomsg{}, size: SizeofIfinfomsg},
	{header: "<linux/if_addr.h>", ctype: "struct ifaddrmsg", value: &Ifaddrmsg{}, size: SizeofIfaddrmsg},
	{header: "<linux/rtnetlink.h>", ctype: "struct rtmsg", value: &Rtmsg{}, size: SizeofRtmsg},
	{header: "<sys/socket.h>", ctype: "struct linger", value: &Linger{}, size: SizeofLinger},
	{header: "<linux/net_tstamp.h>", ctype: "struct sock_txtime", value: &SockTxtime{}, size: SizeofSockTxtime},
	{header: "<linux/net_tstamp.h>", ctype: "struct so_timestamping", value: &SoTimestamping{}, size: SizeofSoTimestamping},
	{header: "<sys/times.h>", ctype: "struct tms", value: &Tms{}, size: SizeofTms},
	{header: "<sys/inotify.h>", ctype: "struct inotify_event", head: "name", value: &InotifyEvent{}, size: SizeofInotifyEvent},
	{header: "<linux/futex.h>", ctype: "struct futex_waitv", value: &FutexWaitv{}, size: SizeofFutexWaitv},
	{header: "<linux/futex.h>", ctype: "struct robust_list_head", value: &RobustListHead{}, size: SizeofRobustListHead},
	{header: "<sys/uio.h>", ctype: "struct iovec", value: &Iovec{}, size: SizeofIovec},
	{header: "<linux/sched.h>", ctype: "struct clone_args", value: &CloneArgs{}, size: SizeofCloneArgs},
	{header: "<linux/openat2.h>", ctype: "struct open_how", value: &OpenHow{}, size: SizeofOpenHow},
	{header: "<utime.h>", ctype: "struct utimbuf", value: &Utimbuf{}, size: SizeofUtimbuf},
	{header: "<linux/sched/types.h>", ctype: "struct sched_attr", value: &SchedAttr{}, size: SizeofSchedAttr},
	{header: "<fcntl.h>", ctype: "struct file_handle", head: "f_handle", value: &FileHandle{}, size: SizeofFileHandle},
	{header: "<linux/capability.h>", ctype: "struct __user_cap_header_struct", value: &CapUserHeader{}, size: SizeofCapUserHeader},
	{header: "<linux/mount.h>", ctype: "struct mount_attr", value: &MountAttr{}, size: SizeofMountAttr},
	{header: "<linux/capability.h>", ctype: "struct __user_cap_data_struct", value: &CapUserData{}, size: SizeofCapUserData},
	{header: "<fcntl.h>", ctype: "struct f_owner_ex", value: &FOwnerEx{}, size: SizeofFOwnerEx},
	{header: "<linux/sem.h>", program: "kipc", ctype: "struct sembuf", value: &Sembuf{}, size: SizeofSembuf},
	{header: "<linux/sem.h>", program: "kipc", ctype: "struct seminfo", value: &Seminfo{}, size: SizeofSeminfo},
	{header: "<linux/msg.h>", program: "kipc", ctype: "struct msginfo", value: &Msginfo{}, size: SizeofMsginfo},
	{header: "<linux/shm.h>", program: "kipc", ctype: "struct shminfo64", value: &Shminfo{}, size: SizeofShminfo},
	{header: "<linux/shm.h>", program: "kipc", ctype: "struct shm_info", value: &ShmInfo{}, size: SizeofShmInfo},
	{header: "<linux/posix_acl_xattr.h>", ctype: "struct posix_acl_xattr_header", value: &PosixACLXattrHeader{}, size: SizeofPosixACLXattrHeader},
	{header: "<linux/posix_acl_xattr.h>", ctype: "struct posix_acl_xattr_entry", value: &PosixACLXattrEntry{}, size: SizeofPosixACLXattrEntry},
	{header: "<asm/sigcontext.h>", program: "asm", ctype: "struct sigcontext", value: &Sigcontext{}, size: SizeofSigcontext},
	{header: "<asm/ucontext.h>", program: "asm", ctype: "struct ucontext", value: &Ucontext{}, size: SizeofUcontext},
}

// leaf is one tagged scalar or byte-array field of a Go value.
type leaf struct {
	path string // C spelling: "st_atim.tv_sec"
	v    reflect.Value
	// be marks a field in network byte order (tag option ",be").
	be bool
}

// leaves lists the tagged fields of struct value v (settable), recursing into structures.
func leaves(prefix string, v reflect.Value) []leaf {
	var out []leaf
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		tag, opt, _ := strings.Cut(f.Tag.Get("c"), ",")
		if tag == "" {
			continue
		}
		if tag == "." { // an inline part: its fields are the structure's own
			out = append(out, leaves(prefix, v.Field(i))...)
			continue
		}
		if prefix != "" {
			tag = prefix + "." + tag
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			out = append(out, leaves(tag, fv)...)
			continue
		}
		out = append(out, leaf{tag, fv, opt == "be"})
	}
	return out
}

// TestStructuresMatchC builds one C program printing sizeof and every field's offsetof and
// sizeof, from the headers a C program includes, and checks each Go structure against it.
func TestStructuresMatchC(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed (make test installs it)")
	}
	programs := map[string]*strings.Builder{}
	var order []string
	for i, c := range layoutCases {
		prog := programs[c.program]
		if prog == nil {
			prog = &strings.Builder{}
			prog.WriteString("#define _GNU_SOURCE\n#include <stdio.h>\n#include <stddef.h>\n")
			seen := map[string]bool{}
			for _, o := range layoutCases {
				if o.program == c.program && !seen[o.header] {
					seen[o.header] = true
					fmt.Fprintf(prog, "#include %s\n", o.header)
				}
			}
			prog.WriteString("int main(void) {\n")
			programs[c.program] = prog
			order = append(order, c.program)
		}
		if c.head != "" {
			fmt.Fprintf(prog, "\tprintf(\"%d sizeof %%zu\\n\", offsetof(%s, %s));\n", i, c.ctype, c.head)
		} else {
			fmt.Fprintf(prog, "\tprintf(\"%d sizeof %%zu\\n\", sizeof(%s));\n", i, c.ctype)
		}
		for _, l := range leaves("", reflect.ValueOf(c.value).Elem()) {
			fmt.Fprintf(prog, "\tprintf(\"%d %s %%zu %%zu\\n\", offsetof(%s, %s), sizeof(((%s *)0)->%s));\n",
				i, l.path, c.ctype, l.path, c.ctype, l.path)
		}
	}
	dir := t.TempDir()
	var out []byte
	for n, name := range order {
		prog := programs[name]
		prog.WriteString("\treturn 0;\n}\n")
		src, exe := filepath.Join(dir, fmt.Sprintf("structs%d.c", n)), filepath.Join(dir, fmt.Sprintf("structs%d", n))
		if err := os.WriteFile(src, []byte(prog.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if o, err := exec.Command("gcc", "-o", exe, src).CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s\n%s", err, o, prog.String())
		}
		o, err := exec.Command(exe).Output()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o...)
	}
	type at struct{ off, size int }
	cinfo := map[string]at{} // "index path" -> offset, size; "index sizeof" -> size
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		switch len(f) {
		case 3:
			n, _ := strconv.Atoi(f[2])
			cinfo[f[0]+" "+f[1]] = at{0, n}
		case 4:
			o, _ := strconv.Atoi(f[2])
			n, _ := strconv.Atoi(f[3])
			cinfo[f[0]+" "+f[1]] = at{o, n}
		}
	}
	for i, c := range layoutCases {
		key := strconv.Itoa(i) + " "
		if got := cinfo[key+"sizeof"].size; got != c.size {
			t.Errorf("sizeof(%s) = %d in C; Go says %d", c.ctype, got, c.size)
			continue
		}
		if gs := int(reflect.TypeOf(c.value).Elem().Size()); gs != c.size && !packed[c.ctype] && c.head == "" {
			t.Errorf("%s: the Go type is %d bytes, the C one %d: padding is missing or extra", c.ctype, gs, c.size)
		}
		// Give every tagged field a different value, encode into a buffer full of 0xee,
		// and read each back at its C offset.
		ls := leaves("", reflect.ValueOf(c.value).Elem())
		want := map[string]uint64{}
		var covered int
		for j, l := range ls {
			v := uint64(j + 1)
			switch l.v.Kind() {
			case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
				l.v.SetInt(int64(v))
			case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
				l.v.SetUint(v)
			case reflect.Array:
				for k := 0; k < l.v.Len(); k++ {
					l.v.Index(k).Set(reflect.ValueOf(uint64(j + 1 + k)).Convert(l.v.Type().Elem()))
				}
			default:
				t.Fatalf("%s.%s: field kind %v not handled", c.ctype, l.path, l.v.Kind())
			}
			want[l.path] = v
			covered += int(l.v.Type().Size())
		}
		b := make([]byte, c.size)
		for k := range b {
			b[k] = 0xee
		}
		reflect.ValueOf(c.value).MethodByName("Encode").Call([]reflect.Value{reflect.ValueOf(b)})
		for j, l := range ls {
			ci, ok := cinfo[key+l.path]
			if !ok {
				t.Errorf("%s: field %s missing from the C output", c.ctype, l.path)
				continue
			}
			if gs := int(l.v.Type().Size()); gs != ci.size {
				t.Errorf("%s.%s: %d bytes in Go, %d in C", c.ctype, l.path, gs, ci.size)
				continue
			}
			if l.v.Kind() == reflect.Array {
				es := int(l.v.Type().Elem().Size())
				for k := 0; k < l.v.Len(); k++ {
					if got := readLE(b[ci.off+k*es:], es); got != uint64(j+1+k) {
						t.Errorf("%s.%s[%d] at offset %d holds %d; want %d", c.ctype, l.path, k, ci.off+k*es, got, j+1+k)
					}
				}
				clear(b[ci.off : ci.off+ci.size])
				continue
			}
			got := readLE(b[ci.off:], ci.size)
			if l.be {
				got = readBE(b[ci.off:], ci.size)
			}
			if got != want[l.path] {
				t.Errorf("%s.%s at offset %d (C) holds %d after Encode; want %d", c.ctype, l.path, ci.off, got, want[l.path])
			}
			// Clear the field's bytes: what stays non-zero below is padding Encode left.
			clear(b[ci.off : ci.off+ci.size])
		}
		// What is left is padding, which Encode must zero (never leave old bytes there).
		for k, x := range b {
			if x != 0 {
				t.Errorf("%s: byte %d is %#x after Encode: padding not zeroed (or a field not at its C offset)", c.ctype, k, x)
				break
			}
		}
		// Decode, where the type has one, is Encode's inverse.
		if m := reflect.ValueOf(c.value).MethodByName("Decode"); m.IsValid() {
			enc := make([]byte, c.size)
			reflect.ValueOf(c.value).MethodByName("Encode").Call([]reflect.Value{reflect.ValueOf(enc)})
			back := reflect.New(reflect.TypeOf(c.value).Elem())
			back.MethodByName("Decode").Call([]reflect.Value{reflect.ValueOf(enc)})
			if !reflect.DeepEqual(back.Interface(), c.value) {
				t.Errorf("%s: Decode(Encode(v)) = %+v; want %+v", c.ctype, back.Elem().Interface(), reflect.ValueOf(c.value).Elem().Interface())
			}
		}
	}
}

func readLE(b []byte, n int) uint64 {
	switch n {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	case 8:
		return binary.LittleEndian.Uint64(b)
	}
	return 1<<64 - 1
}

func readBE(b []byte, n int) uint64 {
	switch n {
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	case 4:
		return uint64(binary.BigEndian.Uint32(b))
	case 8:
		return binary.BigEndian.Uint64(b)
	}
	return 1<<64 - 1
}

// TestCmsgMacros: CMSG_LEN and CMSG_SPACE of a struct ucred and of three FDs, as
// <sys/socket.h> computes them on x86-64.
func TestCmsgMacros(t *testing.T) {
	for _, c := range []struct{ n, len, space int }{{SizeofUcred, 28, 32}, {12, 28, 32}, {4, 20, 24}, {0, 16, 16}, {8, 24, 24}} {
		if got := CmsgLen(c.n); got != c.len {
			t.Errorf("CmsgLen(%d) = %d; want %d", c.n, got, c.len)
		}
		if got := CmsgSpace(c.n); got != c.space {
			t.Errorf("CmsgSpace(%d) = %d; want %d", c.n, got, c.space)
		}
	}
}

// TestMsghdrOffsets: the offsets recvmsg writes back at are those of struct msghdr.
func TestMsghdrOffsets(t *testing.T) {
	b := make([]byte, SizeofMsghdr)
	m := Msghdr{Namelen: 7, Controllen: 9, Flags: 11}
	m.Encode(b)
	if U32(b[OffsetofMsghdrNamelen:]) != 7 || U64(b[OffsetofMsghdrControllen:]) != 9 || U32(b[OffsetofMsghdrFlags:]) != 11 {
		t.Errorf("msghdr offsets %d, %d, %d do not hold msg_namelen, msg_controllen, msg_flags", OffsetofMsghdrNamelen, OffsetofMsghdrControllen, OffsetofMsghdrFlags)
	}
}

// TestIOCBKeyOffset: io_cancel reads aio_key alone, at OffsetofIOCBKey.
func TestIOCBKeyOffset(t *testing.T) {
	b := make([]byte, SizeofIOCB)
	c := IOCB{Data: ^uint64(0), Key: 5, RwFlags: -1}
	c.Encode(b)
	if U32(b[OffsetofIOCBKey:]) != 5 {
		t.Errorf("iocb offset %d does not hold aio_key", OffsetofIOCBKey)
	}
}
