import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// The plan's table renamed or moved by a migration while the plan is in flight (hostile-d 25).
@Suite(needsDatabase)
struct TableMovedTests {
    /// A table renamed after expand: the forward phases refuse with a gate naming the new name,
    /// `status` says so and recommends rollback, and rollback follows the table through its
    /// trigger and removes everything expand added (before: backfill called the trigger
    /// "missing", rollback failed 2BP01 on its own trigger after dropping the index, status said
    /// `backfill`).
    @Test func aTableRenamedMidTransitionRollsBackAndSaysWhy() throws {
        let fixture = try EngineFixture("table-moved")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text);
            INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 100) AS g;
            """)
        let id = "001_rename"
        try fixture.writePlan(id, """
            table: users
            changes:
              - alter: email
                rename_to: email_address
                unique: true
            """)
        let original = try fixture.snapshot("users")
        try fixture.run(.expand, id)
        try fixture.exec("ALTER TABLE users RENAME TO members")
        let refusal = try #require(expectRefusal { try fixture.run(.backfill, id) })
        #expect(refusal.gates == ["table-moved"], "\(refusal.text)")
        #expect(refusal.text.contains("the plan's table public.users is now public.members"), "\(refusal.text)")
        let line = try #require(try fixture.engine().status().first { $0.id == id })
        #expect(line.next == "bellows rollback \(id)")
        #expect(line.blockers.contains { $0.gate == "table-moved" && $0.remedy?.contains("ALTER TABLE \"public\".\"members\" RENAME TO \"users\"") == true },
                "\(line.blockers)")
        try fixture.run(.rollback, id)
        #expect(try fixture.state(id)?.phase == .rolledBack)
        try fixture.exec("ALTER TABLE members RENAME TO users")
        let restored = try fixture.snapshot("users")
        #expect(restored == original, "\(original.difference(to: restored))")
        #expect(try fixture.int("SELECT count(*) FROM pg_proc WHERE pronamespace = 'bellows'::regnamespace AND proname LIKE 'sync_001%'") == 0)
    }
}
