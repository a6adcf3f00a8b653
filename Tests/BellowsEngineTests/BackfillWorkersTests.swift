import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Issue 22: at full speed the backfill walks the table with `backfill.workers` sessions side
/// by side (helpers beside its own). Batches then commit out of key order, so the saved cursor
/// must never pass a range that has not committed, and a resumed backfill — after a stop, a
/// kill, a helper's failure — must still update every row exactly once.
///
/// Each test counts the backfill's updates per row and per session with a trigger of the
/// table's own (ENABLE ALWAYS: the batches run in session_replication_role = replica).
@Suite(needsDatabase)
struct BackfillWorkersTests {
    static let rows = 20_000

    /// `failInHelpersFrom`: the helpers' batches fail at keys past it (the backfill's own
    /// session passes): a helper's failure, and only a helper's.
    /// `transientInHelpers`: the helpers' batches over keys in that range fail with a
    /// serialization failure (40001), which another attempt may not meet.
    /// `backfill`: more lines of the plan's `backfill:` section.
    func prepare(_ fixture: EngineFixture, id: String, workers: Int = 2, failInHelpersFrom: Int? = nil,
                 transientInHelpers: ClosedRange<Int>? = nil, backfill: String = "") throws {
        try fixture.exec("""
            CREATE TABLE big (id bigint PRIMARY KEY, email text NOT NULL);
            INSERT INTO big SELECT g, 'user' || g || '@example.com' FROM generate_series(1, \(Self.rows)) AS g;
            CREATE TABLE backfill_hits (id bigint NOT NULL, session text NOT NULL, isolation text NOT NULL);
            CREATE FUNCTION count_backfill_hit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF coalesce(current_setting('bellows.backfill', true), '') <> '' THEN
                IF current_setting('application_name') = 'bellows backfill walker' AND NEW.id > \(failInHelpersFrom ?? Int(Int32.max)) THEN
                  RAISE EXCEPTION 'the test fails the helpers past key %', \(failInHelpersFrom ?? 0);
                END IF;
                IF current_setting('application_name') = 'bellows backfill walker'
                   AND NEW.id BETWEEN \(transientInHelpers?.lowerBound ?? 0) AND \(transientInHelpers?.upperBound ?? -1) THEN
                  RAISE EXCEPTION 'the test makes the helpers retry' USING ERRCODE = 'serialization_failure';
                END IF;
                INSERT INTO backfill_hits VALUES (NEW.id, current_setting('application_name'), current_setting('transaction_isolation'));
              END IF;
              RETURN NULL;
            END $$;
            CREATE TRIGGER zz_count_backfill_hits AFTER UPDATE ON big FOR EACH ROW EXECUTE FUNCTION count_backfill_hit();
            ALTER TABLE big ENABLE ALWAYS TRIGGER zz_count_backfill_hits;
            ANALYZE big;
            """)
        try fixture.writePlan(id, """
            table: big
            changes:
              - alter: email
                rename_to: email_address
            backfill:
              pacing: full
              workers: \(workers)
            \(backfill)
            """)
        try fixture.run(.expand, id)
    }

    /// Every row filled and updated exactly once, and the count saved agrees.
    func expectEveryRowOnce(_ fixture: EngineFixture, id: String) throws {
        #expect(try fixture.int("SELECT count(*) FROM big WHERE email_address IS DISTINCT FROM email") == 0)
        #expect(try fixture.int("SELECT count(*) FROM backfill_hits") == Self.rows)
        #expect(try fixture.int("SELECT count(DISTINCT id) FROM backfill_hits") == Self.rows)
        #expect(try fixture.state(id)?.backfillRows == Self.rows)
        #expect(try fixture.state(id)?.phase == .backfilled)
    }

