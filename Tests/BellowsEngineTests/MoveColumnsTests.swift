import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Issue 23: `move_columns` on PostgreSQL — the guide's split of `profiles` into `profile_metadata`.
@Suite(needsDatabase) struct MoveColumnsTests {
    static let setup = """
        CREATE TABLE users (id bigint PRIMARY KEY);
        INSERT INTO users SELECT g FROM generate_series(1, 10) AS g;
        CREATE TABLE profiles (
            id bigint PRIMARY KEY,
            user_id bigint NOT NULL REFERENCES users (id),
            headline text,
            bio varchar(500) CHECK (char_length(bio) > 0),
            avatar_url text COLLATE "C" NOT NULL DEFAULT 'none'
        );
        COMMENT ON COLUMN profiles.bio IS 'About the person';
        INSERT INTO profiles SELECT g, 1 + g % 10, 'h' || g, 'bio ' || g, 'https://a.example/' || g FROM generate_series(1, 1200) AS g;
        """

    static let plan = """
        table: profiles
        move_columns:
          to: profile_metadata
          columns: [bio, avatar_url]
        """

    static func fixture(_ label: String) throws -> EngineFixture {
        let f = try EngineFixture(label)
        try f.exec(setup)
        try f.writePlan("001_move", plan)
        return f
    }

    func moved(_ f: EngineFixture, _ id: Int) throws -> [[String?]] {
        try f.rows("SELECT bio, avatar_url FROM profile_metadata WHERE id = $1", [id])
    }

    func source(_ f: EngineFixture, _ id: Int) throws -> [[String?]] {
        try f.rows("SELECT bio, avatar_url FROM profiles WHERE id = $1", [id])
    }

    @Test func writesOnBothSidesStayInStepThroughContract() throws {
        let f = try Self.fixture("move-forward")
        defer { f.close() }
        try f.run(.expand, "001_move")
        // The new table: key, foreign key, moved columns with their CHECK, default, NOT NULL, collation, comment.
        #expect(try f.int("SELECT count(*) FROM pg_constraint WHERE conrelid = 'profile_metadata'::regclass AND contype = 'f' AND confdeltype = 'c'") == 1)
        #expect(try f.int("SELECT count(*) FROM pg_constraint WHERE conrelid = 'profile_metadata'::regclass AND contype = 'p'") == 1)
        #expect(try f.int("SELECT count(*) FROM pg_constraint WHERE conrelid = 'profile_metadata'::regclass AND contype = 'c'") == 1)
        #expect(try f.rows("SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation WHERE a.attrelid = 'profile_metadata'::regclass AND a.attname = 'avatar_url'") == [["C"]])
        #expect(try f.rows("SELECT col_description('profile_metadata'::regclass, 2)") == [["About the person"]])
        #expect(try f.int("SELECT count(*) FROM profile_metadata") == 0)

        // Source insert, update, delete → the new table.
        try f.exec("INSERT INTO profiles (id, user_id, bio) VALUES (5001, 1, 'new')")
        #expect(try moved(f, 5001) == [["new", "none"]])
        try f.exec("UPDATE profiles SET bio = 'changed' WHERE id = 10")
        #expect(try moved(f, 10) == [["changed", "https://a.example/10"]])
        try f.exec("UPDATE profiles SET headline = 'other' WHERE id = 11")
        #expect(try moved(f, 11).isEmpty, "an update that leaves the moved columns alone writes nothing")
        try f.exec("DELETE FROM profiles WHERE id = 10")
        #expect(try moved(f, 10).isEmpty)
        // New table insert and update → the source.
        try f.exec("UPDATE profile_metadata SET bio = 'from the new version' WHERE id = 5001")
        #expect(try source(f, 5001) == [["from the new version", "none"]])
        try f.exec("INSERT INTO profiles (id, user_id) VALUES (5002, 2); INSERT INTO profile_metadata (id, bio, avatar_url) VALUES (5002, 'x', 'y') ON CONFLICT (id) DO UPDATE SET bio = EXCLUDED.bio, avatar_url = EXCLUDED.avatar_url")
        #expect(try source(f, 5002) == [["x", "y"]])
        // A key update follows (ON UPDATE CASCADE), values and all.
        try f.exec("UPDATE profiles SET id = 6001, bio = 'moved key' WHERE id = 5001")
        #expect(try moved(f, 6001) == [["moved key", "none"]])
        #expect(try moved(f, 5001).isEmpty)
        // Replica-mode writers (replication tools) are kept in step too: the triggers are ENABLE ALWAYS.
        try f.exec("SET session_replication_role = replica; UPDATE profiles SET bio = 'replica' WHERE id = 12; RESET session_replication_role")
        #expect(try moved(f, 12) == [["replica", "https://a.example/12"]])

        try f.run(.backfill, "001_move")
        let sourceRows = try f.int("SELECT count(*) FROM profiles")
        #expect(try f.int("SELECT count(*) FROM profile_metadata") == sourceRows)
        try f.exec("UPDATE profile_metadata SET avatar_url = 'late' WHERE id = 30")
        #expect(try source(f, 30) == [["bio 30", "late"]])
        try f.run(.verify, "001_move")
        let expected = try f.rows("SELECT id, bio, avatar_url FROM profiles ORDER BY id")
        try f.run(.contract, "001_move")

        #expect(try f.int("SELECT count(*) FROM pg_attribute WHERE attrelid = 'profiles'::regclass AND attname IN ('bio', 'avatar_url') AND NOT attisdropped") == 0)
        #expect(try f.rows("SELECT id, bio, avatar_url FROM profile_metadata ORDER BY id") == expected)
        #expect(try f.int("SELECT count(*) FROM pg_trigger WHERE tgname LIKE '~bellows%'") == 0)
        #expect(try f.int("SELECT count(*) FROM pg_proc WHERE proname LIKE 'move_001_move%'") == 0)
        #expect(try f.int("SELECT count(*) FROM pg_constraint WHERE conrelid = 'profile_metadata'::regclass AND contype = 'f'") == 1)
        try f.exec("DELETE FROM profiles WHERE id = 31")
        #expect(try moved(f, 31).isEmpty, "the foreign key stays: a source delete cascades")
        #expect(try f.state("001_move")?.phase == .contracted)
    }

