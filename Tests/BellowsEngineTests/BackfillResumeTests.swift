import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// A backfill killed or cut off in the middle of a batch resumes exactly where its last
/// committed batch ended: no row is skipped, no row is updated twice, and the resumed run
/// starts from the saved cursor (it says so, and scans only the rows after it).
///
/// Every cut is made while the batch's `UPDATE` is observed waiting for a row lock that the
/// test holds on a key past the saved cursor: the batch has updated some of its rows and
/// committed none, so a stop between two batches cannot pass for a cut inside one.
///
/// One session walks (`workers: 1`), so the saved cursor is exactly the last batch's end; the
/// same cuts with helper sessions walking beside it are `BackfillWorkersTests`'.
@Suite(needsDatabase)
struct BackfillResumeTests {
    static let rows = 20_000
    static let batchSize = 50
    /// The key the test locks: in the middle of the batch 5001…5050, past the rows before it.
    static let blockedKey = 5_025

    /// A table of `rows` rows, a rename plan, expanded, and a test-only trigger counting every
    /// update the backfill makes, per row. The batch waits for a row lock in one attempt
    /// (a long `lock_timeout`), so the test decides when it ends.
    func prepare(_ fixture: EngineFixture, id: String) throws {
        try fixture.exec("""
            CREATE TABLE big (id bigint PRIMARY KEY, email text NOT NULL, note text);
            INSERT INTO big SELECT g, 'user' || g || '@example.com', NULL FROM generate_series(1, \(Self.rows)) AS g;
            CREATE TABLE backfill_hits (id bigint NOT NULL);
            CREATE FUNCTION count_backfill_hit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF coalesce(current_setting('bellows.backfill', true), '') <> '' THEN
                INSERT INTO backfill_hits VALUES (NEW.id);
              END IF;
              RETURN NULL;
            END $$;
            CREATE TRIGGER zz_count_backfill_hits AFTER UPDATE ON big FOR EACH ROW EXECUTE FUNCTION count_backfill_hit();
            -- ALWAYS: the backfill runs in session_replication_role = replica, which keeps the
            -- table's ordinary triggers quiet.
            ALTER TABLE big ENABLE ALWAYS TRIGGER zz_count_backfill_hits;
            ANALYZE big;
            """)
        try fixture.writePlan(id, """
            table: big
            changes:
              - alter: email
                rename_to: email_address
                not_null: true
            backfill:
              pause_ms: 0
              lock_timeout_ms: 120000
              workers: 1
            """)
        try fixture.run(.expand, id)
    }

    func bellows(_ fixture: EngineFixture, _ arguments: [String], log: String) throws -> BellowsProcess {
        let binary = try #require(bellowsBinary(), "the bellows executable is not built next to the tests (set BELLOWS_BINARY)")
        return try BellowsProcess(binary: binary, arguments: arguments + ["--project", fixture.root, "-d", fixture.db.conninfo],
                                  outputPath: fixture.root + "/\(log).log")
    }

    /// A `bellows backfill` child whose batch `UPDATE` waits for the test's row lock.
    struct BlockedBackfill {
        let process: BellowsProcess
        /// The test's session holding `FOR UPDATE` on `blockedKey`; `release()` ends it.
        let locker: Connection
        /// The backfill's backend, seen waiting in its `UPDATE` behind `locker`.
        let backend: Int

        func release() throws {
            if locker.isOpen { try locker.execute("ROLLBACK") }
            locker.close()
        }
    }

    /// The batch `UPDATE` of a bellows session waiting for a lock that `locker` holds.
    static let updateWaitingForTheTest = """
        SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'bellows'
        AND state = 'active' AND wait_event_type = 'Lock' AND query LIKE 'UPDATE%' AND $1::int = ANY (pg_blocking_pids(pid))
        """

