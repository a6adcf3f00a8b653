@testable import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// hostile-l and hostile-m: the backfill's sessions on databases and roles whose defaults the authors did not
/// use, and keys whose text or equality the walk got wrong — a serializable default, an idle_session_timeout, a lock held by another session, a
/// role's CONNECTION LIMIT. Each test failed before its fix.
@Suite(needsDatabase)
struct BackfillSessionTests {
    /// The table, the plan and the checks of BackfillWorkersTests: a rename walked by
    /// `workers` sessions, the table's trigger recording each backfilled row's key, session
    /// and transaction isolation.
    let workers = BackfillWorkersTests()
    static let rows = BackfillWorkersTests.rows

    func prepare(_ fixture: EngineFixture, id: String, workers count: Int = 2, extra: String = "") throws {
        try workers.prepare(fixture, id: id, workers: count, backfill: extra)
    }

    func expectEveryRowOnce(_ fixture: EngineFixture, id: String) throws {
        try workers.expectEveryRowOnce(fixture, id: id)
    }

    /// hostile-l 01: under a database's default of serializable (or repeatable read) the walkers'
    /// batches, which all update the plan's row in bellows.plans, failed each other's with
    /// 40001 (4 of 5 runs with 8 workers and `retries: 1`). The walk's sessions are read committed.
    @Test func theWalkIsReadCommittedUnderASerializableDefault() throws {
        let fixture = try EngineFixture("session_serializable")
        defer { fixture.close() }
        let id = "001_rename_email"
        try prepare(fixture, id: id, workers: 4, extra: "  retries: 1")
        try fixture.exec("ALTER DATABASE \(fixture.db.name) SET default_transaction_isolation = 'serializable'")
        let outcome = try fixture.run(.backfill, id) { $0.batchSize = 200 }
        #expect(outcome.details["sessions_this_run"] == .int(4))
        try expectEveryRowOnce(fixture, id: id)
        #expect(try fixture.int("SELECT count(*) FROM backfill_hits WHERE isolation <> 'read committed'") == 0)
        #expect(try fixture.int("SELECT count(DISTINCT session) FROM backfill_hits") == 2)
    }

