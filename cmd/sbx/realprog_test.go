package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// Issue 9's end-to-end checks: real Debian programs doing what breaks when the kernel is not
// Linux enough (renames in host directories, exec from a shell, process substitution,
// appending through copy_file_range), run natively and under sbx as each test user.

// rwDir returns a fresh directory every test user may write, shown with --rw.
func rwDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sbx-realprog-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o1777)
	return dir
}

// runScript runs a shell script natively and under sbx (with dir shown read-write and as
// the working directory), each in a fresh subdirectory of dir, and returns both outputs.
func runScript(t *testing.T, u sbxtest.User, dir, name, shell, script string) (native, sandboxed sbxtest.Result) {
	t.Helper()
	mk := func(run string) string {
		d := filepath.Join(dir, name+"-"+u.Name+"-"+run)
		if err := os.Mkdir(d, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o777)
		return d
	}
	nd, sd := mk("native"), mk("sbx")
	native = sbxtest.Run(t, u, nd, "", shell, "-c", script)
	sandboxed = sbxtest.Run(t, u, sd, "", append([]string{sbxtest.Binary(t), "run", "--rw", dir, "--cwd", sd, "--", shell, "-c"}, script)...)
	return native, sandboxed
}

func TestRealProgramsIssue9(t *testing.T) {
	need := func(t *testing.T, progs ...string) {
		for _, p := range progs {
			if _, err := exec.LookPath(p); err != nil {
				t.Skipf("%s is not installed (make test installs it)", p)
			}
		}
	}
	cases := []struct {
		name   string
		progs  []string
		shell  string
		script string
	}{
		{"git", []string{"git"}, "/bin/sh", `export HOME=$PWD GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE=2020-01-01T00:00:00Z GIT_COMMITTER_DATE=2020-01-01T00:00:00Z
git init -q -b main repo && cd repo && echo hello > a && mkdir d && echo x > d/b &&
git add a d && git -c user.name=t -c user.email=t@e commit -qm first &&
echo more >> a && git mv d e && git -c user.name=t -c user.email=t@e commit -qam second &&
git log --format='%H %s' && git status --short && git config core.filemode && ls e && git fsck 2>/dev/null && echo ok`},
		{"sed-i", []string{"sed"}, "/bin/sh", `printf 'one\ntwo\n' > f && chmod 640 f && sed -i 's/one/1/' f 2>&1 && cat f && stat -c %a f && ls`},
		{"perl-pi", []string{"perl"}, "/bin/sh", `printf 'one\ntwo\n' > f && perl -pi -e 's/two/2/' f 2>&1 && cat f && ls`},
		{"python-replace", []string{"python3"}, "/bin/sh", `python3 -c '
import os
open("t", "w").write("new")
open("f", "w").write("old")
fd = os.open("f", os.O_RDONLY)
os.replace("t", "f")
print(open("f").read(), os.read(fd, 10).decode(), sorted(os.listdir(".")))
os.makedirs("x/y")
open("x/y/z", "w").write("z")
os.replace("x", "w")
print(open("w/y/z").read(), sorted(os.listdir("w/y")))
os.chmod("w/y/z", 0o600)
print(oct(os.stat("w/y/z").st_mode & 0o777))
'`},
		{"node-rename", []string{"node"}, "/bin/sh", `node -e '
const fs = require("fs");
fs.writeFileSync("t1", "new"); fs.writeFileSync("t2", "old");
fs.renameSync("t1", "t2");
fs.mkdirSync("d/e", {recursive: true}); fs.writeFileSync("d/e/f", "f");
fs.renameSync("d", "g");
fs.chmodSync("t2", 0o600);
console.log(fs.readFileSync("t2", "utf8"), fs.readdirSync("g/e"), (fs.statSync("t2").mode & 0o777).toString(8));'`},
		// dash leaves its SIGCHLD handler installed (after `wait`) when it execs the last
		// command; the program must not run it when its own child exits.
		{"dash-sigchld", []string{"dash", "perl", "python3"}, "/usr/bin/dash", `perl -e '
$SIG{CHLD} = sub { $got++ };
my $pid = fork();
if ($pid == 0) { exit 3 }
sleep 1 until $got; waitpid($pid, 0);
print "child ", $? >> 8, " SIGCHLD ", $got, "\n";' && sleep 0.1 & wait; echo ok; python3 -c '
import os, time
pid = os.fork()
if pid == 0:
    os._exit(3)
time.sleep(0.3)
print("child", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))'`},
		// make's parallel jobs: the jobserver waits in pselect for a token or a SIGCHLD,
		// which is blocked everywhere else (make -j2 hung when pselect ignored its mask).
		{"make-jobs", []string{"make", "gcc"}, "/bin/sh", `for i in 1 2 3 4 5 6 7 8; do echo "int f$i(void) { return $i; }" > f$i.c; done
printf 'int f1(void),f2(void),f3(void),f4(void),f5(void),f6(void),f7(void),f8(void);\nint main(void) { return f1()+f2()+f3()+f4()+f5()+f6()+f7()+f8() == 36 ? 0 : 1; }\n' > main.c
printf 'OBJS = main.o f1.o f2.o f3.o f4.o f5.o f6.o f7.o f8.o\nprog: $(OBJS)\n\tgcc -o $@ $(OBJS)\n%%.o: %%.c\n\tgcc -c $< -o $@\n' > Makefile
make -s -j4 && ./prog && echo built && ls *.o | wc -l && rm f3.o f7.o && make -s -j2 && ./prog && echo rebuilt`},
		{"bash-procsub", []string{"bash"}, "/bin/bash", `cat <(echo one) <(echo two); diff <(printf 'a\nb\n') <(printf 'a\nc\n'); echo $?; echo data | cat /dev/stdin; wc -c < <(head -c 1000 /dev/zero)`},
		// The forkserver start method: a server process forked from a fresh interpreter,
		// reached over an AF_UNIX socket, with descriptors passed and SO_PROTOCOL read.
		{"python-forkserver", []string{"python3"}, "/bin/sh", `cat > fs.py <<'EOF'
import multiprocessing as mp
def sq(x):
    return x * x
if __name__ == "__main__":
    mp.set_start_method("forkserver")
    with mp.Pool(2) as p:
        print(p.map(sq, range(8)))
    q = mp.Queue()
    w = mp.Process(target=q.put, args=("via queue",))
    w.start(); print(q.get()); w.join(); print("exit", w.exitcode)
EOF
python3 fs.py`},
		{"cat-append", []string{"cat"}, "/bin/sh", `printf 'kept\n' > b && printf 'appended\n' > a && cat a >> b && cat a a >> b && cat b && { echo pre; cat a; echo post; } > c && cat c`},
	}
	dir := rwDir(t)
	for _, u := range sbxtest.Users() {
		for _, c := range cases {
			t.Run(c.name+"/"+u.Name, func(t *testing.T) {
				need(t, c.progs...)
				native, got := runScript(t, u, dir, c.name, c.shell, c.script)
				if native.Code != 0 {
					t.Fatalf("native run failed (%d): %s%s", native.Code, native.Stdout, native.Stderr)
				}
				if got.Stdout != native.Stdout || got.Code != native.Code {
					t.Errorf("exit %d (native %d), stderr %s\n--- sbx:\n%s\n--- native:\n%s", got.Code, native.Code, got.Stderr, got.Stdout, native.Stdout)
				}
			})
		}
	}
}

