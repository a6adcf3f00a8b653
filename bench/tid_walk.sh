#!/usr/bin/env bash
# Issue 22: what the backfill's access path is worth, and what Bellows adds around it.
# On the bench's table (bench (id bigint primary key, payload text), 100-byte payloads, copied
# from a template before every measurement as scripts/bench does) expanded by
# bench/project's rename plan, each round measures, in alternating order:
#   U   the single UPDATE bench SET body = payload, Bellows' trigger disabled (the bench's reference)
#   K   keyset batches of TID_BATCH rows by the primary key, Bellows' two statements (bench/tid_walk.sql)
#   KV  the same with VACUUM (INDEX_CLEANUP OFF, TRUNCATE OFF) after every tenth of the table, as Bellows
#   B   block ranges (TID Range Scan), k blocks ≈ TID_BATCH rows, up to the block count at the start
#   BV  the same with the VACUUMs
#   L   `bellows backfill` itself (adaptive batches, its round trips, pacing, cursor, VACUUMs)
# K, KV, B and BV run in one session as Bellows' batches do: the dual-write trigger enabled and
# standing aside (bellows.backfill), synchronous_commit off, session_replication_role replica,
# each batch planned with its values (plan_cache_mode = force_custom_plan, as Bellows' unnamed
# statements are). Rates are rows/s over the wall time; CPU is the backend's (from /proc; for
# L the postmaster's reaped-child CPU, which also counts an autovacuum worker ending meanwhile).
#
#   source <(/work/devpg.sh PORT) && TID_BELLOWS=path/to/bellows bench/tid_walk.sh       # rounds
#   ... TID_EXPLAIN=1 bench/tid_walk.sh                                                   # the plans only
#   ... TID_INTERLEAVED=1 bench/tid_walk.sh   # K and B batches alternating on one table (the drift cancels)
#
# Knobs: TID_ROWS (1000000), TID_BATCH (50000), TID_ROUNDS (3, after a discarded warm-up
# pair U, L), TID_KINDS ("U K KV B BV L"), TID_OUT (a TSV of every measurement),
# TID_INTERLEAVED_RUNS (4 per setting, batch 0 keyset or block in turn), TID_INTERLEAVED_VACUUM ("0 1").
# Needs a cluster of its own (PG14+; the figures in docs/benchmarks.md used the bench's
# settings: fsync on, shared_buffers large enough for the table, min_wal_size of a few GB).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${TID_ROWS:-1000000}
BATCH=${TID_BATCH:-50000}
ROUNDS=${TID_ROUNDS:-3}
read -r -a KINDS <<< "${TID_KINDS:-U K KV B BV L}"
BELLOWS=${TID_BELLOWS:-$ROOT/.build-bench/release/bellows}
OUT=${TID_OUT:-/tmp/tid_walk.tsv}
PROJECT=$ROOT/bench/project
PLAN=001_bench_rename
TRIGGER="~bellows_sync_001_bench_rename"
TICK=$(getconf CLK_TCK)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export PGOPTIONS="-c client_min_messages=warning"

log() { printf '[tid %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
sql() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }
bellows() { "$BELLOWS" "$@" --project "$PROJECT"; }
table_bytes() { sql -c "SELECT pg_table_size('bench')"; }
[ -x "$BELLOWS" ] || die "no bellows binary at $BELLOWS (TID_BELLOWS)"

# The bench's template and load (scripts/bench make_template, load).
make_template() {
  [ "$(sql -c "SELECT to_regclass('bench_src_$N') IS NOT NULL")" = t ] && return
  log "generating the $N-row template"
  sql -c "CREATE UNLOGGED TABLE bench_src_$N AS
    SELECT i::bigint AS id, md5(i::text) || md5((i * 7)::text) || md5((i * 13)::text) || lpad((i % 10000)::text, 4, '0') AS payload
    FROM generate_series(1, $N) AS i"
}
load() {
  sql <<SQL
DROP SCHEMA IF EXISTS bellows CASCADE;
DROP TABLE IF EXISTS bench;
CREATE TABLE bench (id bigint, payload text);
INSERT INTO bench SELECT id, payload FROM bench_src_$N ORDER BY id;
ALTER TABLE bench ADD PRIMARY KEY (id);
VACUUM ANALYZE bench;
CHECKPOINT;
SQL
}
expand() {
  local out
  out=$(bellows expand "$PLAN" --format json 2>&1) || { printf '%s\n' "$out" >&2; die "bellows expand failed"; }
}

