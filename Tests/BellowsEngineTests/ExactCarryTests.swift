import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Constraints and indexes on a renamed column come back exactly as they were: deferrable,
/// NOT VALID, in their tablespace, the CLUSTER index (issue 14; hostile-c findings 02, 11, 07).
@Suite(needsDatabase)
struct ExactCarryTests {
    /// A `UNIQUE … DEFERRABLE [INITIALLY DEFERRED]` constraint stays deferrable (hostile-c 02:
    /// it came back immediate, and old code's `SET seat = seat + 1`, legal under the deferred
    /// constraint, failed from the backfill on and for good after contract). Single- and
    /// multi-column; rollback removes what expand attached.
    @Test func aDeferrableUniqueStaysDeferrable() throws {
        let fixture = try EngineFixture("carry-deferrable")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE child (id int PRIMARY KEY, seat int, rank int, note text,
              CONSTRAINT child_seat_key UNIQUE (seat) DEFERRABLE INITIALLY DEFERRED,
              CONSTRAINT child_rank_key UNIQUE (rank) DEFERRABLE,
              CONSTRAINT child_note_rank_key UNIQUE (note, rank) DEFERRABLE INITIALLY DEFERRED);
            INSERT INTO child SELECT g, g, g, 'n' || g FROM generate_series(1, 200) AS g;
            """)
        let id = "001_rename_seat"
        try fixture.writePlan(id, """
            table: child
            changes:
              - alter: seat
                rename_to: place
              - alter: rank
                rename_to: standing
            """)
        let original = try fixture.snapshot("child")
        try fixture.forward(id, through: .backfill)
        // Old code's renumbering, legal under the deferrable constraints, works during the transition.
        try fixture.exec("UPDATE child SET seat = seat + 1")
        try fixture.exec("BEGIN; SET CONSTRAINTS child_rank_key DEFERRED; UPDATE child SET rank = rank + 1; COMMIT;")
        try fixture.run(.rollback, id)
        let restored = try fixture.snapshot("child")
        #expect(restored == original, "\(original.difference(to: restored))")
        try fixture.forward(id, through: .contract)
        #expect(try fixture.rows("""
            SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'child'::regclass AND contype = 'u' ORDER BY 1
            """) == [
                ["child_note_standing_key", "UNIQUE (note, standing) DEFERRABLE INITIALLY DEFERRED"],
                ["child_place_key", "UNIQUE (place) DEFERRABLE INITIALLY DEFERRED"],
                ["child_standing_key", "UNIQUE (standing) DEFERRABLE"],
            ])
        try fixture.exec("UPDATE child SET place = place + 1")
        try fixture.exec("BEGIN; SET CONSTRAINTS child_standing_key DEFERRED; UPDATE child SET standing = standing + 1; COMMIT;")
        #expect(try fixture.int("SELECT count(*) FROM child WHERE place = id + 2 AND standing = id + 2") == 200)
    }

    /// A user's NOT VALID CHECK and foreign key on a renamed column stay NOT VALID (hostile-c
    /// 11: Bellows validated its copy, so verify could never pass over the orphans the user's
    /// key tolerates): never validated by Bellows, enforced for new writes after contract.
    @Test func notValidConstraintsStayNotValid() throws {
        let fixture = try EngineFixture("carry-notvalid")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE teams (id int PRIMARY KEY);
            CREATE TABLE members (id bigint PRIMARY KEY, age int, team_id int, code text);
            INSERT INTO teams SELECT g FROM generate_series(1, 5) AS g;
            INSERT INTO members SELECT g, g, g, 'c' || g FROM generate_series(1, 10) AS g;
            ALTER TABLE members ADD CONSTRAINT members_age_check CHECK (age >= 0) NOT VALID;
            ALTER TABLE members ADD CONSTRAINT members_team_id_fkey FOREIGN KEY (team_id) REFERENCES teams (id) NOT VALID;
            ALTER TABLE members ADD CONSTRAINT members_code_check CHECK (code <> '');
            """)
        let id = "001_rename_age"
        try fixture.writePlan(id, """
            table: members
            changes:
              - alter: age
                rename_to: age_years
              - alter: team_id
                rename_to: team
              - alter: code
                rename_to: member_code
            """)
        let notes = Shared<[String]>([])
        try fixture.engine(reporter: { note in
            if case .info(let text) = note { notes.update { $0.append(text) } }
        }).run(.expand, plan: id)
        #expect(notes.current.contains { $0.contains("CHECK members_age_check: recreated — as members_age_years_check, NOT VALID as it was") },
                "\(notes.current)")
        #expect(notes.current.contains { $0.contains("foreign key members_team_id_fkey: recreated — as members_team_fkey, NOT VALID as it was") },
                "\(notes.current)")
        for command in [PhaseCommand.backfill, .verify, .contract] { try fixture.run(command, id) }
        #expect(try fixture.rows("""
            SELECT conname, pg_get_constraintdef(oid), convalidated::text FROM pg_constraint
            WHERE conrelid = 'members'::regclass AND contype IN ('c', 'f') ORDER BY 1
            """) == [
                ["members_age_years_check", "CHECK ((age_years >= 0)) NOT VALID", "false"],
                ["members_member_code_check", "CHECK ((member_code <> ''::text))", "true"],
                ["members_team_fkey", "FOREIGN KEY (team) REFERENCES teams(id) NOT VALID", "false"],
            ])
        #expect(throws: PostgresError.self) { try fixture.exec("INSERT INTO members VALUES (100, -1, 1, 'x')") }
        #expect(throws: PostgresError.self) { try fixture.exec("INSERT INTO members VALUES (101, 1, 99, 'x')") }
    }

    /// A NOT VALID CHECK that rows violate refuses a plan whose backfill rewrites rows, before
    /// expand changes anything: PostgreSQL refuses every new version of those rows, so every
    /// backfill batch over them would fail (hostile-c 11: stranded until rollback).
    @Test func aNotValidCheckWithViolatingRowsIsRefusedBeforeExpand() throws {
        let fixture = try EngineFixture("carry-notvalid-rows")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE people (id bigint PRIMARY KEY, age int);
            INSERT INTO people SELECT g, g - 5 FROM generate_series(1, 20) AS g;
            ALTER TABLE people ADD CONSTRAINT people_age_chk CHECK (age >= 0) NOT VALID;
            """)
        try CarryoverTests.expectRefusedBeforeExpand(fixture, table: "people", column: "age", to: "age_years", mentioning: "people_age_chk")
    }

    /// A carried index keeps its tablespace and its CLUSTER mark (hostile-c 07: rebuilt in the
    /// default tablespace, and `CLUSTER child` failed afterwards). The tablespace part needs a
    /// directory the server's user owns: skipped where the test cannot make one.
    @Test func anIndexKeepsItsTablespaceAndClusterMark() throws {
        let fixture = try EngineFixture("carry-placement")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-ts-\(UUID().uuidString)").path
        let tablespace = "bellows_ts_\(UInt32.random(in: 0...UInt32.max))"
        var haveTablespace = false
        defer {
            fixture.close()
            if haveTablespace, let admin = try? Connection("dbname=postgres") {
                _ = try? admin.execute("DROP TABLESPACE IF EXISTS \(tablespace)")
                admin.close()
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
        if (try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)) != nil,
           (try? FileManager.default.setAttributes([.ownerAccountName: "postgres"], ofItemAtPath: directory)) != nil {
            haveTablespace = (try? fixture.sql.execute("CREATE TABLESPACE \(tablespace) LOCATION '\(directory)'")) != nil
        }
        try fixture.exec("""
            CREATE TABLE child (id int PRIMARY KEY, note text, code text);
            CREATE INDEX child_note_idx ON child (note) WITH (fillfactor = 50);
            CREATE INDEX child_code_idx ON child (code);
            INSERT INTO child SELECT g, 'n' || g, 'c' || g FROM generate_series(1, 200) AS g;
            CLUSTER child USING child_note_idx;
            """)
        if haveTablespace { try fixture.exec("ALTER INDEX child_code_idx SET TABLESPACE \(tablespace)") }
        let id = "001_rename_note"
        try fixture.writePlan(id, """
            table: child
            changes:
              - alter: note
                rename_to: remark
              - alter: code
                rename_to: label
            """)
        try fixture.forward(id, through: .contract)
        #expect(try fixture.rows("""
            SELECT ic.relname, i.indisclustered::text, coalesce(t.spcname, '')
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid LEFT JOIN pg_tablespace t ON t.oid = ic.reltablespace
            WHERE i.indrelid = 'child'::regclass AND NOT i.indisprimary ORDER BY 1
            """) == [
                ["child_label_idx", "false", haveTablespace ? tablespace : ""],
                ["child_remark_idx", "true", ""],
            ])
        try fixture.exec("CLUSTER child")
    }
}
