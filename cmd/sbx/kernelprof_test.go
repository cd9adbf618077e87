package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestKernelCPUProfile: SBX_KERNEL_CPUPROFILE=path makes the kernel write a Go CPU profile
// of itself (a gzipped pprof protobuf) to a file of the user who ran sbx.
func TestKernelCPUProfile(t *testing.T) {
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			// A directory every user can write (t.TempDir's parent is root's alone).
			dir, err := os.MkdirTemp("", "sbx-kernelprof-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			os.Chmod(dir, 0o777)
			path := filepath.Join(dir, "kernel.prof")
			res := sbxtest.Run(t, u, "", "", "env", "SBX_KERNEL_CPUPROFILE="+path, sbxtest.Binary(t), "run", "--",
				"/bin/sh", "-c", "i=0; while [ $i -lt 100 ]; do /bin/true; i=$((i+1)); done")
			if res.Code != 0 {
				t.Fatalf("sbx run: %d %s", res.Code, res.Stderr)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if st, err := f.Stat(); err != nil || int(st.Sys().(*syscall.Stat_t).Uid) != u.UID {
				t.Fatalf("the profile is not the user's (%v)", err)
			}
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatalf("the profile is not gzipped: %v", err)
			}
			data, err := io.ReadAll(zr)
			if err != nil {
				t.Fatalf("reading the profile: %v", err)
			}
			// Its sample types, written whether or not a sample was taken.
			for _, want := range []string{"samples", "cpu", "nanoseconds"} {
				if !bytes.Contains(data, []byte(want)) {
					t.Fatalf("the profile (%d bytes) has no %q", len(data), want)
				}
			}
		})
	}
}