# The session settings of Bellows' batches (BackfillPhase.runBatch), for the whole session.
SESSION="SET bellows.backfill = '$PLAN'; SET synchronous_commit = off; SET session_replication_role = replica; SET plan_cache_mode = force_custom_plan;"
VACUUM_SQL="VACUUM (INDEX_CLEANUP OFF, TRUNCATE OFF, SKIP_LOCKED) bench;"

# The psql script of one walk: ten calls of a tenth each (the last takes what is left), with
# or without a VACUUM after each of the first nine.
walk_script() {   # kind -> psql script on stdout
  local kind=$1 i budget call
  local tenth_rows=$(( N / 10 )) blocks nblocks k
  nblocks=$(sql -c "SELECT pg_relation_size('bench') / current_setting('block_size')::int")
  k=$(sql -c "SELECT greatest(1, round($BATCH * relpages::numeric / greatest(reltuples, 1)))::int FROM pg_class WHERE oid = 'bench'::regclass")
  blocks=$(( (nblocks + 9) / 10 ))
  echo "$SESSION"
  echo "\\set cursor_key 0"
  echo "\\set cursor_block 0"
  echo "\\set updated 0"
  echo "\\set batches 0"
  echo "\\set upper_key $(sql -c "SELECT max(id) FROM bench")"
  echo 'SELECT pg_backend_pid() AS pid \gset'
  echo '\setenv TID_PID :pid'
  echo "\\! awk '{ print \$14 + \$15 }' /proc/\$TID_PID/stat > $WORK/cpu0; date +%s.%N > $WORK/t0"
  for i in 1 2 3 4 5 6 7 8 9 10; do
    case $kind in
      K|KV) budget=$tenth_rows; [ "$i" = 10 ] && budget=9223372036854775807
            call="CALL bench_keyset_walk($BATCH, :cursor_key, :upper_key, $budget, :updated, :batches)" ;;
      B|BV) budget=$blocks; [ "$i" = 10 ] && budget=$nblocks
            call="CALL bench_block_walk($k, :cursor_block, $nblocks, $budget, :updated, :batches)" ;;
    esac
    echo "$call \\gset"
    if [ "$i" -lt 10 ] && [[ $kind == *V ]]; then echo "$VACUUM_SQL"; fi
  done
  echo "\\! date +%s.%N > $WORK/t1; awk '{ print \$14 + \$15 }' /proc/\$TID_PID/stat > $WORK/cpu1"
  echo '\setenv TID_UPDATED :updated'
  echo '\setenv TID_BATCHES :batches'
  echo "\\! echo \$TID_UPDATED \$TID_BATCHES $k $nblocks > $WORK/walk"
}

reaped_cpu() { local f; read -r -a f < "/proc/$1/stat"; echo $(( f[15] + f[16] )); }

