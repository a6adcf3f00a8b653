import BellowsEngine
import BellowsPlan
import BellowsSQL
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// What differs between the PostgreSQL versions Bellows supports, pinned on the server the suite
/// runs against (scripts/test runs it on 15, 16 and 18).
struct ServerVersionTests {
    @Test func olderServersAreRefusedWithTheVersionsThatWork() throws {
        let message = try #require(ServerVersion.refusal(serverVersion: 130_012))
        #expect(message.contains("PostgreSQL 13.12"))
        #expect(message.contains("PostgreSQL 14 or later"))
        #expect(message.contains("15, 16, 18"))
        #expect(ServerVersion.refusal(serverVersion: 90_624)?.contains("9.6.24") == true)
        for supported in [140_000, 150_010, 160_002, 170_001, 180_006] {
            #expect(ServerVersion.refusal(serverVersion: supported) == nil, "\(supported)")
        }
    }

    /// A table rename, `strategy: views` and versioned schemas make `security_invoker` views,
    /// which PostgreSQL 14 lacks: expand refuses there, saying why, instead of failing at its
    /// `CREATE VIEW` with a syntax error (found while fixing hostile-h 22).
    @Test func plansWhoseViewsNeedSecurityInvokerAreRefusedBefore15() throws {
        func plan(_ source: String) throws -> Plan { try #require(PlanLoader.load(file: "plans/001_p.yaml", source: source).plan) }
        let rename = try plan("table: orders\nrename_table_to: purchases\n")
        let views = try plan("table: orders\nstrategy: views\nchanges:\n  - alter: placed\n    rename_to: placed_on\n")
        let versioned = try plan("table: orders\nversioned_schemas: true\nchanges:\n  - alter: placed\n    rename_to: placed_on\n")
        let plain = try plan("table: orders\nchanges:\n  - alter: placed\n    rename_to: placed_on\n")
        for refused in [rename, views, versioned] {
            let failures = ServerVersion.planFailures(refused, serverVersion: 140_011)
            #expect(failures.map(\.gate) == ["server-version"])
            #expect(failures.first?.message.contains("PostgreSQL 15 or later (this server runs 14.11)") == true, "\(failures)")
            for newer in [150_000, 160_002, 180_006] { #expect(ServerVersion.planFailures(refused, serverVersion: newer).isEmpty) }
        }
        #expect(ServerVersion.planFailures(rename, serverVersion: 140_011).first?.message.contains("rename_table_to: purchases") == true)
        #expect(ServerVersion.planFailures(views, serverVersion: 140_011).first?.message.contains("strategy: views") == true)
        #expect(ServerVersion.planFailures(plain, serverVersion: 140_011).isEmpty)
    }

    @Test func versionsAsUsersWriteThem() {
        #expect(ServerVersion.parse("18") == 180_000)
        #expect(ServerVersion.parse("18.6") == 180_006)
        #expect(ServerVersion.parse("180006") == 180_006)
        #expect(ServerVersion.parse("9.6") == 90_600)
        for bad in ["", "x", "18.x", "-1", "18.6.1", "9", ".6", "18."] { #expect(ServerVersion.parse(bad) == nil, "\(bad)") }
    }

    @Test func aBinDirectoryNamedExplicitlyMustHoldTheServer() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-no-bin-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect {
            try ScratchCluster.findBinDirectory(explicit: empty)
        } throws: { error in
            "\(error)".contains("--pg-bindir \(empty) holds no PostgreSQL server binaries")
        }
    }
}

@Suite(needsDatabase)
struct ServerVersionDatabaseTests {
    /// The server under test, e.g. 18 for 18.6.
    func major(_ fixture: EngineFixture) -> Int { fixture.sql.serverVersion / 10_000 }

    @Test func theServerUnderTestIsSupported() throws {
        let fixture = try EngineFixture("version")
        defer { fixture.close() }
        #expect(ServerVersion.refusal(serverVersion: fixture.sql.serverVersion) == nil)
    }

    /// After contract, the table's constraints and indexes carry the names a user creating the
    /// final table by hand would get on this version (on 18 also its named NOT NULL
    /// constraints); after rollback the catalog is exactly as before.
    @Test func contractNamesAndRollbackIdentityOnThisVersion() throws {
        let fixture = try EngineFixture("names")
        defer { fixture.close() }
        let setup = """
            DROP TABLE IF EXISTS accounts CASCADE;
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, nickname text, score int, level int NOT NULL);
            CREATE INDEX accounts_email_idx ON accounts (email);
            INSERT INTO accounts SELECT g, 'a' || g || '@example.com', CASE WHEN g % 2 = 0 THEN 'n' || g END, g, g FROM generate_series(1, 50) AS g;
            """
        try fixture.writePlan("001_accounts", """
            table: accounts
            changes:
              - alter: email
                rename_to: email_address
                unique: true
              - alter: score
                type: bigint
                not_null: true
                up: "coalesce(score, 0)::bigint"
                down: "score::int"
              - alter: level
                type: bigint
                up: "level::bigint"
                down: "level::int"
            """)
        func names() throws -> [String] {
            try fixture.rows("""
                SELECT 'constraint ' || conname || ' ' || contype::text FROM pg_constraint WHERE conrelid = 'accounts'::regclass
                UNION ALL SELECT 'index ' || indexrelid::regclass::text FROM pg_index WHERE indrelid = 'accounts'::regclass
                ORDER BY 1
                """).map { $0.first.flatMap { $0 } ?? "" }
        }

        try fixture.exec(setup)
        let before = try fixture.snapshot("accounts")
        try fixture.forward("001_accounts", through: .verify)
        try fixture.run(.rollback, "001_accounts")
        let afterRollback = try fixture.snapshot("accounts")
        #expect(afterRollback == before, "\(before.difference(to: afterRollback))")

        try fixture.exec(setup)
        try fixture.forward("001_accounts", through: .contract)
        // Expand recorded the shape it used: PostgreSQL 18's NOT NULL constraint, else a CHECK.
        #expect(try fixture.state("001_accounts")?.notNullShape == (major(fixture) >= 18 ? "not_null" : "check"))
        #expect(try fixture.rows("""
            SELECT attname FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attnum > 0 AND NOT attisdropped AND attnotnull ORDER BY 1
            """).map { $0[0] ?? "" } == ["email_address", "id", "level", "score"])
        #expect(try fixture.int("SELECT count(*) FROM pg_constraint WHERE conrelid = 'accounts'::regclass AND NOT convalidated") == 0)
        var expected = [
            "constraint accounts_email_address_key u",
            "constraint accounts_pkey p",
            "index accounts_email_address_idx",
            "index accounts_email_address_key",
            "index accounts_pkey",
        ]
        // PostgreSQL 18 names every NOT NULL constraint <table>_<column>_not_null, after the
        // column's final name (not the shadow column's it was created on).
        if major(fixture) >= 18 {
            expected += ["constraint accounts_email_address_not_null n", "constraint accounts_id_not_null n",
                         "constraint accounts_level_not_null n", "constraint accounts_score_not_null n"]
        }
        #expect(try names() == expected.sorted(), "PostgreSQL \(major(fixture))")
    }

    /// Contract's SET NOT NULL is proved by the validated check, without scanning the table
    /// under its ACCESS EXCLUSIVE lock (PostgreSQL says so at DEBUG1; "verifying table" is the scan).
    @Test func contractSetsNotNullWithoutScanningTheTable() throws {
        let fixture = try EngineFixture("noscan")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE profiles (id bigint PRIMARY KEY, created_by bigint, bio text);
            INSERT INTO profiles SELECT g, g, 'b' || g FROM generate_series(1, 20) AS g;
            """)
        try fixture.writePlan("001_profiles", """
            table: profiles
            changes:
              - alter: created_by
                not_null: true
              - alter: bio
                type: varchar(200)
                not_null: true
                up: "left(bio, 200)"
                down: "bio::text"
            """)
        let table = try #require(try CatalogReader.table(fixture.sql, TableName(schema: nil, name: "profiles")))
        let plan = try fixture.project.resolvePlan("001_profiles")
        var transition = try #require(TransitionCompiler.compile(plan, table: table).transition)
        try fixture.forward("001_profiles", through: .verify)
        transition.notNullShape = NotNullShape(recorded: try fixture.state("001_profiles")?.notNullShape)
        #expect(transition.notNullShape == NotNullShape.preferred(serverVersion: fixture.sql.serverVersion))
        try fixture.exec("SET client_min_messages = debug1")
        _ = fixture.sql.takeNotices()
        try fixture.sql.withTransaction {
            for statement in PhaseSQL(transition).contract { try fixture.sql.execute(statement.sql) }
        }
        try fixture.exec("RESET client_min_messages")
        let notices = fixture.sql.takeNotices().map(\.message)
        #expect(!notices.contains { $0.hasPrefix("verifying table") }, "\(notices)")
        // A CHECK proves each SET NOT NULL; PostgreSQL 18's validated NOT NULL constraint needs no SET NOT NULL.
        let proofs = transition.notNullShape == .check ? 2 : 0
        #expect(notices.filter { $0.contains("sufficient to prove that it does not contain nulls") }.count == proofs, "\(notices)")
        #expect(try fixture.int("SELECT count(*) FROM pg_attribute WHERE attrelid = 'profiles'::regclass AND attname IN ('created_by', 'bio') AND attnotnull") == 2)
    }

    /// PostgreSQL 18's NOT VALID NOT NULL constraint does not make a column NOT NULL for Bellows:
    /// rows may still hold NULL (pg_attribute.attnotnull is already true).
    @Test func aNotValidNotNullConstraintIsNotANotNullColumn() throws {
        let fixture = try EngineFixture("notvalid")
        defer { fixture.close() }
        guard major(fixture) >= 18 else { return }
        try fixture.exec("""
            CREATE TABLE t (id int PRIMARY KEY, a int);
            INSERT INTO t VALUES (1, NULL);
            ALTER TABLE t ADD CONSTRAINT t_a_nn NOT NULL a NOT VALID;
            """)
        let table = try #require(try CatalogReader.table(fixture.sql, TableName(schema: nil, name: "t")))
        #expect(table.column("a")?.notNull == false)
        #expect(table.column("id")?.notNull == true)
        #expect(table.constraints.map(\.name) == ["t_pkey"])
    }
}

/// NOT NULL on each version: rollback from every phase, the names PostgreSQL would give, and a
/// server upgraded between expand and contract.
@Suite(needsDatabase)
struct NotNullShapeDatabaseTests {
    func major(_ fixture: EngineFixture) -> Int { fixture.sql.serverVersion / 10_000 }

