import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Names that need quoting everywhere, and an expand cut off in its concurrent index build.
@Suite(needsDatabase)
struct EdgeCaseTests {
    @Test func quotedNamesInAnotherSchema() throws {
        let fixture = try EngineFixture("quoted")
        defer { fixture.close() }
        let table = "\"Sales\".\"Order Lines\""
        try fixture.exec("""
            CREATE SCHEMA "Sales";
            CREATE TABLE \(table) ("Line ID" bigint PRIMARY KEY, "Unit Price" integer NOT NULL, "Full Name" text);
            CREATE INDEX "Order Lines_Unit Price_idx" ON \(table) ("Unit Price");
            INSERT INTO \(table) SELECT g, g * 3, 'Name ' || g FROM generate_series(1, 500) AS g;
            """)
        let id = "001_quoted"
        try fixture.writePlan(id, """
            table: '"Sales"."Order Lines"'
            changes:
              - alter: Unit Price
                rename_to: Price (cents)
                type: bigint
                up: '"Unit Price"::bigint * 10'
                down: '("Price (cents)" / 10)::integer'
                unique: true
                check: '"Price (cents)" >= 0'
              - add: Note's
                type: text
                default: "'it''s'"
            """)
        let original = try fixture.snapshot(table)
        try fixture.forward(id, through: .verify)
        try fixture.run(.rollback, id)
        let restored = try fixture.snapshot(table)
        #expect(restored == original, "\(original.difference(to: restored))")

        try fixture.run(.expand, id)
        try fixture.exec("""
            INSERT INTO \(table) ("Line ID", "Unit Price") VALUES (1001, 7);
            INSERT INTO \(table) ("Line ID", "Price (cents)") VALUES (1002, 99990);
            """)
        #expect(try fixture.rows("SELECT \"Unit Price\" FROM \(table) WHERE \"Line ID\" IN (1001, 1002) ORDER BY 1") == [["7"], ["9999"]])
        try fixture.run(.backfill, id)
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)

        #expect(try fixture.int("SELECT count(*) FROM \(table) WHERE \"Price (cents)\" = \"Line ID\" * 30 AND \"Note's\" = 'it''s'") == 500)
        #expect(try fixture.rows("SELECT \"Price (cents)\", \"Note's\" FROM \(table) WHERE \"Line ID\" IN (1001, 1002) ORDER BY 1")
                == [["70", "it's"], ["99990", "it's"]])
        let shape = try fixture.snapshot(table).shape()
        #expect(!shape.contains { $0.contains("_bellows_") }, "\(shape)")
        let expected = [
            "column Price (cents) bigint NOT NULL",
            "column Note's text NOT NULL DEFAULT 'it''s'::text",
            "constraint Order Lines_Price (cents)_key UNIQUE (\"Price (cents)\")",
            "constraint Order Lines_Price (cents)_check CHECK ((\"Price (cents)\" >= 0))",
            "index CREATE INDEX \"Order Lines_Price (cents)_idx\" ON \"Sales\".\"Order Lines\" USING btree (\"Price (cents)\")",
        ]
        // Note's is not NOT NULL: the plan did not ask for it.
        for line in expected where !line.hasPrefix("column Note's") {
            #expect(shape.contains(line), "missing \(line) in \(shape)")
        }
        #expect(shape.contains("column Note's text DEFAULT 'it''s'::text"), "\(shape)")
        #expect(!shape.contains { $0.contains("Unit Price") }, "\(shape)")
    }

    /// An expand whose concurrent index build is cut off leaves the plan `expanding` with an
    /// INVALID index; rollback removes everything, and a second expand resumes and rebuilds it.
    @Test func expandCutOffDuringTheIndexBuildResumesOrRollsBack() throws {
        let fixture = try EngineFixture("cic")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, note text);
            INSERT INTO accounts SELECT g, 'user' || g || '@example.com', NULL FROM generate_series(1, 2000) AS g;
            """)
        let id = "001_rename_email"
        try fixture.writePlan(id, """
            table: accounts
            changes:
              - alter: email
                rename_to: email_address
                unique: true
            """)
        let original = try fixture.snapshot("accounts")

        /// Runs expand while an old snapshot holds the concurrent build back, and cuts its connection.
        func cutOffExpand() throws {
            let holder = try fixture.db.connect()
            defer { holder.close() }
            try holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            _ = try holder.query("SELECT 1") // a snapshot, but no lock on the table
            let engine = fixture.engine()
            let failure = Shared<(any Error)?>(nil)
            let expand = Worker("expand") {
                do { _ = try engine.run(.expand, plan: id) } catch { failure.update { $0 = error } }
            }
            let building = try eventually(30) {
                try fixture.int("""
                    SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'bellows'
                    AND query LIKE 'CREATE UNIQUE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'
                    """) == 1
            }
            #expect(building, "the index build never waited")
            #expect(try fixture.int("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'bellows'") == 1)
            #expect(expand.join(timeout: 30))
            try holder.execute("COMMIT")
            // A lost connection is an interruption: the same command resumes.
            if case .stopped(_, let command, _, let resume)? = failure.current as? BellowsError {
                #expect(command == .expand && resume == "bellows expand \(id)")
            } else {
                Issue.record("expected the expand to stop, got \(String(describing: failure.current))")
            }
            let state = try #require(try fixture.state(id))
            #expect(state.phase != .expanded && state.expanding)
            #expect(try fixture.snapshot("accounts").lines.contains { $0.contains("_bellows_accounts_email_address_key") && $0.hasSuffix("(INVALID)") })
        }

        try cutOffExpand()
        // A rollback of the interrupted expand removes all of it.
        try fixture.run(.rollback, id)
        let afterRollback = try fixture.snapshot("accounts")
        #expect(afterRollback == original, "\(original.difference(to: afterRollback))")
        #expect(try fixture.state(id)?.expanding == false)

        try cutOffExpand()
        // The same command resumes: the INVALID index is dropped and rebuilt.
        let resumed = try fixture.run(.expand, id)
        #expect(resumed.to == .expanded)
        #expect(try fixture.state(id)?.expanding == false)
        let lines = try fixture.snapshot("accounts").lines
        #expect(!lines.contains { $0.hasSuffix("(INVALID)") }, "\(lines)")
        let events = try fixture.events(id).filter { $0.command == "expand" && $0.outcome == "succeeded" }
        #expect(events.count == 1 && events.first?.details.contains("\"resumed\": true") == true, "\(events)")
        for command in [PhaseCommand.backfill, .verify, .contract] { try fixture.run(command, id) }
        #expect(try fixture.snapshot("accounts").lines.contains("constraint accounts_email_address_key UNIQUE (email_address)"))
    }
}

/// A plan file edited after expand must not make rollback remove something else than what
/// expand added, nor stop it.
@Suite(needsDatabase)
struct EditedPlanTests {
    @Test func rollbackAfterThePlanFileChanged() throws {
        let fixture = try EngineFixture("edited")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, note text);
            INSERT INTO accounts SELECT g, 'user' || g || '@example.com', NULL FROM generate_series(1, 300) AS g;
            """)
        let id = "001_rename_email"
        let plan = """
            table: accounts
            changes:
              - alter: email
                rename_to: email_address
                not_null: true
                unique: true
            """
        try fixture.writePlan(id, plan)
        let original = try fixture.snapshot("accounts")
        try fixture.forward(id, through: .backfill)
        // Rollback removes what the text as expanded (stored by expand) added, not the file's.
        try fixture.writePlan(id, plan.replacingOccurrences(of: "email_address", with: "contact_email"))
        try fixture.run(.rollback, id)
        let after = try fixture.snapshot("accounts")
        #expect(after == original, "\(original.difference(to: after))")
        #expect(try fixture.state(id)?.phase == .rolledBack)
    }
}