    /// Locks `blockedKey`, starts the backfill in small batches and waits until its `UPDATE` is
    /// observed waiting for that lock (the batches before it committed, this one did not).
    func startBlockedBackfill(_ fixture: EngineFixture, id: String) throws -> BlockedBackfill {
        let locker = try fixture.db.connect()
        try locker.execute("BEGIN")
        #expect(try locker.query("SELECT id FROM big WHERE id = $1 FOR UPDATE", [Self.blockedKey]).count == 1)
        let process = try bellows(fixture, ["backfill", id, "--batch-size", "\(Self.batchSize)", "--pacing", "full"], log: "first")
        var backend: Int?
        let waiting = try eventually(60) {
            guard process.process.isRunning else { return true }
            backend = try fixture.sql.query(Self.updateWaitingForTheTest, [Int(locker.backendPID)]).first?.int("pid")
            return backend != nil
        }
        #expect(waiting)
        #expect(process.process.isRunning, "the backfill ended before its UPDATE waited for the test's lock: \(process.output)")
        return BlockedBackfill(process: process, locker: locker, backend: try #require(backend, "no UPDATE seen waiting"))
    }

    /// Waits until no bellows session is left on the database (the killed one's backend exits).
    func waitForBellowsToLeave(_ fixture: EngineFixture) throws {
        #expect(try eventually(30) { try fixture.bellowsBackends().isEmpty }, "a bellows backend stayed")
    }

    /// The saved state after a cut: a cursor, the rows up to it filled and counted once, and
    /// nothing after it, in particular none of the rows the cut batch had updated before it
    /// waited. Returns the cursor's key.
    @discardableResult
    func expectCutAtCursor(_ fixture: EngineFixture, id: String, below limit: Int = blockedKey) throws -> Int {
        let saved = try #require(try fixture.state(id))
        #expect(saved.phase == .expanded)
        let cursor = try #require(saved.backfillCursor, "no cursor was saved")
        let cursorKey = try #require(cursor.first.flatMap { Int($0) })
        #expect(cursorKey > 0 && cursorKey < limit)
        // Keys are 1…rows: the cursor, the rows counted and the rows filled agree exactly.
        #expect(saved.backfillRows == cursorKey)
        #expect(try fixture.int("SELECT count(*) FROM big WHERE email_address IS NOT NULL AND id <= $1", [cursorKey]) == cursorKey)
        #expect(try fixture.int("SELECT count(*) FROM big WHERE email_address IS NOT NULL AND id > $1", [cursorKey]) == 0)
        #expect(try fixture.int("SELECT count(*) FROM backfill_hits") == cursorKey)
        return cursorKey
    }

    /// Resumes in this process and checks that the run names the saved cursor and scans (and
    /// updates) exactly the rows after it: a resume from the first key scans them all.
    func expectResumeAfter(_ fixture: EngineFixture, id: String, cursorKey: Int) throws {
        let notes = Shared<[String]>([])
        let engine = fixture.engine({ $0.batchSize = 500 }) { note in
            if case .info(let message) = note { notes.update { $0.append(message) } }
        }
        let outcome = try engine.run(.backfill, plan: id)
        #expect(notes.current.contains("resuming the backfill of \(id) after key (\(cursorKey)), up to key (\(Self.rows))"), "\(notes.current)")
        #expect(outcome.details["rows_scanned_this_run"] == .int(Self.rows - cursorKey), "\(outcome.details)")
        #expect(outcome.details["rows_updated_this_run"] == .int(Self.rows - cursorKey), "\(outcome.details)")
    }

    /// The backfill finished, every row is right, and the backfill touched each row exactly once.
    func expectExactlyOnce(_ fixture: EngineFixture, id: String) throws {
        let state = try #require(try fixture.state(id))
        #expect(state.phase == .backfilled)
        #expect(state.backfillRows == Self.rows)
        #expect(try fixture.int("SELECT count(*) FROM big WHERE email_address IS DISTINCT FROM email") == 0)
        #expect(try fixture.int("SELECT count(*) FROM (SELECT id FROM backfill_hits GROUP BY id HAVING count(*) > 1) AS twice") == 0)
        #expect(try fixture.int("SELECT count(DISTINCT id) FROM backfill_hits") == Self.rows)
        #expect(try fixture.int("SELECT count(*) FROM backfill_hits") == Self.rows)
        try fixture.run(.verify, id)
    }

    @Test func killedBackfillResumesExactly() throws {
        let fixture = try EngineFixture("kill")
        defer { fixture.close() }
        let id = "001_big_rename"
        try prepare(fixture, id: id)

        let blocked = try startBlockedBackfill(fixture, id: id)
        blocked.process.kill9()
        #expect(blocked.process.wait(timeout: 10) != nil)
        #expect(blocked.process.process.terminationReason == .uncaughtSignal)
        let cursorKey = try expectCutAtCursor(fixture, id: id)
        // The orphaned backend still waits; once the lock is gone its UPDATE completes, but
        // nothing commits it.
        try blocked.release()
        try waitForBellowsToLeave(fixture)
        #expect(try expectCutAtCursor(fixture, id: id) == cursorKey)

        try expectResumeAfter(fixture, id: id, cursorKey: cursorKey)
        try expectExactlyOnce(fixture, id: id)
    }

    @Test func droppedConnectionMidBackfillResumes() throws {
        let fixture = try EngineFixture("drop")
        defer { fixture.close() }
        let id = "001_big_rename"
        try prepare(fixture, id: id)

        let blocked = try startBlockedBackfill(fixture, id: id)
        #expect(try fixture.int("SELECT pg_terminate_backend($1)::int", [blocked.backend]) == 1)
        let status = blocked.process.wait(timeout: 30)
        // A lost connection is an interruption: exit 4, how to resume, and an event recorded on a fresh connection.
        #expect(status == 4, "the cut backfill should stop as interrupted: \(blocked.process.output)")
        #expect(blocked.process.output.contains("resume with: bellows backfill \(id)"), "\(blocked.process.output)")
        #expect(try fixture.events(id).last?.outcome == "interrupted")
        try blocked.release()
        try waitForBellowsToLeave(fixture)
        let cursorKey = try expectCutAtCursor(fixture, id: id)

        try expectResumeAfter(fixture, id: id, cursorKey: cursorKey)
        try expectExactlyOnce(fixture, id: id)
    }
}

/// The keyset walks a composite primary key, or a unique index over NOT NULL columns when
/// there is no primary key; a table with neither is refused.
@Suite(needsDatabase)
struct KeysetTests {
    @Test func compositePrimaryKey() throws {
        let fixture = try EngineFixture("keyset")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE events (tenant varchar(20) NOT NULL, seq integer NOT NULL, payload text, PRIMARY KEY (tenant, seq));
            INSERT INTO events SELECT 'tenant ' || (g % 7), g / 7, 'payload ' || g FROM generate_series(1, 3000) AS g;
            """)
        let id = "001_events"
        try fixture.writePlan(id, """
            table: events
            changes:
              - alter: payload
                rename_to: body
            """)
        try fixture.run(.expand, id)
        let outcome = try fixture.run(.backfill, id) { $0.batchSize = 37 }
        #expect(outcome.details["rows_updated"] == .int(3000))
        #expect(try fixture.int("SELECT count(*) FROM events WHERE body IS DISTINCT FROM payload") == 0)
        let cursor = try #require(try fixture.state(id)?.backfillCursor)
        #expect(cursor == ["tenant 6", "427"])
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        #expect(try fixture.int("SELECT count(*) FROM events WHERE body = 'payload ' || (seq * 7 + substr(tenant, 8)::int)") == 3000)
    }

    @Test func uniqueNotNullKeyWithoutPrimaryKey() throws {
        let fixture = try EngineFixture("keyset")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE codes (code text NOT NULL, amount integer);
            CREATE UNIQUE INDEX codes_code_key ON codes (code);
            INSERT INTO codes SELECT 'code-' || g, g FROM generate_series(1, 2000) AS g;
            """)
        let id = "001_codes"
        try fixture.writePlan(id, """
            table: codes
            changes:
              - alter: amount
                type: bigint
                up: "amount::bigint * 2"
                down: "(amount / 2)::integer"
            """)
        try fixture.run(.expand, id)
        let outcome = try fixture.run(.backfill, id) { $0.batchSize = 53 }
        #expect(outcome.details["rows_updated"] == .int(2000))
        #expect(try fixture.state(id)?.backfillCursor == ["code-999"])
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        #expect(try fixture.int("SELECT count(*) FROM codes WHERE amount = substr(code, 6)::bigint * 2") == 2000)
        #expect(try fixture.rows("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'codes'::regclass AND attname = 'amount'") == [["bigint"]])
    }

