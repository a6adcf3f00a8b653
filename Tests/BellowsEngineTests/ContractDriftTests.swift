import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// hostile-d 01: a migration applied between expand and contract adds a unique index, a CHECK,
/// a default, a comment or NOT NULL on the column the plan replaces. `DROP COLUMN` drops them
/// without a word: contract said ✓ and duplicates inserted fine afterwards. Contract now
/// refuses, naming each, and changes nothing; after rollback and a new expand they are carried.
@Suite(needsDatabase)
struct ContractDriftTests {
    static let id = "001_rename_email"

    static func setUp(_ fixture: EngineFixture) throws {
        try fixture.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, tenant int NOT NULL, email text, plan text);
            INSERT INTO users SELECT g, g % 3, 'u' || g || '@x', 'free' FROM generate_series(1, 100) g;
            """)
        try fixture.writePlan(id, """
            table: users
            changes:
              - alter: email
                rename_to: contact
              - alter: plan
                rename_to: tier
            """)
    }

    @Test func contractRefusesWhatAMigrationAddedToAReplacedColumnAndChangesNothing() throws {
        let fixture = try EngineFixture("drift")
        defer { fixture.close() }
        try Self.setUp(fixture)
        try fixture.run(.expand, Self.id)
        // The team's migration, applied mid-transition.
        try fixture.exec("""
            CREATE UNIQUE INDEX users_tenant_email_uq ON users (tenant, email);
            ALTER TABLE users ADD CONSTRAINT users_email_has_at CHECK (email LIKE '%@%') NOT VALID;
            ALTER TABLE users ALTER COLUMN plan SET DEFAULT 'free';
            COMMENT ON COLUMN users.email IS 'unique per tenant';
            """)
        // hostile-e 02: what DROP COLUMN takes without a constraint or an index.
        try fixture.exec("""
            CREATE STATISTICS users_st ON tenant, email FROM users;
            ALTER TABLE users ALTER COLUMN email SET STATISTICS 900;
            ALTER TABLE users ALTER COLUMN email SET (n_distinct = -0.5);
            """)
        for command: PhaseCommand in [.backfill, .verify] { try fixture.run(command, Self.id) }
        let before = try fixture.snapshot("users")
        let refusal = expectRefusal { try fixture.run(.contract, Self.id) }
        #expect(refusal?.gates == ["schema-changed"], "\(refusal?.text ?? "")")
        for item in ["users_tenant_email_uq", "users_email_has_at", "default of plan: 'free'::text", "comment on email",
                     "statistics object", "users_st", "statistics target of email: 900",
                     "attribute options of email: n_distinct=-0.5"] {
            #expect(refusal?.text.contains(item) == true, "\(item): \(refusal?.text ?? "")")
        }
        #expect(try fixture.state(Self.id)?.phase == .verified)
        #expect(try fixture.snapshot("users") == before)
        // The way out the refusal names: rollback, expand again — now they are carried.
        try fixture.run(.rollback, Self.id)
        // A statistics object over the column is refused before expand (it cannot be carried).
        try fixture.exec("DROP STATISTICS users_st")
        for command: PhaseCommand in [.expand, .backfill, .verify, .contract] { try fixture.run(command, Self.id) }
        #expect(try fixture.rows("SELECT indexdef FROM pg_indexes WHERE tablename = 'users' AND indexdef LIKE '%UNIQUE%(tenant, contact)%'").count == 1)
        #expect(try fixture.rows("SELECT conname FROM pg_constraint WHERE conrelid = 'users'::regclass AND pg_get_constraintdef(oid) LIKE 'CHECK ((contact ~~%'").count == 1)
        #expect(try fixture.rows("SELECT column_default FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' AND column_name = 'tier'") == [["'free'::text"]])
        #expect(throws: PostgresError.self) { try fixture.exec("INSERT INTO users (id, tenant, contact) VALUES (1000, 1, 'u1@x')") }
    }

    /// Nothing added since expand: contract goes on (the plan's own objects are not the schema's).
    @Test func contractAfterAnUnrelatedMigrationGoesOn() throws {
        let fixture = try EngineFixture("driftnone")
        defer { fixture.close() }
        try Self.setUp(fixture)
        try fixture.run(.expand, Self.id)
        try fixture.exec("CREATE INDEX users_tenant_idx ON users (tenant); COMMENT ON COLUMN users.tenant IS 't'")
        for command: PhaseCommand in [.backfill, .verify, .contract] { try fixture.run(command, Self.id) }
        #expect(try fixture.state(Self.id)?.phase == .contracted)
    }
}