measure() {       # round kind -> appends a line to $OUT
  local round=$1 kind=$2 before wall cpu extra="" t0 t1 postmaster c0 c1 k nblocks
  load
  expand
  [ "$kind" = U ] && sql -c "ALTER TABLE bench DISABLE TRIGGER \"$TRIGGER\""
  sql -c "CHECKPOINT"
  before=$(table_bytes)
  case $kind in
    U)
      printf '%s\n' 'SELECT pg_backend_pid() AS pid \gset' '\setenv TID_PID :pid' \
        "\\! awk '{ print \$14 + \$15 }' /proc/\$TID_PID/stat > $WORK/cpu0; date +%s.%N > $WORK/t0" \
        "UPDATE bench SET body = payload;" \
        "\\! date +%s.%N > $WORK/t1; awk '{ print \$14 + \$15 }' /proc/\$TID_PID/stat > $WORK/cpu1" > "$WORK/script.sql"
      sleep 1.1
      sql -f "$WORK/script.sql" >/dev/null
      wall=$(calc "$(cat "$WORK/t1") - $(cat "$WORK/t0")") cpu=$(calc "($(cat "$WORK/cpu1") - $(cat "$WORK/cpu0")) / $TICK" 2) ;;
    K|KV|B|BV)
      walk_script "$kind" > "$WORK/script.sql"
      sleep 1.1
      sql -f "$WORK/script.sql" >/dev/null
      wall=$(calc "$(cat "$WORK/t1") - $(cat "$WORK/t0")") cpu=$(calc "($(cat "$WORK/cpu1") - $(cat "$WORK/cpu0")) / $TICK" 2)
      read -r _ extra k nblocks < "$WORK/walk"; extra="$extra batches (k = $k blocks of $nblocks)" ;;
    L)
      postmaster=$(head -1 "$(sql -c "SHOW data_directory")/postmaster.pid")
      sleep 1.1   # no session active in the last second: Bellows runs at full speed, as in the bench
      c0=$(reaped_cpu "$postmaster")
      t0=$(now)
      bellows backfill "$PLAN" --format json > "$WORK/backfill.json" 2> "$WORK/backfill.jsonl" || die "bellows backfill failed: $(tail -3 "$WORK/backfill.jsonl")"
      t1=$(now)
      sleep 0.2
      c1=$(reaped_cpu "$postmaster")
      wall=$(calc "$t1 - $t0") cpu=$(calc "($c1 - $c0) / $TICK" 2)
      extra="last batch $(grep -o '"batch_size":[0-9]*' "$WORK/backfill.jsonl" | tail -1 | cut -d: -f2), $(grep -c 'letting vacuum catch up' "$WORK/backfill.jsonl" || true) VACUUMs" ;;
  esac
  [ "$(sql -c "SELECT count(*) FROM bench WHERE body IS DISTINCT FROM payload")" = 0 ] || die "$kind left rows out"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$kind" "$wall" "$cpu" "$(calc "$N / $wall" 0)" "$(calc "$(table_bytes) / $before" 2)" "$extra" >> "$OUT"
  log "round $round $kind: $wall s, cpu $cpu s, $(calc "$N / $wall" 0) rows/s, growth $(calc "$(table_bytes) / $before" 2) $extra"
}

explain() {       # the plans each walk's statements get, with values, and inside the procedures
  load; expand
  local k; k=$(sql -c "SELECT greatest(1, round($BATCH * relpages::numeric / greatest(reltuples, 1)))::int FROM pg_class WHERE oid = 'bench'::regclass")
  sql -c "$SESSION" -c "EXPLAIN SELECT id FROM bench WHERE id > 0 AND id <= $N ORDER BY id OFFSET $BATCH - 1 LIMIT 1" \
      -c "EXPLAIN UPDATE bench SET body = (payload)::text WHERE id > 0 AND id <= $BATCH AND ((ROW(body) IS NULL AND NOT ROW((payload)::text) IS NULL))" \
      -c "EXPLAIN UPDATE bench SET body = (payload)::text WHERE ctid >= '(0,0)'::tid AND ctid < '($k,0)'::tid AND ((ROW(body) IS NULL AND NOT ROW((payload)::text) IS NULL))" \
      -c "EXPLAIN UPDATE bench SET body = payload"
  # Inside the procedures (auto_explain of the nested statements, one batch each), to the client.
  PGOPTIONS="-c client_min_messages=log" sql -c "LOAD 'auto_explain'" -c "$SESSION" \
    -c "SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET auto_explain.log_level = log;" \
    -c "CALL bench_keyset_walk($BATCH, 0, $N, 1)" -c "CALL bench_keyset_walk($BATCH, $BATCH, $N, 1)" \
    -c "CALL bench_block_walk($k, 0, 1000000, $k)" -c "CALL bench_block_walk($k, $k, 1000000, $k)" 2>&1 | grep -E 'Query Text|Scan|Update on|Limit' || true
}

