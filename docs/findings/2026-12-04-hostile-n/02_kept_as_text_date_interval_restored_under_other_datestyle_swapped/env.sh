export PGHOST=/tmp/devpg-5520 PGPORT=5520 PGUSER=postgres
B=/work/wt-hostile-n/.build/debug/bellows
export NO_COLOR=1
mk() {
  local n=$1; local d=/tmp/hn/exp/$n
  rm -rf $d; mkdir -p $d/migrations $d/plans
  printf '%s\n' "$MIG" > $d/migrations/001_schema.sql
  printf '%s\n' "$PLAN" > $d/plans/001_plan.yaml
  psql -q -d postgres -c "drop database if exists $n" -c "create database $n"
  (cd $d && PGDATABASE=$n $B migrate 2>&1 | tail -1)
  [ -n "$SEED" ] && psql -q -d $n -c "$SEED"
}
