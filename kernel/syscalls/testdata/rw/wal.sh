# The sqlite3 command-line shell in WAL mode in a writable host directory ($1).
set -e
cd "$1"
sqlite3 w.db 'pragma journal_mode=wal; create table t(a, b); with recursive n(i) as (select 1 union all select i+1 from n where i<3000) insert into t select i, hex(randomblob(8)) from n;'
sqlite3 w.db 'select count(*), sum(a) from t; update t set b=a where a%3=0; select count(*) from t where b=a;'
sqlite3 w.db 'begin; delete from t where a>2500; commit;' &
wait
sqlite3 w.db 'select count(*), max(a) from t; pragma wal_checkpoint(truncate); pragma integrity_check; pragma journal_mode;'
ls