// TestRunAppendsToRedirectedOutput: the app's stdout is the user's file, with the user's
// shell's position and O_APPEND; a copy_file_range (GNU cat) must write there, not at 0,
// pwrite must not move it, and
// reopening /dev/stdout makes a description of its own (O_TRUNC truncates, O_APPEND
// appends) as natively.
func TestRunAppendsToRedirectedOutput(t *testing.T) {
	dir := rwDir(t)
	os.WriteFile(filepath.Join(dir, "a"), []byte("appended\n"), 0o644)
	script := func(run string) string {
		return strings.ReplaceAll(`printf 'kept\n' > "$1"; RUN cat "$2/a" >> "$1"
{ echo pre; RUN cat "$2/a"; echo post; } > "$1.2"
printf 'original\n' > "$1.3"; RUN sh -c 'echo first; echo x > /dev/stdout; echo y >> /dev/stdout; echo z' >> "$1.3"
printf 'original\n' > "$1.4"; RUN sh -c 'echo first; echo x > /dev/stdout; echo y >> /dev/stdout; echo z' 1<> "$1.4"
printf '0123456789' > "$1.5"; { RUN python3 -c 'import os; os.lseek(1, 3, 0); os.pwrite(1, b"PW", 7); os.write(1, b"W")'; echo E; } 1<> "$1.5"
cat "$1" "$1.2" "$1.3" "$1.4" "$1.5" | od -c`, "RUN", run)
	}
	for _, u := range sbxtest.Users() {
		out := filepath.Join(dir, "out-"+u.Name)
		native := sbxtest.Run(t, u, "", "", "/bin/sh", "-c", script(""), "sh", out+"-native", dir)
		got := sbxtest.Run(t, u, "", "", "/bin/sh", "-c", script(`"$3" run --ro "$2" --`), "sh", out+"-sbx", dir, sbxtest.Binary(t))
		if got.Stdout != native.Stdout || !strings.Contains(native.Stdout, "k   e   p   t  \\n   a   p   p") {
			t.Errorf("as %s: stderr %s\n--- sbx:\n%s\n--- native:\n%s", u.Name, got.Stderr, got.Stdout, native.Stdout)
		}
	}
}

