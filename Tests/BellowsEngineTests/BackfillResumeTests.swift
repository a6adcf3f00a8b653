import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// A backfill killed or cut off mid-way resumes exactly where its last committed batch ended:
/// no row is skipped, no row is updated twice.
@Suite(needsDatabase)
struct BackfillResumeTests {
    static let rows = 20_000

    /// A table of `rows` rows, a rename plan pausing between batches, expanded, and a test-only
    /// trigger counting every update the backfill makes, per row.
    func prepare(_ fixture: EngineFixture, id: String) throws {
        try fixture.exec("""
            CREATE TABLE big (id bigint PRIMARY KEY, email text NOT NULL, note text);
            INSERT INTO big SELECT g, 'user' || g || '@example.com', NULL FROM generate_series(1, \(Self.rows)) AS g;
            CREATE TABLE backfill_hits (id bigint NOT NULL);
            CREATE FUNCTION count_backfill_hit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF coalesce(current_setting('bellows.backfill', true), '') <> '' THEN
                INSERT INTO backfill_hits VALUES (NEW.id);
                -- Slow batches at first, so the interruption lands inside one.
                IF NEW.id <= 2000 THEN PERFORM pg_sleep(0.001); END IF;
              END IF;
              RETURN NULL;
            END $$;
            CREATE TRIGGER zz_count_backfill_hits AFTER UPDATE ON big FOR EACH ROW EXECUTE FUNCTION count_backfill_hit();
            ANALYZE big;
            """)
        try fixture.writePlan(id, """
            table: big
            changes:
              - alter: email
                rename_to: email_address
                not_null: true
            backfill:
              pause_ms: 20
            """)
        try fixture.run(.expand, id)
    }

    func bellows(_ fixture: EngineFixture, _ arguments: [String], log: String) throws -> BellowsProcess {
        let binary = try #require(bellowsBinary(), "the bellows executable is not built next to the tests (set BELLOWS_BINARY)")
        return try BellowsProcess(binary: binary, arguments: arguments + ["--project", fixture.root, "-d", fixture.db.conninfo],
                                  outputPath: fixture.root + "/\(log).log")
    }

    static let batchInFlight = """
        SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'bellows'
        AND state = 'active' AND query LIKE 'WITH bellows\\_%'
        """

    /// Starts a slow backfill and waits until it has committed some batches and is inside the next one.
    func startSlowBackfill(_ fixture: EngineFixture, id: String) throws -> BellowsProcess {
        let process = try bellows(fixture, ["backfill", id, "--batch-size", "50"], log: "first")
        let progressed = try eventually(30) {
            guard process.process.isRunning else { return true }
            guard try fixture.state(id)?.backfillRows ?? 0 >= 500 else { return false }
            return try !fixture.rows(Self.batchInFlight).isEmpty
        }
        #expect(progressed)
        #expect(process.process.isRunning, "the backfill ended before it could be interrupted: \(process.output)")
        return process
    }

    /// Waits until no bellows session is left on the database (the killed one's backend exits).
    func waitForBellowsToLeave(_ fixture: EngineFixture) throws {
        #expect(try eventually(10) { try fixture.bellowsBackends().isEmpty }, "a bellows backend stayed")
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

        let first = try startSlowBackfill(fixture, id: id)
        first.kill9()
        #expect(first.wait(timeout: 10) != nil)
        #expect(first.process.terminationReason == .uncaughtSignal)
        try waitForBellowsToLeave(fixture)

        let saved = try #require(try fixture.state(id))
        #expect(saved.phase == .expanded)
        let cursor = try #require(saved.backfillCursor, "no cursor was saved")
        let cursorKey = try #require(cursor.first.flatMap { Int($0) })
        #expect(saved.backfillRows > 0 && saved.backfillRows < Self.rows)
        // The cursor and the rows filled agree: everything up to the cursor, nothing after it.
        #expect(try fixture.int("SELECT count(*) FROM big WHERE email_address IS NOT NULL") == saved.backfillRows)
        #expect(try fixture.int("SELECT max(id) FROM big WHERE email_address IS NOT NULL") == cursorKey)
        #expect(try fixture.int("SELECT count(*) FROM backfill_hits") == saved.backfillRows)

        let second = try bellows(fixture, ["backfill", id, "--batch-size", "500"], log: "second")
        let status = second.wait(timeout: 120)
        #expect(status == 0, "\(second.output)")
        try expectExactlyOnce(fixture, id: id)
    }

    @Test func droppedConnectionMidBackfillResumes() throws {
        let fixture = try EngineFixture("drop")
        defer { fixture.close() }
        let id = "001_big_rename"
        try prepare(fixture, id: id)

        let first = try startSlowBackfill(fixture, id: id)
        // Cut the connection while a batch runs (if that batch just ended, wait for the next one).
        let terminated = try eventually(30) {
            try fixture.int("SELECT count(pg_terminate_backend(pid)) FROM (\(Self.batchInFlight)) AS b") == 1
        }
        #expect(terminated)
        let status = first.wait(timeout: 30)
        #expect(status == 3, "the interrupted backfill should fail: \(first.output)")
        #expect(first.output.contains("run the same command to resume") || first.output.contains("terminat"), "\(first.output)")
        try waitForBellowsToLeave(fixture)
        let saved = try #require(try fixture.state(id))
        #expect(saved.phase == .expanded && saved.backfillCursor != nil && saved.backfillRows < Self.rows)

        let second = try bellows(fixture, ["backfill", id, "--batch-size", "500"], log: "second")
        #expect(second.wait(timeout: 120) == 0, "\(second.output)")
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