    /// hostile-l 02: a float key under a kept `extra_float_digits = 0` (expand keeps the
    /// connection's value for every phase): the walk's end, the largest key, was read back as
    /// rounded text below itself, so the last row was never walked, the backfill said done, verify
    /// refused and `--rescan` repeated the miss; contract's archive copy ended at the same
    /// rounded key. hostile-m 01: a domain over double precision kept its rounded text, and a
    /// batch holding the last row alone read the same rounded key forever. Every key text of
    /// the walk is exact now.
    @Test(arguments: ["double precision", "exact_float"])
    func aFloatKeyUnderExtraFloatDigitsZeroIsWalkedAndArchivedToItsLastRow(keyType: String) throws {
        let fixture = try EngineFixture("session_float_key")
        defer { fixture.close() }
        let id = "001_widen_a"
        // 30001 / 7.0 is 4285.857142857143; with extra_float_digits = 0 its text is 4285.85714285714.
        try fixture.exec("""
            CREATE DOMAIN exact_float AS double precision CHECK (VALUE > 0);
            CREATE TABLE t (id \(keyType) PRIMARY KEY, a int NOT NULL);
            INSERT INTO t SELECT g / 7.0, g FROM generate_series(1, 3000) AS g;
            INSERT INTO t VALUES (30001 / 7.0, 30001);
            ANALYZE t;
            ALTER DATABASE \(fixture.db.name) SET extra_float_digits = 0;
            """)
        try fixture.writePlan(id, """
            table: t
            changes:
              - alter: a
                type: bigint
                up: "a::bigint"
                down: "a::int"
            backfill:
              pacing: full
              workers: 2
            """)
        try fixture.forward(id, through: .contract)
        #expect(try fixture.int("SELECT count(*) FROM t WHERE a IS NULL OR a <> round(id * 7)") == 0)
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"001_widen_a_t\"") == 3001)
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"001_widen_a_t\" WHERE id = 30001 / 7.0 AND a = 30001") == 1)
    }

    /// hostile-m 03: a timestamptz key under a database's `DateStyle = 'SQL, DMY'` and
    /// `TimeZone = 'Europe/Dublin'`: a summer key printed as `… IST`, read back as Israel's time,
    /// an hour early, so the walk's end read back before the cursor: the backfill said done with
    /// 1,800 of 5,000 rows unwalked, and contract archived 3,200 rows and dropped the column.
    /// Keys are read under ISO now; a change whose `up` prints a date computes it under the
    /// session's own DateStyle still (verify compares it with what the trigger computes).
    @Test(arguments: [false, true])
    func aTimestampKeyUnderAnotherDateStyleIsWalkedAndArchivedToItsLastRow(upPrintsADate: Bool) throws {
        let fixture = try EngineFixture("session_timestamp_key")
        defer { fixture.close() }
        let id = "001_change_v"
        try fixture.exec("""
            CREATE TABLE t (id timestamptz PRIMARY KEY, v date NOT NULL);
            -- 5,000 keys two seconds apart across the spring DST change (01:00 UTC).
            INSERT INTO t SELECT timestamptz '2026-03-29 01:30:00+00' - g * interval '2 seconds', date '2026-01-01' + g % 300
            FROM generate_series(0, 4999) AS g;
            ANALYZE t;
            ALTER DATABASE \(fixture.db.name) SET timezone = 'Europe/Dublin';
            ALTER DATABASE \(fixture.db.name) SET datestyle = 'SQL, DMY';
            """)
        try fixture.writePlan(id, upPrintsADate ? """
            table: t
            changes:
              - alter: v
                rename_to: v_text
                type: text
                up: "v::text"
                down: "v_text::date"
            backfill:
              pacing: full
              batch_size: 100
            """ : """
            table: t
            changes:
              - alter: v
                rename_to: w
            backfill:
              pacing: full
              batch_size: 100
            """)
        try fixture.forward(id, through: .contract)
        let newColumn = upPrintsADate ? "v_text" : "w"
        #expect(try fixture.int("SELECT count(*) FROM t WHERE \(newColumn) IS NULL") == 0)
        // The new text is the database's DateStyle's (dd/mm/yyyy), as the trigger writes it.
        if upPrintsADate { #expect(try fixture.int("SELECT count(*) FROM t WHERE v_text !~ '^\\d\\d/\\d\\d/\\d{4}$'") == 0) }
        #expect(try fixture.int("SELECT count(*) FROM t WHERE NOT EXISTS (SELECT 1 FROM bellows_archive.\"001_change_v_t\" AS a WHERE a.id = t.id)") == 0)
        // The walk's end is saved in ISO form, which a resume under any DateStyle reads back as
        // the same key (hostile-m 04: a cursor saved as 06/01/2026 read back as 1 June).
        #expect(try fixture.state(id)?.backfillBound == ["2026-03-29 01:30:00.000000 AD +00"])
    }

    /// A move reads its batches' keys under the session's settings (its copy evaluates CHECKs
    /// under them): the same summer keys printed `… IST` read back an hour early, and the move's
    /// walk ended short (verify refused it). A timestamp key's text is now ISO with a numeric
    /// offset in UTC, the same under every DateStyle and TimeZone.
    @Test func aMovesTimestampKeyUnderAnotherDateStyleIsWalkedToItsLastRow() throws {
        let fixture = try EngineFixture("session_move_timestamp_key")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE t (id timestamptz PRIMARY KEY, name text NOT NULL, note text);
            INSERT INTO t SELECT timestamptz '2026-03-29 01:30:00+00' + g * interval '2 seconds', 'n' || g, 'note ' || g
            FROM generate_series(0, 4999) AS g;
            ANALYZE t;
            ALTER DATABASE \(fixture.db.name) SET timezone = 'Europe/Dublin';
            ALTER DATABASE \(fixture.db.name) SET datestyle = 'SQL, DMY';
            """)
        try fixture.writePlan("001_move_note", """
            table: t
            move_columns:
              to: t_notes
              columns: [note]
            backfill:
              pacing: full
              batch_size: 100
            """)
        try fixture.forward("001_move_note", through: .verify)
        #expect(try fixture.int("SELECT count(*) FROM t_notes") == 5000)
        #expect(try fixture.int("SELECT count(*) FROM t JOIN t_notes USING (id) WHERE t_notes.note = t.note") == 5000)
    }

    /// hostile-n 02: requiring a key index to be exactly `btree (k)` refused `(k DESC)` and
    /// `NULLS NOT DISTINCT`, whose equality is the column's, and left plans expanded before stuck.
    @Test func aUniqueIndexInDescendingOrderIsAKey() throws {
        let fixture = try EngineFixture("session_desc_key")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE t (k int NOT NULL, v text NOT NULL);
            CREATE UNIQUE INDEX t_k ON t (k DESC NULLS LAST);
            INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 3000) AS g;
            """)
        try fixture.writePlan("001_rename_v", "table: t\nchanges:\n  - alter: v\n    rename_to: w\n")
        try fixture.forward("001_rename_v", through: .contract)
        #expect(try fixture.int("SELECT count(*) FROM t WHERE w = 'v' || k") == 3000)
    }

    /// hostile-n 05: a move's copy ran under the walk's fixed DateStyle, and the moved column's
    /// CHECK parsing a day-first date failed under it; the copy runs under the session's settings.
    @Test func aMovesCopyEvaluatesChecksUnderTheSessionsDateStyle() throws {
        let fixture = try EngineFixture("session_move_datestyle")
        defer { fixture.close() }
        try fixture.exec("""
            ALTER DATABASE \(fixture.db.name) SET datestyle = 'SQL, DMY';
            CREATE TABLE t (id int PRIMARY KEY, name text, due text CHECK (due::date >= date '2000-01-01'));
            """)
        try fixture.exec("""
            SET datestyle = 'SQL, DMY';
            INSERT INTO t SELECT g, 'n' || g, to_char(date '2020-01-01' + g, 'DD/MM/YYYY') FROM generate_series(1, 3000) AS g;
            RESET datestyle;
            """)
        try fixture.writePlan("001_move_due", "table: t\nmove_columns:\n  to: t_extra\n  columns: [due]\n")
        try fixture.forward("001_move_due", through: .verify)
        #expect(try fixture.int("SELECT count(*) FROM t_extra") == 3000)
    }

    /// hostile-m 10: a text key beginning with a combining mark (the table's largest) came back
    /// from the `text[]` of the walk's end as `{́zz}`, braces included: every key above `{` was
    /// skipped, and contract archived 2,500 of 5,001 rows. Keys `é` precomposed and decomposed
    /// are two keys to PostgreSQL and one to Swift's `==`.
    @Test func textKeysWithCombiningMarksAreWalkedAndArchivedToTheLastRow() throws {
        let fixture = try EngineFixture("session_combining_key")
        defer { fixture.close() }
        let id = "001_rename_v"
        try fixture.exec("""
            CREATE TABLE t (id text COLLATE "C" PRIMARY KEY, v text NOT NULL);
            INSERT INTO t SELECT 'a' || lpad(g::text, 5, '0'), 'v' || g FROM generate_series(1, 2500) AS g;
            INSERT INTO t SELECT U&'\\00E9' || lpad(g::text, 5, '0'), 'w' || g FROM generate_series(1, 2500) AS g;
            INSERT INTO t SELECT U&'e\\0301' || lpad(g::text, 5, '0'), 'x' || g FROM generate_series(1, 100) AS g;
            INSERT INTO t VALUES (U&'\\0301zz', 'last');
            ANALYZE t;
            """)
        try fixture.writePlan(id, """
            table: t
            changes:
              - alter: v
                rename_to: w
            backfill:
              pacing: full
              batch_size: 100
            """)
        try fixture.forward(id, through: .contract)
        #expect(try fixture.int("SELECT count(*) FROM t WHERE w IS NULL") == 0)
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"001_rename_v_t\"") == 5101)
        #expect(try fixture.int("SELECT count(*) FROM t WHERE NOT EXISTS (SELECT 1 FROM bellows_archive.\"001_rename_v_t\" AS a WHERE a.id = t.id AND a.v = t.w)") == 0)
    }

    /// hostile-m 05: a unique index `(id COLLATE "C")` on a case-insensitive column was taken as
    /// the walk's key, and restore, joining on the column's equality, wrote `K1`'s archived value
    /// into `k1`. A unique index is a key only with its columns' own collations. (Shown with
    /// two libc collations: the PostgreSQL 16 build the tests use has no ICU.)
    @Test func aUniqueIndexUnderAnotherCollationIsNoKey() throws {
        let fixture = try EngineFixture("session_collation_key")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE t (id text COLLATE "POSIX" NOT NULL, v text NOT NULL);
            CREATE UNIQUE INDEX t_id_c ON t (id COLLATE "C");
            INSERT INTO t VALUES ('k1', 'lower'), ('K1', 'upper');
            """)
        try fixture.writePlan("001_rename_v", "table: t\nchanges:\n  - alter: v\n    rename_to: w\n")
        #expect(throws: (any Error).self) { try fixture.run(.expand, "001_rename_v") }
        #expect(try fixture.int("SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'w'") == 0)
        // Its own collation's unique index is a key.
        try fixture.exec("""
            DROP INDEX t_id_c; UPDATE t SET id = 'k2' WHERE v = 'upper'; CREATE UNIQUE INDEX t_id ON t (id);
            """)
        try fixture.forward("001_rename_v", through: .contract)
        #expect(try fixture.rows("SELECT id, w FROM t ORDER BY w") == [["k1", "lower"], ["k2", "upper"]])
    }

    /// hostile-l 07: a database's idle_session_timeout ended a paused backfill's own session
    /// (its helpers' and VACUUM's were protected): "server closed the connection unexpectedly".
    @Test func aPausedBackfillOutlivesAnIdleSessionTimeout() throws {
        let fixture = try EngineFixture("session_idle")
        defer { fixture.close() }
        let id = "001_rename_email"
        try prepare(fixture, id: id)
        try fixture.exec("ALTER DATABASE \(fixture.db.name) SET idle_session_timeout = '300ms'")
        _ = try fixture.engine().control(plan: id, .pause)
        let failure = Shared<String?>(nil)
        let engine = fixture.engine({ $0.controlPollSeconds = 1; $0.batchSize = 1_000 })
        let backfill = Worker("paused backfill") {
            do { _ = try engine.run(.backfill, plan: id) } catch { failure.update { $0 = "\(error)" } }
        }
        Thread.sleep(forTimeInterval: 3)
        _ = try fixture.engine().control(plan: id, .resume)
        #expect(backfill.join(timeout: 60), "the backfill did not end")
        #expect(failure.current == nil, "\(failure.current ?? "")")
        try expectEveryRowOnce(fixture, id: id)
    }

    /// hostile-l 04: a stop while another session holds the table's ACCESS EXCLUSIVE lock took
    /// as long as the lock was held (22.6 s): a helper reading its next batch's last key waited
    /// without a lock_timeout, holding the walk's turn, and the stop waited for it. The walk's
    /// reads now run under the plan's lock_timeout_ms (and are read again, as batches are).
    @Test func aStopIsHonouredWhileAnotherSessionHoldsTheTable() throws {
        let fixture = try EngineFixture("session_locked")
        defer { fixture.close() }
        let id = "001_rename_email"
        try prepare(fixture, id: id, extra: "  lock_timeout_ms: 300\n  retries: 100")
        let locker = try Connection(fixture.db.conninfo)
        defer { locker.close() }
        let stop = Shared(false)
        let batches = Shared(0)
        let stoppedAt = Shared<Date?>(nil)
        let engine = fixture.engine({ options in
            options.batchSize = 200
            options.shouldStop = { stop.current }
        }) { note in
            if case .backfill = note { batches.update { $0 += 1 } }
        }
        let result = Shared<String>("running")
        let backfill = Worker("locked backfill") {
            do {
                _ = try engine.run(.backfill, plan: id)
                result.update { $0 = "finished" }
            } catch BellowsError.interrupted {
                result.update { $0 = "interrupted" }
            } catch {
                result.update { $0 = "\(error)" }
            }
        }
        #expect(try eventually(60) { batches.current >= 5 || result.current != "running" })
        try locker.execute("BEGIN")
        try locker.execute("LOCK TABLE big IN ACCESS EXCLUSIVE MODE")
        Thread.sleep(forTimeInterval: 1.5)
        stoppedAt.update { $0 = Date() }
        stop.update { $0 = true }
        let ended = backfill.join(timeout: 10)
        let waited = Date().timeIntervalSince(stoppedAt.current ?? Date())
        _ = try? locker.execute("ROLLBACK")
        if !ended { _ = backfill.join(timeout: 60) }
        #expect(ended, "the stop waited for the lock: \(waited) s")
        #expect(result.current == "interrupted", "\(result.current)")

        // Resumed without the lock, every row once.
        _ = try fixture.run(.backfill, id) { $0.batchSize = 500 }
        try expectEveryRowOnce(fixture, id: id)
    }

    /// hostile-l 05: helpers took every connection a role's CONNECTION LIMIT left, and
    /// `bellows pause` and `status` as that role could not connect for the whole walk (nor could
    /// the backfill's VACUUM). They open within the limit, keeping one for the release manager
    /// and one for the VACUUM, and the backfill says so.
    @Test func helpersLeaveARolesLastConnectionsFree() throws {
        let fixture = try EngineFixture("session_limit")
        defer { fixture.close() }
        let owner = try DataSafetyTests.role(fixture, "walk_limit")
        defer { owner.drop() }
        let id = "001_rename_email"
        try prepare(fixture, id: id, workers: 4)
        try fixture.exec("""
            ALTER TABLE big OWNER TO \(owner.name);
            ALTER TABLE backfill_hits OWNER TO \(owner.name);
            GRANT USAGE ON SCHEMA bellows TO \(owner.name);
            GRANT ALL ON ALL TABLES IN SCHEMA bellows TO \(owner.name);
            GRANT ALL ON ALL SEQUENCES IN SCHEMA bellows TO \(owner.name);
            ALTER ROLE \(owner.name) CONNECTION LIMIT 4;
            """)
        let notes = Shared<[String]>([])
        let outcome = try fixture.engine({
            $0.conninfo = fixture.db.conninfo + " user=\(owner.name)"
            $0.batchSize = 200
        }) { note in
            if case .info(let text) = note { notes.update { $0.append(text) } }
        }.run(.backfill, plan: id)
        // Four connections: the backfill's own, one helper, one kept for the VACUUM, one for `bellows pause`.
        #expect(outcome.details["sessions_this_run"] == .int(2), "\(notes.current)")
        #expect(notes.current.contains {
            $0.hasPrefix("warning: the backfill walks with 2 sessions of backfill.workers' 4: the role's CONNECTION LIMIT leaves 3 connections")
        }, "\(notes.current)")
        #expect(!notes.current.contains { $0.contains("no second connection could be opened") }, "\(notes.current)")
        try expectEveryRowOnce(fixture, id: id)
    }
}

/// How many helper sessions fit in the connections left (pure).
struct ConnectionRoomTests {
    /// The room for helpers: the tightest limit, less what is kept; never below none.
    @Test func connectionRoomTakesTheTightestLimit() {
        let room = ConnectionRoom(left: [.init(limit: "server", count: 90), .init(limit: "role", count: 3)])
        #expect(room.sessions(wanted: 7, keep: 2) == 1)
        #expect(room.sessions(wanted: 7, keep: 3) == 0)
        #expect(room.sessions(wanted: 7, keep: 5) == 0)
        #expect(room.described == "the role's CONNECTION LIMIT leaves 3 connections")
        #expect(ConnectionRoom(left: []).sessions(wanted: 3, keep: 2) == 3)
        #expect(ConnectionRoom(left: [.init(limit: "server", count: 40)]).sessions(wanted: 3, keep: 2) == 3)
    }
}

extension BackfillSessionTests {
    /// hostile-n 06: `bellows estimate`'s sample read its batches' keys under the session's
    /// settings, and summer keys printed `… IST` made it walk the same rows again (6,080 rows
    /// sampled of 5,000), for a change and for a move. Timestamp keys' text no longer depends
    /// on them (`KeysetSQL.exactText`).
    @Test(arguments: ["changes:\n  - alter: v\n    rename_to: w\n", "move_columns:\n  to: t_extra\n  columns: [v]\n"])
    func theEstimatesSampleWalksATimestampKeyOnceUnderAnotherDateStyle(plan: String) throws {
        let fixture = try EngineFixture("session_estimate_timestamp_key")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE t (id timestamptz PRIMARY KEY, v text NOT NULL);
            INSERT INTO t SELECT timestamptz '2026-06-01 00:00:00+00' + g * interval '1 minute', 'v' || g FROM generate_series(1, 5000) AS g;
            ALTER DATABASE \(fixture.db.name) SET timezone = 'Europe/Dublin';
            ALTER DATABASE \(fixture.db.name) SET datestyle = 'SQL, DMY';
            """)
        try fixture.writePlan("001_plan", "table: t\n" + plan)
        let report = try fixture.engine { $0.batchSize = nil }.estimate(plan: "001")
        let sample = try #require(report.backfill.sample)
        #expect(sample.rows > 0 && sample.rows <= 5000, "\(sample)")
    }
}
