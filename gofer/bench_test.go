package gofer

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func benchTree(b *testing.B) (string, *Client, Entry) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), make([]byte, 4096), 0o644)
	os.Mkdir(filepath.Join(dir, "many"), 0o755)
	for i := 0; i < 1000; i++ {
		os.WriteFile(filepath.Join(dir, "many", fmt.Sprint(i)), nil, 0o644)
	}
	c := serve(&testing.T{}, []Mount{{HostPath: dir, SandboxPath: "/b"}}, nil)
	root, err := c.Attach(0)
	if err != nil {
		b.Fatal(err)
	}
	return dir, c, root
}

func BenchmarkStat(b *testing.B) {
	dir, _, root := benchTree(b)
	f, _ := root.Handle.Walk("f")
	b.Run("gofer", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			f.Handle.Stat()
		}
	})
	b.Run("direct", func(b *testing.B) {
		var st unix.Stat_t
		for i := 0; i < b.N; i++ {
			unix.Stat(filepath.Join(dir, "f"), &st)
		}
	})
}

func BenchmarkOpenRead4K(b *testing.B) {
	dir, _, root := benchTree(b)
	buf := make([]byte, 4096)
	f, _ := root.Handle.Walk("f")
	b.Run("gofer", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			fd, err := f.Handle.Open(unix.O_RDONLY)
			if err != nil {
				b.Fatal(err)
			}
			unix.Read(int(fd.Fd()), buf)
			fd.Close()
		}
	})
	b.Run("direct", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			fd, _ := unix.Open(filepath.Join(dir, "f"), unix.O_RDONLY, 0)
			unix.Read(fd, buf)
			unix.Close(fd)
		}
	})
}

func BenchmarkGetdents1000(b *testing.B) {
	dir, _, root := benchTree(b)
	many, _ := root.Handle.Walk("many")
	b.Run("gofer", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			many.Handle.Getdents()
		}
	})
	b.Run("direct", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			os.ReadDir(filepath.Join(dir, "many"))
		}
	})
}

func BenchmarkCreateWrite(b *testing.B) {
	dir, _, root := benchTree(b)
	data := make([]byte, 4096)
	b.Run("gofer", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			name := fmt.Sprintf("g%d", i)
			e, f, err := root.Handle.Create(name, unix.O_WRONLY, 0o644)
			if err != nil {
				b.Fatal(err)
			}
			f.Write(data)
			f.Close()
			e.Handle.Close()
			root.Handle.Unlink(name, 0)
		}
	})
	b.Run("direct", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			p := filepath.Join(dir, fmt.Sprintf("d%d", i))
			fd, _ := unix.Open(p, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o644)
			unix.Write(fd, data)
			unix.Close(fd)
			unix.Unlink(p)
		}
	})
}
