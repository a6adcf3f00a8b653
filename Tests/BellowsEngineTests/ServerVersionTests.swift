import BellowsEngine
import BellowsPlan
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
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, nickname text, score int);
            CREATE INDEX accounts_email_idx ON accounts (email);
            INSERT INTO accounts SELECT g, 'a' || g || '@example.com', CASE WHEN g % 2 = 0 THEN 'n' || g END, g FROM generate_series(1, 50) AS g;
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
            expected += ["constraint accounts_email_address_not_null n", "constraint accounts_id_not_null n", "constraint accounts_score_not_null n"]
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
        let transition = try #require(TransitionCompiler.compile(plan, table: table).transition)
        try fixture.forward("001_profiles", through: .verify)
        try fixture.exec("SET client_min_messages = debug1")
        _ = fixture.sql.takeNotices()
        try fixture.sql.withTransaction {
            for statement in PhaseSQL(transition).contract { try fixture.sql.execute(statement.sql) }
        }
        try fixture.exec("RESET client_min_messages")
        let notices = fixture.sql.takeNotices().map(\.message)
        #expect(!notices.contains { $0.hasPrefix("verifying table") }, "\(notices)")
        #expect(notices.filter { $0.contains("sufficient to prove that it does not contain nulls") }.count == 2, "\(notices)")
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
