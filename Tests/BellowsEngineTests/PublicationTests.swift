import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// A table a publication sends whole would replicate expand's new columns, stopping every
/// subscriber whose table lacks them (hostile finding 2026-12-02b/15): expand refuses, naming it.
@Suite(needsDatabase)
struct PublicationTests {
    @Test func expandRefusesATablePublishedWithoutAColumnList() throws {
        let fixture = try EngineFixture("publication")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
            INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 10) g;
            CREATE PUBLICATION pub_users FOR TABLE users;
            """)
        let id = "001_rename_email"
        try fixture.writePlan(id, """
            table: users
            changes:
              - alter: email
                rename_to: email_address
            """)
        let before = try fixture.snapshot("users")
        let refusal = expectRefusal { try fixture.run(.expand, id) }
        #expect(refusal?.gates == ["publication"], "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("pub_users") == true, "\(refusal?.text ?? "")")
        let after = try fixture.snapshot("users")
        #expect(before == after, "\(before.difference(to: after))")
        // With a column list that leaves the new columns out, expand goes ahead.
        try fixture.exec("ALTER PUBLICATION pub_users SET TABLE users (id)")
        try fixture.run(.expand, id)
        #expect(try fixture.state(id)?.phase == .expanded)
    }
}