    @Test func verifyRefusesADivergenceNamingTheKey() throws {
        let f = try Self.fixture("move-diverge")
        defer { f.close() }
        try f.run(.expand, "001_move")
        try f.run(.backfill, "001_move")
        // Writes around the triggers: the plan's own marker, and replica mode (no foreign-key cascade).
        try f.exec("""
            SET bellows.backfill = '001_move';
            UPDATE profiles SET bio = 'diverged' WHERE id = 42;
            SET session_replication_role = replica;
            DELETE FROM profiles WHERE id = 43;
            RESET session_replication_role;
            RESET bellows.backfill;
            """)
        let refusal = try #require(expectRefusal { try f.run(.verify, "001_move") })
        #expect(refusal.gates.contains("mismatch:counterparts"), "\(refusal.text)")
        #expect(refusal.gates.contains("mismatch:orphans"), "\(refusal.text)")
        let counterparts = try #require(refusal.failures.first { $0.gate == "mismatch:counterparts" })
        #expect(counterparts.message.contains("1 row(s)") && counterparts.message.contains("(id) = (42), values differ"), "\(counterparts.message)")
        let orphans = try #require(refusal.failures.first { $0.gate == "mismatch:orphans" })
        #expect(orphans.message.contains("(id) = (43)"), "\(orphans.message)")
        #expect(try f.state("001_move")?.phase == .backfilled)
        // Contract needs a verification.
        #expect(expectRefusal { try f.run(.contract, "001_move") }?.gates == ["phase"])
    }

    @Test(arguments: [PhaseCommand.expand, .backfill, .verify])
    func rollbackRestoresTheCatalogExactly(after last: PhaseCommand) throws {
        let f = try Self.fixture("move-rollback")
        defer { f.close() }
        let before = try f.snapshot("profiles")
        let rows = try f.rows("SELECT * FROM profiles ORDER BY id")
        try f.forward("001_move", through: last)
        try f.exec("UPDATE profile_metadata SET bio = 'new version' WHERE id = 1; UPDATE profiles SET bio = 'bio 1' WHERE id = 1")
        try f.run(.rollback, "001_move")
        let after = try f.snapshot("profiles")
        #expect(after == before, "\(before.difference(to: after))")
        #expect(try f.rows("SELECT * FROM profiles ORDER BY id") == rows)
        #expect(try f.int("SELECT count(*) FROM pg_class WHERE relname = 'profile_metadata'") == 0)
        #expect(try f.int("SELECT count(*) FROM pg_proc WHERE proname LIKE 'move_001_move%'") == 0)
        #expect(try f.state("001_move")?.phase == .rolledBack)
        // And the plan expands again.
        try f.run(.expand, "001_move")
    }

    @Test func aResumedBackfillGoesOnFromItsCursor() throws {
        let f = try Self.fixture("move-resume")
        defer { f.close() }
        try f.run(.expand, "001_move")
        let stop = Shared(0)
        let engine = f.engine({ options in
            options.batchSize = 100
            options.shouldStop = { stop.update { $0 += 1; return $0 > 12 } }
        })
        #expect(throws: BellowsError.self) { try engine.run(.backfill, plan: "001_move") }
        let copied = try f.int("SELECT count(*) FROM profile_metadata")
        #expect(copied > 0 && copied < 1200, "\(copied)")
        #expect(try f.state("001_move")?.backfillCursor != nil)
        try f.run(.backfill, "001_move")
        #expect(try f.int("SELECT count(*) FROM profile_metadata") == 1200)
        try f.run(.verify, "001_move")
    }
}
