# sqlite in WAL mode in a writable host directory (argv[1]): two connections, a second
# process, a checkpoint; every result printed so native and sandboxed runs can be compared.
import os
import sqlite3
import subprocess
import sys

d = sys.argv[1]
db = os.path.join(d, "t.db")
a = sqlite3.connect(db)
print(a.execute("pragma journal_mode=wal").fetchone())
a.execute("create table t(x integer primary key, y text)")
a.executemany("insert into t(y) values (?)", [(str(i) * 10,) for i in range(2000)])
a.commit()
b = sqlite3.connect(db)
print(b.execute("select count(*), sum(length(y)) from t").fetchone())
b.execute("update t set y='z' where x%2=0")
b.commit()
print(a.execute("select count(*) from t where y='z'").fetchone())
child = ("import sqlite3, sys\n"
         "c = sqlite3.connect(sys.argv[1])\n"
         "print(c.execute(\"select count(*) from t where y='z'\").fetchone())\n"
         "c.execute('delete from t where x>1500')\n"
         "c.commit()\n")
r = subprocess.run([sys.executable, "-c", child, db], capture_output=True, text=True)
print(r.returncode, r.stdout.strip(), r.stderr.strip())
print(a.execute("select count(*), max(x) from t").fetchone())
print(a.execute("pragma wal_checkpoint(truncate)").fetchone())
print(a.execute("pragma integrity_check").fetchone())
a.close()
b.close()
print(sorted(os.listdir(d)))
c = sqlite3.connect(db)
print(c.execute("pragma journal_mode").fetchone(), c.execute("select count(*) from t").fetchone())
