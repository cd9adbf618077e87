// A Go program for TestGoProgram: the Go runtime needs epoll, eventfd, futexes, signals
// and clone for threads; os/exec forks and execs.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

func main() {
	b, err := os.ReadFile("/etc/hostname")
	fmt.Println(len(b) > 0, err)
	var wg sync.WaitGroup
	ch := make(chan int, 100)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) { defer wg.Done(); time.Sleep(10 * time.Millisecond); ch <- i }(i)
	}
	wg.Wait()
	fmt.Println(len(ch))
	r, w, _ := os.Pipe()
	go func() { time.Sleep(20 * time.Millisecond); w.Write([]byte("hi")); w.Close() }()
	buf := make([]byte, 10)
	n, err := r.Read(buf)
	fmt.Println(string(buf[:n]), err)
	r.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	out, err := exec.Command("/bin/echo", "child").Output()
	fmt.Printf("%q %v\n", out, err)
	t := time.NewTimer(15 * time.Millisecond)
	<-t.C
	fmt.Println("done")
}
