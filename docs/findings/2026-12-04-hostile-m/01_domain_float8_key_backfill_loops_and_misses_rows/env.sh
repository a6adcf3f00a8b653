export PGHOST=/tmp/devpg-5519 PGPORT=5519 PGUSER=postgres
B=/work/wt-hostile-m/.build/debug/bellows
export NO_COLOR=1
# mk NAME : creates db NAME and project dir /tmp/hm/exp/NAME (expects $MIG and $PLAN vars, optional $SEED)
mk() {
  local n=$1; local d=/tmp/hm/exp/$n
  rm -rf $d; mkdir -p $d/migrations $d/plans
  printf '%s\n' "$MIG" > $d/migrations/001_schema.sql
  printf '%s\n' "$PLAN" > $d/plans/001_plan.yaml
  psql -q -d postgres -c "drop database if exists $n" -c "create database $n"
  (cd $d && PGDATABASE=$n $B migrate 2>&1 | tail -1)
  [ -n "$SEED" ] && psql -q -d $n -c "$SEED"
  # update counter
}
# counter on table t with key expression $KEYEXPR (text form via a stable cast)
counter() {
  local n=$1
  psql -q -d $n <<SQL
create table upd_log(k $KEYTYPE, ts timestamptz default clock_timestamp());
create function upd_count() returns trigger language plpgsql as \$\$ begin insert into upd_log(k) values (NEW.id); return null; end \$\$;
create trigger zz_upd_count after update on t for each row execute function upd_count();
alter table t enable always trigger zz_upd_count;
SQL
}