interleaved() {   # TID_INTERLEAVED_RUNS runs per VACUUM setting, the two kinds of batch alternating on one table
  local runs=${TID_INTERLEAVED_RUNS:-4} vac run phase k per nblocks i script
  for vac in ${TID_INTERLEAVED_VACUUM:-0 1}; do
    for run in $(seq 1 "$runs"); do
      phase=$(( run % 2 ))
      load; expand; sql -c "CHECKPOINT"
      read -r k per nblocks <<< "$(sql -F ' ' -c "SELECT greatest(1, round($BATCH * relpages::numeric / greatest(reltuples, 1)))::int,
                                                        round(reltuples / relpages)::int, pg_relation_size('bench') / current_setting('block_size')::int
                                                 FROM pg_class WHERE oid = 'bench'::regclass")"
      script=$WORK/interleaved.sql
      { echo "$SESSION"; echo '\set j 0'; echo '\set keyset_ms 0'; echo '\set keyset_rows 0'; echo '\set block_ms 0'; echo '\set block_rows 0'
        for i in 1 2 3 4 5 6 7 8 9 10; do
          stop=$(( i * ((nblocks + k - 1) / k) / 10 )); [ "$i" = 10 ] && stop=1000000
          echo "CALL bench_interleaved_walk($k, $per, $phase, $nblocks, $stop, :j, :keyset_ms, :keyset_rows, :block_ms, :block_rows) \\gset"
          if [ "$i" -lt 10 ] && [ "$vac" = 1 ]; then echo "$VACUUM_SQL"; fi
        done
        echo 'SELECT :keyset_ms AS keyset_ms, :keyset_rows AS keyset_rows, :block_ms AS block_ms, :block_rows AS block_rows'
      } > "$script"
      sleep 1.1
      read -r kms krows bms brows <<< "$(sql -F ' ' -f "$script" | tail -1)"
      [ "$(sql -c "SELECT count(*) FROM bench WHERE body IS DISTINCT FROM payload")" = 0 ] || die "the interleaved walk left rows out"
      printf 'I\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$vac" "$phase" "$kms" "$krows" "$bms" "$brows" \
        "$(calc "($brows / $bms) / ($krows / $kms)" 3)" >> "$OUT"
      log "interleaved, vacuum $vac, keyset first $(( 1 - phase )): keyset $krows rows in $(calc "$kms" 0) ms ($(calc "$krows / $kms" 1) rows/ms), blocks $brows rows in $(calc "$bms" 0) ms ($(calc "$brows / $bms" 1) rows/ms): blocks / keyset $(calc "($brows / $bms) / ($krows / $kms)" 3)"
    done
  done
}

make_template
sql -f "$ROOT/bench/tid_walk.sql"
if [ "${TID_EXPLAIN:-0}" = 1 ]; then explain; exit 0; fi
if [ "${TID_INTERLEAVED:-0}" = 1 ]; then interleaved; exit 0; fi
log "load average $(cut -d' ' -f1-3 /proc/loadavg); $N rows, batches of $BATCH, $ROUNDS rounds; $OUT"
measure 0 U; measure 0 L   # warm-up pair, discarded
for round in $(seq 1 "$ROUNDS"); do
  order=("${KINDS[@]}")
  if [ $(( round % 2 )) = 0 ]; then order=(); for (( i = ${#KINDS[@]} - 1; i >= 0; i-- )); do order+=("${KINDS[$i]}"); done; fi
  for kind in "${order[@]}"; do measure "$round" "$kind"; done
done
log "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
# Per round: each kind's rate against that round's UPDATE; medians over the rounds.
awk -F'\t' '$1 > 0 { rate[$1, $2] = $5; kinds[$2] = 1; if ($1 > max) max = $1 }
  END {
    for (k in kinds) {
      line = k ":"; n = 0
      for (r = 1; r <= max; r++) if ((r, k) in rate && (r, "U") in rate) { v[++n] = rate[r, k] / rate[r, "U"]; line = line sprintf(" %.2f", v[n]) }
      for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
      med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      printf "%s  (median %.2f)\n", line, med; delete v
    }
  }' "$OUT"