// TestRunInheritsLimits: the app has the limits sbx was started with, the soft
// RLIMIT_NOFILE too (which Go raises for itself at start).
func TestRunInheritsLimits(t *testing.T) {
	for _, u := range sbxtest.Users() {
		script := `ulimit -S -n 1000; ulimit -S -s 4096; echo "$(ulimit -n) $(ulimit -Hn) $(ulimit -s)"; "$1" run -- /bin/sh -c 'echo "$(ulimit -n) $(ulimit -Hn) $(ulimit -s)"'`
		got := sbxtest.Run(t, u, "", "", "/bin/sh", "-c", script, "sh", sbxtest.Binary(t))
		lines := strings.Split(strings.TrimSpace(got.Stdout), "\n")
		if len(lines) != 2 || lines[0] != lines[1] || !strings.HasPrefix(lines[0], "1000 ") {
			t.Errorf("as %s: limits outside then inside: %q; stderr %s", u.Name, got.Stdout, got.Stderr)
		}
	}
}

// TestRunSeesHostReplacingAFile: a file the sandbox already opened once, then replaced on
// the host (written elsewhere and renamed over it, as editors save), opens with its new
// content inside: the sandbox drops the name it cached instead of failing with ESTALE.
func TestRunSeesHostReplacingAFile(t *testing.T) {
	for _, u := range sbxtest.Users() {
		dir := rwDir(t)
		f := filepath.Join(dir, "f")
		os.WriteFile(f, []byte("old\n"), 0o666)
		script := `cat f; while [ ! -e ready ]; do sleep 0.05; done; cat f; stat -c %s f`
		argv := u.Wrap([]string{sbxtest.Binary(t), "run", "--rw", dir, "--cwd", dir, "--", "/bin/sh", "-c", script})
		ctx, cancel := context.WithTimeout(context.Background(), sbxtest.Timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(out)
		first, _ := r.ReadString('\n')
		os.WriteFile(f+".new", []byte("new\n"), 0o666)
		os.Rename(f+".new", f)
		os.WriteFile(filepath.Join(dir, "ready"), nil, 0o666)
		rest, _ := io.ReadAll(r)
		cmd.Wait()
		if got := first + string(rest); got != "old\nnew\n4\n" {
			t.Errorf("as %s: got %q, want old, new and 4 (its size); stderr %s", u.Name, got, stderr.String())
		}
	}
}