    /// The saved cursor never passes a row that is not filled.
    func expectCursorBehindTheWork(_ fixture: EngineFixture, id: String) throws -> Int {
        let saved = try #require(try fixture.state(id))
        let cursorKey = try #require(saved.backfillCursor?.first.flatMap { Int($0) }, "no cursor was saved")
        #expect(try fixture.int("SELECT count(*) FROM big WHERE email_address IS NULL AND id <= $1", [cursorKey]) == 0)
        // The count saved is what committed, wherever it is.
        #expect(try fixture.int("SELECT count(*) FROM backfill_hits") == saved.backfillRows)
        #expect(try fixture.int("SELECT count(DISTINCT id) FROM backfill_hits") == saved.backfillRows)
        return cursorKey
    }

    @Test func twoSessionsWalkSideBySideAndUpdateEveryRowOnce() throws {
        let fixture = try EngineFixture("workers_walk")
        defer { fixture.close() }
        let id = "001_rename_email"
        try prepare(fixture, id: id)
        let notes = Shared<[String]>([])
        let engine = fixture.engine({ $0.batchSize = 200 }) { note in
            if case .info(let message) = note { notes.update { $0.append(message) } }
        }
        let outcome = try engine.run(.backfill, plan: id)
        #expect(notes.current.contains("backfill of \(id): 2 sessions walk the table side by side at full speed (backfill.workers)"), "\(notes.current)")
        try expectEveryRowOnce(fixture, id: id)
        #expect(outcome.details["rows_updated_this_run"] == .int(Self.rows))
        #expect(outcome.details["rows_scanned_this_run"] == .int(Self.rows))
        #expect(outcome.details["sessions_this_run"] == .int(2))
        // Both sessions did part of it.
        #expect(try fixture.int("SELECT count(*) FROM backfill_hits WHERE session = 'bellows backfill walker'") > 0)
        #expect(try fixture.int("SELECT count(*) FROM backfill_hits WHERE session = 'bellows'") > 0)
        // No helper session is left behind.
        #expect(try eventually(10) {
            try fixture.int("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'bellows backfill walker'") == 0
        }, "a helper session stayed")
    }

    @Test func oneWorkerWalksAlone() throws {
        let fixture = try EngineFixture("workers_one")
        defer { fixture.close() }
        let id = "001_rename_email"
        try prepare(fixture, id: id, workers: 1)
        let outcome = try fixture.run(.backfill, id) { $0.batchSize = 500 }
        try expectEveryRowOnce(fixture, id: id)
        #expect(try fixture.int("SELECT count(*) FROM backfill_hits WHERE session <> 'bellows'") == 0)
        #expect(outcome.details["sessions_this_run"] == .int(1))
    }

    /// A stop while helpers walk: the cursor saved is behind every row not filled, the count
    /// saved is what committed, and the resumed run updates only the rows left.
    @Test func aStopSavesACursorBehindTheHelpersAndTheResumeUpdatesNoRowTwice() throws {
        let fixture = try EngineFixture("workers_stop")
        defer { fixture.close() }
        let id = "001_rename_email"
        try prepare(fixture, id: id)
        let batches = Shared(0)
        let first = fixture.engine({ options in
            options.batchSize = 200
            options.shouldStop = { batches.current >= 20 }
        }) { note in
            if case .backfill = note { batches.update { $0 += 1 } }
        }
        do {
            _ = try first.run(.backfill, plan: id)
            Issue.record("the backfill was not interrupted")
        } catch BellowsError.interrupted {}
        let cursorKey = try expectCursorBehindTheWork(fixture, id: id)
        #expect(cursorKey < Self.rows)
        #expect(try eventually(10) {
            try fixture.int("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'bellows backfill walker'") == 0
        }, "a helper session stayed")

        let notes = Shared<[String]>([])
        let second = fixture.engine({ $0.batchSize = 500 }) { note in
            if case .info(let message) = note { notes.update { $0.append(message) } }
        }
        _ = try second.run(.backfill, plan: id)
        #expect(notes.current.contains { $0.hasPrefix("resuming the backfill of \(id) after key (\(cursorKey))") }, "\(notes.current)")
        try expectEveryRowOnce(fixture, id: id)
    }

    /// Killed (SIGKILL) while helpers walk: whatever committed stays, the cursor is behind
    /// every row not filled (a helper's range past it is walked again and found done), and the
    /// resumed run updates no row twice.
    @Test func aKilledBackfillWithHelpersResumesWithoutUpdatingARowTwice() throws {
        let fixture = try EngineFixture("workers_kill")
        defer { fixture.close() }
        let id = "001_rename_email"
        try prepare(fixture, id: id)
        // Slow batches (a sleep per row in a trigger of the test's), so the kill lands mid-walk.
        try fixture.exec("""
            CREATE FUNCTION slow_backfill() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.id % 10 = 0 THEN PERFORM pg_sleep(0.002); END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER aa_slow_backfill BEFORE UPDATE ON big FOR EACH ROW EXECUTE FUNCTION slow_backfill();
            ALTER TABLE big ENABLE ALWAYS TRIGGER aa_slow_backfill;
            """)
        let binary = try #require(bellowsBinary(), "the bellows executable is not built next to the tests (set BELLOWS_BINARY)")
        let process = try BellowsProcess(binary: binary, arguments: ["backfill", id, "--batch-size", "300", "--project", fixture.root, "-d", fixture.db.conninfo],
                                         outputPath: fixture.root + "/kill.log")
        let midway = try eventually(60) {
            guard process.process.isRunning else { return true }
            return try fixture.int("SELECT count(*) FROM backfill_hits WHERE session = 'bellows backfill walker'") > 0
                && (try fixture.state(id)?.backfillRows ?? 0) >= 3_000
        }
        #expect(midway)
        #expect(process.process.isRunning, "the backfill ended before it was killed: \(process.output)")
        process.kill9()
        _ = process.wait(timeout: 30)
        #expect(try eventually(30) {
            try fixture.int("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'bellows%'") == 0
        }, "a bellows backend stayed")
        let cursorKey = try expectCursorBehindTheWork(fixture, id: id)
        #expect(cursorKey < Self.rows)

        _ = try fixture.run(.backfill, id) { $0.batchSize = 500 }
        try expectEveryRowOnce(fixture, id: id)
    }

    /// A helper's batch fails: its range is given back, the backfill's own session walks it
    /// (and says so), and every row is updated once — the failed batch's work was rolled back.
    @Test func aHelpersFailedBatchIsWalkedByTheBackfillsOwnSession() throws {
        let fixture = try EngineFixture("workers_fail")
        defer { fixture.close() }
        let id = "001_rename_email"
        try prepare(fixture, id: id, failInHelpersFrom: 4_000)
        let notes = Shared<[String]>([])
        let engine = fixture.engine({ $0.batchSize = 300 }) { note in
            if case .info(let message) = note { notes.update { $0.append(message) } }
        }
        _ = try engine.run(.backfill, plan: id)
        #expect(notes.current.contains { $0.hasPrefix("a helper session of the backfill stopped (P0001: the test fails the helpers past key 4000)") },
                "\(notes.current)")
        try expectEveryRowOnce(fixture, id: id)
        #expect(try fixture.int("SELECT count(*) FROM backfill_hits WHERE session = 'bellows backfill walker' AND id > 4000") == 0)
    }

    /// hostile-k 02: a transient failure of a helper's batch gives its range back and the
    /// helper goes on with the next range (before, the first one stopped it for the run).
    @Test func aHelperGoesOnAfterATransientFailure() throws {
        let fixture = try EngineFixture("workers_transient")
        defer { fixture.close() }
        let id = "001_rename_email"
        // Six batches' worth of keys: the helper takes some of them (and fails fewer times in a
        // row than `retries`, 5), the backfill's own session the rest.
        try prepare(fixture, id: id, transientInHelpers: 3_000...4_800)
        let notes = Shared<[String]>([])
        let engine = fixture.engine({ $0.batchSize = 300 }) { note in
            if case .info(let message) = note { notes.update { $0.append(message) } }
        }
        _ = try engine.run(.backfill, plan: id)
        try expectEveryRowOnce(fixture, id: id)
        #expect(try fixture.int("SELECT count(*) FROM backfill_hits WHERE session = 'bellows backfill walker' AND id BETWEEN 3000 AND 4800") == 0)
        #expect(notes.current.contains { $0.hasPrefix("a helper session's batch failed (40001: the test makes the helpers retry)") }, "\(notes.current)")
        // It went on: it walked ranges after those it gave back.
        #expect(try fixture.int("SELECT count(*) FROM backfill_hits WHERE session = 'bellows backfill walker' AND id > 5100") > 0, "\(notes.current)")
        #expect(!notes.current.contains { $0.hasPrefix("a helper session of the backfill stopped") }, "\(notes.current)")
    }

    /// hostile-k 00, 01: the helpers read and write keys and compute `up` under the settings
    /// the plan pinned at expand, as the backfill's own session does, whatever the backfilling
    /// connection's own. Before, a helper's last key was text in its own DateStyle, which the
    /// backfill's session read back as another date (92,000 of 100,000 rows never copied, the
    /// backfill "done"), and its `ts::date` was in its own TimeZone (verify passed them).
    @Test func helpersWalkUnderThePlansPinnedSettings() throws {
        let fixture = try EngineFixture("workers_settings")
        defer { fixture.close() }
        let id = "001_stamps"
        try fixture.exec("""
            CREATE TABLE stamps (ts timestamptz PRIMARY KEY, note text NOT NULL);
            INSERT INTO stamps SELECT timestamptz '2026-01-01 00:00:00+00' + g * interval '37 minutes', 'n' || g FROM generate_series(1, \(Self.rows)) AS g;
            CREATE TABLE backfill_hits (ts timestamptz NOT NULL, session text NOT NULL);
            CREATE FUNCTION count_backfill_hit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF coalesce(current_setting('bellows.backfill', true), '') <> '' THEN
                INSERT INTO backfill_hits VALUES (NEW.ts, current_setting('application_name'));
              END IF;
              RETURN NULL;
            END $$;
            CREATE TRIGGER zz_count_backfill_hits AFTER UPDATE ON stamps FOR EACH ROW EXECUTE FUNCTION count_backfill_hit();
            ALTER TABLE stamps ENABLE ALWAYS TRIGGER zz_count_backfill_hits;
            ANALYZE stamps;
            """)
        try fixture.writePlan(id, """
            table: stamps
            changes:
              - alter: note
                rename_to: body
              - add: day
                type: date
                backfill: "ts::date"
            backfill:
              pacing: full
              workers: 2
            """)
        let conninfo = fixture.db.conninfo
        try fixture.run(.expand, id) { $0.conninfo = conninfo + " options='-c TimeZone=UTC -c DateStyle=ISO,MDY'" }
        let outcome = try fixture.run(.backfill, id) { options in
            options.conninfo = conninfo + " options='-c TimeZone=Pacific/Auckland -c DateStyle=SQL,DMY'"
            options.batchSize = 500
        }
        #expect(outcome.details["sessions_this_run"] == .int(2))
        #expect(try fixture.int("SELECT count(*) FROM backfill_hits WHERE session = 'bellows backfill walker'") > 0)
        #expect(try fixture.int("SELECT count(*) FROM stamps WHERE body IS NULL") == 0)
        #expect(try fixture.int("SELECT count(*) FROM stamps WHERE day IS DISTINCT FROM (ts AT TIME ZONE 'UTC')::date") == 0)
        #expect(try fixture.int("SELECT count(*) FROM backfill_hits") == Self.rows)
        #expect(try fixture.int("SELECT count(DISTINCT ts) FROM backfill_hits") == Self.rows)
    }
}