    static let setup = """
        DROP TABLE IF EXISTS members CASCADE;
        CREATE TABLE members (id bigint PRIMARY KEY, handle text, rank int NOT NULL, note text);
        CREATE INDEX members_rank_idx ON members (rank);
        INSERT INTO members SELECT g, CASE WHEN g % 3 <> 0 THEN 'h' || g END, g, NULL FROM generate_series(1, 60) AS g;
        """
    static let plan = """
        table: members
        changes:
          - alter: handle
            not_null: true
            up: "coalesce(handle, 'member-' || id)"
          - alter: rank
            type: bigint
            up: "rank::bigint"
            down: "rank::int"
          - add: joined
            type: date
            not_null: true
            default: "'2026-01-01'"
        """

    /// Rolled back after expand, backfill or verify, the table's catalog is exactly as before
    /// (columns, NOT NULL, constraints — on 18 the named NOT NULL constraints — indexes, triggers).
    @Test(arguments: [PhaseCommand.expand, .backfill, .verify])
    func rollbackFromEachPhaseLeavesTheCatalogAsBefore(_ last: PhaseCommand) throws {
        let fixture = try EngineFixture("nnrollback")
        defer { fixture.close() }
        try fixture.exec(Self.setup)
        try fixture.writePlan("001_members", Self.plan)
        let before = try fixture.snapshot("members")
        let constraintsBefore = try fixture.rows("SELECT conname, contype::text, convalidated::text FROM pg_constraint WHERE conrelid = 'members'::regclass ORDER BY 1")
        try fixture.forward("001_members", through: last)
        let during = try fixture.rows("SELECT conname, contype::text FROM pg_constraint WHERE conrelid = 'members'::regclass AND conname LIKE '\\_bellows%' ORDER BY 1")
        let kind = major(fixture) >= 18 ? "n" : "c"
        #expect(during.map { "\($0[0] ?? "") \($0[1] ?? "")" } == [
            "_bellows_members_handle_not_null \(kind)", "_bellows_members_joined_not_null \(kind)", "_bellows_members_rank_not_null \(kind)",
        ], "PostgreSQL \(major(fixture))")
        try fixture.run(.rollback, "001_members")
        let after = try fixture.snapshot("members")
        #expect(after == before, "\(before.difference(to: after))")
        #expect(try fixture.rows("SELECT conname, contype::text, convalidated::text FROM pg_constraint WHERE conrelid = 'members'::regclass ORDER BY 1") == constraintsBefore)
        #expect(try fixture.rows("SELECT attname, attnotnull::text FROM pg_attribute WHERE attrelid = 'members'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum")
                == [["id", "true"], ["handle", "false"], ["rank", "true"], ["note", "false"]])
        #expect(try fixture.state("001_members")?.notNullShape == nil)
    }

    /// After contract every NOT NULL column is NOT NULL, validated, with no transitional
    /// constraint left; on 18 each NOT NULL constraint has the name PostgreSQL gives it.
    @Test func contractLeavesNotNullColumnsAndNoTransitionalConstraint() throws {
        let fixture = try EngineFixture("nncontract")
        defer { fixture.close() }
        try fixture.exec(Self.setup)
        try fixture.writePlan("001_members", Self.plan)
        try fixture.forward("001_members", through: .contract)
        #expect(try fixture.rows("SELECT attname FROM pg_attribute WHERE attrelid = 'members'::regclass AND attnum > 0 AND NOT attisdropped AND attnotnull ORDER BY 1")
                == [["handle"], ["id"], ["joined"], ["rank"]])
        let constraints = try fixture.rows("SELECT conname || ' ' || contype::text || ' ' || convalidated::text FROM pg_constraint WHERE conrelid = 'members'::regclass ORDER BY 1")
            .map { $0[0] ?? "" }
        var expected = ["members_pkey p true"]
        if major(fixture) >= 18 {
            expected += ["members_handle_not_null n true", "members_id_not_null n true", "members_joined_not_null n true", "members_rank_not_null n true"]
        }
        #expect(constraints == expected.sorted(), "PostgreSQL \(major(fixture))")
        #expect(try fixture.int("SELECT count(*) FROM members WHERE handle IS NULL OR joined IS NULL") == 0)
    }

    /// TransitionNames.notNullConstraint is the name PostgreSQL 18 itself gives a NOT NULL
    /// constraint, also for names it must shorten (a multi-byte character is never split).
    @Test func notNullConstraintNamesMatchPostgreSQL() throws {
        let fixture = try EngineFixture("nnnames")
        defer { fixture.close() }
        guard major(fixture) >= 18 else { return }
        let cases = [("members", "handle"), (String(repeating: "t", count: 60), String(repeating: "c", count: 20)),
                     (String(repeating: "t", count: 40), String(repeating: "c", count: 40)), (String(repeating: "é", count: 30), "c"),
                     ("ab", String(repeating: "ü", count: 31))]
        for (table, column) in cases {
            let (t, c) = (SQLQuote.identifier(table), SQLQuote.identifier(column))
            try fixture.exec("DROP TABLE IF EXISTS \(t); CREATE TABLE \(t) (\(c) int); ALTER TABLE \(t) ALTER COLUMN \(c) SET NOT NULL")
            let name = try fixture.rows("SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'n'", [t]).first?.first ?? nil
            #expect(name == TransitionNames.notNullConstraint(table: TransitionNames.truncated(table), column: column), "\(table).\(column)")
            try fixture.exec("DROP TABLE \(t)")
        }
    }

    /// PostgreSQL 18: a column with a NOT VALID NOT NULL constraint of its own is refused before
    /// any change (a second one cannot be added, and SET NOT NULL would scan to validate it).
    @Test func aColumnWithANotValidNotNullConstraintIsRefusedAtExpand() throws {
        let fixture = try EngineFixture("nnnotvalid")
        defer { fixture.close() }
        guard major(fixture) >= 18 else { return }
        try fixture.exec(Self.setup + "ALTER TABLE members ADD CONSTRAINT handle_required NOT NULL handle NOT VALID;")
        try fixture.writePlan("001_members", Self.plan)
        let before = try fixture.snapshot("members")
        let refusal = try #require(expectRefusal { try fixture.run(.expand, "001_members") })
        // Its rows holding NULL would also fail the backfill (hostile-d 11).
        #expect(refusal.gates == ["not-null", "not-valid-constraint"], "\(refusal.text)")
        #expect(refusal.text.contains("column handle of public.members already has a NOT VALID NOT NULL constraint handle_required"), "\(refusal.text)")
        #expect(refusal.failures.first?.remedy?.contains("VALIDATE CONSTRAINT \"handle_required\"") == true)
        #expect(try fixture.snapshot("members") == before)
        #expect(try fixture.state("001_members")?.phase == .planned)
        // Validated, the column is NOT NULL already: the plan no longer adds it, and expands.
        try fixture.exec("UPDATE members SET handle = 'member-' || id WHERE handle IS NULL; ALTER TABLE members VALIDATE CONSTRAINT handle_required")
        try fixture.run(.expand, "001_members")
    }

    /// PostgreSQL 18: a replaced column's NOT NULL constraint keeps its name, renamed as a CHECK
    /// is (the column's token replaced), a name without the column's token as it is, and
    /// PostgreSQL's own name becomes PostgreSQL's name for the new column (hostile finding 05,
    /// 2026-12-02b: `b_required` came back as `t_b2_not_null`).
    @Test func aNamedNotNullConstraintKeepsItsNameThroughAReplacement() throws {
        let fixture = try EngineFixture("nnnamed")
        defer { fixture.close() }
        guard major(fixture) >= 18 else { return }
        try fixture.exec("""
            CREATE TABLE t (id bigint PRIMARY KEY, a int NOT NULL, b text CONSTRAINT b_required NOT NULL,
                            c int CONSTRAINT required_value NOT NULL, d int NOT NULL);
            INSERT INTO t SELECT g, g, 'b' || g, g, g FROM generate_series(1, 10) AS g;
            """)
        try fixture.writePlan("001_t", """
            table: t
            changes:
              - alter: b
                rename_to: b2
                not_null: true
              - alter: c
                rename_to: c2
              - alter: d
                type: bigint
                up: "d::bigint"
                down: "d::int"
            """)
        try fixture.forward("001_t", through: .contract)
        #expect(try fixture.rows("""
            SELECT conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated::text FROM pg_constraint
            WHERE conrelid = 't'::regclass AND contype = 'n' ORDER BY 1
            """).map { $0[0] ?? "" } == [
                "b2_required NOT NULL b2 true", "required_value NOT NULL c2 true", "t_a_not_null NOT NULL a true",
                "t_d_not_null NOT NULL d true", "t_id_not_null NOT NULL id true",
            ])
        // A later migration can manage it by its name.
        try fixture.exec("ALTER TABLE t DROP CONSTRAINT b2_required")
    }

    /// A plan expanded on an older server keeps its CHECK after an upgrade to 18: backfill, verify
    /// and contract finish the shape expand recorded (contract sets NOT NULL through the check
    /// and drops it; PostgreSQL names the NOT NULL constraint).
    @Test func theShapeRecordedAtExpandWinsAfterAnUpgrade() throws {
        let fixture = try EngineFixture("nnupgrade")
        defer { fixture.close() }
        guard major(fixture) >= 18 else { return }
        try fixture.exec(Self.setup)
        try fixture.writePlan("001_members", Self.plan)
        try fixture.run(.expand, "001_members")
        // The catalog and state an expand on PostgreSQL 17 leaves, as pg_upgrade carries them to 18.
        for (name, column) in [("handle", "handle"), ("joined", "joined"), ("rank", "_bellows_rank")] {
            try fixture.exec("""
                ALTER TABLE members DROP CONSTRAINT _bellows_members_\(name)_not_null,
                  ADD CONSTRAINT _bellows_members_\(name)_not_null CHECK (\(column) IS NOT NULL) NOT VALID
                """)
        }
        try fixture.exec("UPDATE bellows.plans SET not_null_shape = 'check' WHERE id = '001_members'")
        for command in [PhaseCommand.backfill, .verify, .contract] { try fixture.run(command, "001_members") }
        let constraints = try fixture.rows("SELECT conname || ' ' || contype::text || ' ' || convalidated::text FROM pg_constraint WHERE conrelid = 'members'::regclass ORDER BY 1")
            .map { $0[0] ?? "" }
        #expect(constraints == ["members_handle_not_null n true", "members_id_not_null n true", "members_joined_not_null n true",
                                "members_pkey p true", "members_rank_not_null n true"])
        let contract = try #require(try fixture.events("001_members").last { $0.command == "contract" && $0.outcome == "succeeded" })
        #expect(contract.toPhase == "contracted")
    }
}