    /// The first batch has no cursor. With only an upper bound on the key, the planner expected
    /// a third of the table, and past `jit_above_cost` compiled the batch with LLVM: 40-80 ms
    /// for 1,000 rows of a 5M-row table in a fresh session, 330 ms under load, while the
    /// application waited. Bounded on both sides from the table's first key, it is estimated
    /// as a batch, as every later batch is, for single and composite keys.
    @Test(arguments: [("CREATE TABLE firsts (id bigint PRIMARY KEY, payload text)", "g"),
                      ("CREATE TABLE firsts (a int, b int, payload text, PRIMARY KEY (a, b))", "g / 100, g % 100")])
    func everyBatchIsEstimatedAsOneBatch(_ create: String, _ key: String) throws {
        let fixture = try EngineFixture("keyset")
        defer { fixture.close() }
        let rows = 200_000
        try fixture.exec("""
            \(create);
            INSERT INTO firsts SELECT \(key), md5(g::text) FROM generate_series(1, \(rows)) AS g;
            """)
        let id = "001_firsts"
        let path = try fixture.writePlan(id, """
            table: firsts
            changes:
              - alter: payload
                rename_to: body
            """)
        let plan = try #require(PlanLoader.load(path: path).plan)
        let transition = try #require(TransitionCompiler.compile(plan, table: try CatalogReader.table(fixture.sql, plan.table.value)).transition)
        let sql = PhaseSQL(transition)
        try fixture.run(.expand, id)
        try fixture.exec("ANALYZE firsts")
        // The first batch's rows (up to a last key 1,000 rows in), and a later batch's, from a
        // cursor in the middle; the statement that finds the last key is an index walk.
        let single = transition.key.count == 1
        let first = single ? ["1000"] : ["10", "0"]
        let (cursor, last) = single ? (["100000"], ["101000"]) : (["1000", "0"], ["1010", "0"])
        for (batch, values) in [(sql.backfillBatch(first: true).update, first), (sql.backfillBatch(first: false).update, cursor + last)] {
            var statement = batch
            for (index, value) in values.enumerated().reversed() { statement = statement.replacingOccurrences(of: "$\(index + 1)", with: value) }
            let explained = try fixture.rows("EXPLAIN " + statement).compactMap { $0.first ?? nil }
            let update = try #require(explained.first { $0.contains("Update on firsts") }, "\(explained)")
            let estimate = try #require(update.firstMatch(of: /rows=([0-9]+)/).flatMap { Int($0.1) })
            #expect(estimate <= rows / 100, "a batch is planned for \(estimate) of \(rows) rows:\n\(explained.joined(separator: "\n"))")
        }
        let outcome = try fixture.run(.backfill, id) { $0.batchSize = 1000 }
        #expect(outcome.details["rows_updated"] == .int(rows))
    }

    @Test func tableWithoutKeyIsRefused() throws {
        let fixture = try EngineFixture("keyset")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE loose (a integer, b text);
            CREATE TABLE nullable_unique (a integer UNIQUE, b text);
            """)
        for table in ["loose", "nullable_unique"] {
            let id = "00\(table == "loose" ? 1 : 2)_\(table)"
            try fixture.writePlan(id, """
                table: \(table)
                changes:
                  - alter: b
                    rename_to: c
                """)
            let before = try fixture.snapshot(table)
            let refusal = expectRefusal { try fixture.run(.expand, id) }
            #expect(refusal?.gates == ["plan"])
            #expect(refusal?.text.contains("neither a primary key nor a unique index over NOT NULL columns") == true, "\(refusal?.text ?? "")")
            #expect(try fixture.snapshot(table) == before)
            #expect(try fixture.state(id)?.phase == .planned)
        }
    }
}
