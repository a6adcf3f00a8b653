import BellowsEngine
import BellowsPlan
import BellowsSQL
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

    /// hostile-h 02: out of a table with row-level security the new table had none (every
    /// tenant read every row's moved columns), and its SECURITY DEFINER trigger wrote source
    /// rows the writer could not even see. Expand carries the row security (a policy showing a
    /// row only with its source row, as the source's policies show it), and a write to the new
    /// table reaches the source with the writer's rights: a row they hide or keep from it fails.
    @Test func rowSecurityIsCarriedAndTheNewTableWritesAsTheWriter() throws {
        let f = try EngineFixture("move-rls")
        defer { f.close() }
        let owner = try DataSafetyTests.role(f, "mv_owner")
        defer { owner.drop() }
        let app = try DataSafetyTests.role(f, "mv_app")
        defer { app.drop() }
        try f.exec("""
            GRANT CREATE ON SCHEMA public TO \(owner.name);
            SET ROLE \(owner.name);
            CREATE TABLE profiles (id bigint PRIMARY KEY, tenant text NOT NULL, name text, ssn text);
            INSERT INTO profiles SELECT g, 't' || (g % 3), 'n' || g, 'ssn-' || g FROM generate_series(1, 300) AS g;
            UPDATE profiles SET name = 'locked' WHERE id = 6;
            ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;
            CREATE POLICY tenant_iso ON profiles USING (tenant = current_setting('app.tenant'));
            CREATE POLICY not_locked ON profiles AS RESTRICTIVE FOR UPDATE USING (name <> 'locked');
            GRANT SELECT, INSERT, UPDATE, DELETE ON profiles TO \(app.name);
            RESET ROLE;
            """)
        try f.writePlan("001_move", "table: profiles\nmove_columns:\n  to: profile_private\n  columns: [ssn]\n")
        let asOwner: (inout EngineOptions) -> Void = { $0.conninfo = f.db.conninfo + " user=\(owner.name)" }
        try f.run(.expand, "001_move", asOwner)
        #expect(try f.rows("SELECT relrowsecurity::text, relforcerowsecurity::text FROM pg_class WHERE oid = 'profile_private'::regclass") == [["true", "false"]])
        try f.run(.backfill, "001_move", asOwner)
        let asApp = try Connection(f.db.conninfo + " user=\(app.name)")
        defer { asApp.close() }
        try asApp.execute("SET app.tenant = 't0'")
        func count(_ table: String) throws -> Int { try asApp.query("SELECT count(*) AS n FROM \(table)").first?.int("n") ?? -1 }
        #expect(try count("profiles") == 100)
        #expect(try count("profile_private") == 100, "the new table shows a tenant its own rows only")
        // Row 1 is t1's: t0 sees it in neither table and writes it through neither.
        #expect(try asApp.execute("UPDATE profile_private SET ssn = 'overwritten by t0' WHERE id = 1").affectedRows == 0)
        #expect(throws: PostgresError.self) {
            try asApp.execute("INSERT INTO profile_private (id, ssn) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET ssn = EXCLUDED.ssn")
        }
        // Row 6 is t0's but the source's policies keep t0 from updating it: so does the new table's trigger.
        var refused: PostgresError?
        do { try asApp.execute("UPDATE profile_private SET ssn = 'changed' WHERE id = 6") } catch { refused = error }
        #expect(refused?.sqlState == SQLState("42501"), "\(String(describing: refused))")
        #expect(refused?.message.contains("may not write row (6) of public.profile_private") == true, "\(String(describing: refused))")
        #expect(try f.rows("SELECT p.ssn, q.ssn FROM profiles p JOIN profile_private q USING (id) WHERE id IN (1, 6) ORDER BY id") == [["ssn-1", "ssn-1"], ["ssn-6", "ssn-6"]])
        // Its own rows t0 writes on both sides.
        try asApp.execute("UPDATE profile_private SET ssn = 'new 3' WHERE id = 3")
        try asApp.execute("INSERT INTO profiles (id, tenant, name, ssn) VALUES (1001, 't0', 'x', 'ssn-1001')")
        try asApp.execute("UPDATE profiles SET ssn = 'new 9' WHERE id = 9")
        #expect(try f.rows("SELECT p.ssn, q.ssn FROM profiles p JOIN profile_private q USING (id) WHERE id IN (3, 9, 1001) ORDER BY id")
                == [["new 3", "new 3"], ["new 9", "new 9"], ["ssn-1001", "ssn-1001"]])
        try f.run(.verify, "001_move", asOwner)
        try f.run(.contract, "001_move", asOwner)
        #expect(try count("profile_private") == 101, "the row security stays after contract")
    }

    /// hostile-h 08: a move of columns a publication sends passed check -d and expand, and from
    /// contract on subscribers silently stopped receiving them (the new table is in no
    /// publication). Expand refuses, check -d and render -d say it at the plan's table.
    @Test func aMoveOfPublishedColumnsIsRefusedAndCheckSaysIt() throws {
        let f = try Self.fixture("move-publication")
        defer { f.close() }
        try f.exec("CREATE PUBLICATION pub_profiles FOR TABLE profiles")
        func refusals() throws -> [Finding] {
            let live = try LiveSchema.read(conninfo: f.db.conninfo, planTables: f.project.loadPlans().plans.map(\.table.value))
            return ProjectCheck.check(project: f.project, live: live).filter { $0.rule == "plan-table-refused" }
        }
        let refused = try refusals()
        #expect(refused.count == 1 && refused.first?.message.contains("gate publication): public.profiles is published by pub_profiles with the moved columns bio, avatar_url") == true, "\(refused)")
        let live = try LiveSchema.read(conninfo: f.db.conninfo, planTables: f.project.loadPlans().plans.map(\.table.value))
        let rendered = try ProjectCheck.render(project: f.project, plan: "001_move", phase: .expand, live: live)
        #expect(rendered.contains("-- expand would refuse (gate publication): public.profiles is published by pub_profiles with the moved columns"), "\(rendered.prefix(800))")
        let before = try f.snapshot("profiles")
        let refusal = expectRefusal { try f.run(.expand, "001_move") }
        #expect(refusal?.gates == ["publication"], "\(refusal?.text ?? "")")
        #expect(refusal?.failures.first?.remedy?.contains("ADD TABLE \"public\".\"profile_metadata\"") == true, "\(refusal?.text ?? "")")
        #expect(try f.snapshot("profiles") == before)
        #expect(try f.int("SELECT count(*) FROM pg_class WHERE relname = 'profile_metadata'") == 0)
        // Published without the moved columns: nothing moved is sent, the move goes ahead.
        try f.exec("ALTER PUBLICATION pub_profiles SET TABLE profiles (id, user_id, headline)")
        #expect(try refusals().isEmpty)
        try f.run(.expand, "001_move")
        try f.exec("DROP PUBLICATION pub_profiles")
    }

    /// hostile-h 03: a DELETE on the new table left its source row without a counterpart, verify
    /// blamed a trigger bypass for good and `backfill --rescan` repaired nothing. Until contract
    /// the trigger refuses such a delete (the source row's delete still takes its row along); a
    /// row removed around it is copied again by the rescan verify now names. hostile-h 04:
    /// expand says that TRUNCATE of the source fails from now on.
    @Test func aDeleteOnTheNewTableIsRefusedAndTheRescanCopiesMissingRowsAgain() throws {
        let f = try Self.fixture("move-delete")
        defer { f.close() }
        let notes = Shared<[String]>([])
        _ = try f.engine({ _ in }) { note in if case .info(let text) = note { notes.update { $0.append(text) } } }.run(.expand, plan: "001_move")
        #expect(notes.current.contains { $0.contains("TRUNCATE public.profiles fails") && $0.contains("TRUNCATE … CASCADE") }, "\(notes.current)")
        try f.run(.backfill, "001_move")
        var refused: PostgresError?
        do { try f.sql.execute("DELETE FROM profile_metadata WHERE id = 10") } catch { refused = error }
        #expect(refused?.sqlState == SQLState("55000"), "\(String(describing: refused))")
        #expect(refused?.hint?.contains("UPDATE") == true, "\(String(describing: refused))")
        #expect(try moved(f, 10) == [["bio 10", "https://a.example/10"]])
        // The source row's delete takes its row along (the foreign key's cascade).
        try f.exec("DELETE FROM profiles WHERE id = 11")
        #expect(try moved(f, 11).isEmpty)
        // Removed around the trigger: verify names the rescan, which copies the rows again.
        try f.exec("SET bellows.backfill = '001_move'; DELETE FROM profile_metadata WHERE id IN (12, 13); RESET bellows.backfill")
        let refusal = try #require(expectRefusal { try f.run(.verify, "001_move") })
        let counterparts = try #require(refusal.failures.first { $0.gate == "mismatch:counterparts" }, "\(refusal.text)")
        #expect(counterparts.remedy?.contains("bellows backfill 001_move --rescan") == true, "\(counterparts.remedy ?? "")")
        let rescan = try f.run(.backfill, "001_move") { $0.rescan = true }
        #expect(rescan.details["rescan"] == .bool(true), "\(rescan.details)")
        #expect(try moved(f, 12) == [["bio 12", "https://a.example/12"]])
        try f.run(.verify, "001_move")
        try f.run(.contract, "001_move")
        try f.exec("DELETE FROM profile_metadata WHERE id = 14")
        #expect(try moved(f, 14).isEmpty, "after contract the new table is the application's")
    }

    /// hostile-h 21: the source's column privileges on the moved columns were not carried: a
    /// role with `SELECT (id, bio)` and `UPDATE (bio)` got "permission denied" on the new table.
    /// Expand grants the key's and the moved columns' column privileges on the same columns.
    @Test func columnPrivilegesOfTheKeyAndTheMovedColumnsAreCarried() throws {
        let f = try Self.fixture("move-column-grants")
        defer { f.close() }
        let reporting = try DataSafetyTests.role(f, "mv_reporting")
        defer { reporting.drop() }
        try f.exec("GRANT SELECT (id, bio) ON profiles TO \(reporting.name); GRANT UPDATE (bio) ON profiles TO \(reporting.name)")
        try f.run(.expand, "001_move")
        try f.run(.backfill, "001_move")
        func may(_ column: String, _ privilege: String) throws -> Bool {
            try f.rows("SELECT has_column_privilege($1, 'profile_metadata', $2, $3)::text", [reporting.name, column, privilege]) == [["true"]]
        }
        #expect(try may("id", "SELECT") && may("bio", "SELECT") && may("bio", "UPDATE"))
        #expect(try !may("avatar_url", "SELECT") && !may("id", "UPDATE"))
        let asReporting = try Connection(f.db.conninfo + " user=\(reporting.name)")
        defer { asReporting.close() }
        #expect(try asReporting.query("SELECT bio FROM profile_metadata WHERE id = 5").first?.string("bio") == "bio 5")
        try asReporting.execute("UPDATE profile_metadata SET bio = 'by reporting' WHERE id = 5")
        #expect(try source(f, 5) == [["by reporting", "https://a.example/5"]])
    }

    /// hostile-h 25: a plan on a move's new table while the move was in flight was let through:
    /// a rename of it made every write to the source fail (the move's triggers name it) and the
    /// move's rollback fail; a column change of it, or a rename of the source's key the triggers
    /// read, stopped both plans. Expand refuses them (gate conflict), check -d says it.
    @Test func aPlanOnTheNewTableOrTheKeyWaitsForTheMove() throws {
        let f = try Self.fixture("move-conflict")
        defer { f.close() }
        try f.run(.expand, "001_move")
        try f.writePlan("002_rename", "table: profile_metadata\nrename_table_to: pm2\n")
        try f.writePlan("003_bio", "table: profile_metadata\nchanges:\n  - alter: bio\n    rename_to: biography\n")
        try f.writePlan("004_key", "table: profiles\nstrategy: views\nchanges:\n  - alter: id\n    rename_to: profile_id\n")
        for id in ["002_rename", "003_bio", "004_key"] {
            let refusal = expectRefusal { try f.run(.expand, id) }
            #expect(refusal?.gates.contains("conflict") == true || refusal?.text.contains("gate conflict") == true, "\(id): \(refusal?.text ?? "")")
            #expect(refusal?.text.contains("001_move") == true, "\(id): \(refusal?.text ?? "")")
        }
        let live = try LiveSchema.read(conninfo: f.db.conninfo, planTables: f.project.loadPlans().plans.map(\.table.value))
        let refused = ProjectCheck.check(project: f.project, live: live).filter { $0.rule == "plan-table-refused" && $0.message.contains("gate conflict") }
        #expect(refused.map { ($0.file as NSString).lastPathComponent } == ["002_rename.yaml", "003_bio.yaml"], "\(refused)")
        try f.exec("UPDATE profiles SET bio = 'still written' WHERE id = 1")
        #expect(try moved(f, 1) == [["still written", "https://a.example/1"]])
        // Once the move is contracted, the new table is any plan's.
        for phase in [PhaseCommand.backfill, .verify, .contract] { try f.run(phase, "001_move") }
        try f.run(.expand, "002_rename")
    }

    /// hostile-h 24 (move variant): a move into a schema the role may not create in failed at
    /// expand with a bare 42501; expand refuses first, naming the GRANT.
    @Test func aMoveIntoASchemaWithoutCreateIsRefusedNamingTheGrant() throws {
        let f = try Self.fixture("move-schema-privilege")
        defer { f.close() }
        let owner = try DataSafetyTests.role(f, "mv_schema_owner")
        defer { owner.drop() }
        try f.exec("CREATE SCHEMA meta; ALTER TABLE profiles OWNER TO \(owner.name); GRANT CREATE ON SCHEMA public TO \(owner.name)")
        try f.writePlan("002_meta", "table: profiles\nmove_columns:\n  to: meta.pm\n  columns: [bio]\n")
        let asOwner: (inout EngineOptions) -> Void = { $0.conninfo = f.db.conninfo + " user=\(owner.name)" }
        let refusal = expectRefusal { try f.run(.expand, "002_meta", asOwner) }
        #expect(refusal?.gates == ["privilege"], "\(refusal?.text ?? "")")
        #expect(refusal?.failures.first?.remedy?.contains("GRANT USAGE, CREATE ON SCHEMA") == true && refusal?.text.contains("schema meta") == true && refusal?.failures.first?.remedy?.contains("meta") == true, "\(refusal?.text ?? "")")
        try f.exec("GRANT USAGE, CREATE ON SCHEMA meta TO \(owner.name)")
        try f.run(.expand, "002_meta", asOwner)
        #expect(try f.int("SELECT count(*) FROM pg_class WHERE oid = to_regclass('meta.pm')") == 1)
        try f.exec("DROP SCHEMA meta CASCADE")
    }
}