/// Data that cannot take the new constraints stops the plan at the right phase, with a
/// clear reason, and rollback still restores the table.
@Suite(needsDatabase)
struct BadDataTests {
    @Test func nullsRefuseVerifyOfANotNullWithoutUp() throws {
        let fixture = try EngineFixture("baddata")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE profiles (id bigint PRIMARY KEY, created_by bigint);
            INSERT INTO profiles SELECT g, CASE WHEN g IN (3, 30) THEN NULL ELSE g END FROM generate_series(1, 300) AS g;
            """)
        let id = "001_not_null"
        try fixture.writePlan(id, """
            table: profiles
            changes:
              - alter: created_by
                not_null: true
            """)
        let original = try fixture.snapshot("profiles")
        try fixture.forward(id, through: .backfill)
        let before = try fixture.snapshot("profiles")
        let refusal = try #require(expectRefusal { try fixture.run(.verify, id) })
        #expect(refusal.gates == ["constraint"], "\(refusal.text)")
        #expect(refusal.text.contains("_bellows_profiles_created_by_not_null"), "\(refusal.text)")
        #expect(try fixture.snapshot("profiles") == before)
        #expect(try fixture.state(id)?.phase == .backfilled)
        try fixture.exec("UPDATE profiles SET created_by = 0 WHERE created_by IS NULL")
        try fixture.run(.verify, id)
        try fixture.run(.rollback, id)
        #expect(try fixture.snapshot("profiles") == original)
    }

    @Test func duplicatesStopExpandAtTheUniqueIndexAndRollBackCleanly() throws {
        let fixture = try EngineFixture("baddata")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE skills (id bigint PRIMARY KEY, name text NOT NULL);
            INSERT INTO skills SELECT g, 'skill ' || (g % 250) FROM generate_series(1, 300) AS g;
            """)
        let id = "001_unique_name"
        try fixture.writePlan(id, """
            table: skills
            changes:
              - alter: name
                unique: true
            """)
        let original = try fixture.snapshot("skills")
        do {
            try fixture.run(.expand, id)
            Issue.record("expand should fail on duplicate names")
        } catch BellowsError.failed(_, let command, let purpose, let error) {
            #expect(command == .expand)
            #expect(purpose.contains("build index"), "\(purpose)")
            #expect(error.sqlState == .uniqueViolation, "\(error)")
        }
        let state = try #require(try fixture.state(id))
        #expect(state.expanding && state.phase == .planned)
        // The failed build left no INVALID index behind.
        #expect(try fixture.int("SELECT count(*) FROM pg_index WHERE indrelid = 'skills'::regclass AND NOT indisvalid") == 0)
        #expect(try fixture.events(id).last?.outcome == "failed")
        try fixture.run(.rollback, id)
        #expect(try fixture.snapshot("skills") == original)
        #expect(try fixture.state(id)?.phase == .rolledBack)
    }
}
