import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// A unique index whose NULLs collide (`NULLS NOT DISTINCT`, a key like `coalesce(email, '')`)
/// on a renamed column was built by expand over the new, still-NULL column: 23505, `planned*`,
/// and "run expand again" failed the same way for ever (hostile-d 39). Expand refuses it before
/// anything is committed.
@Suite(needsDatabase)
struct NullsCollideTests {
    @Test func aUniqueIndexWhoseNullsCollideRefusesExpandBeforeAnyChange() throws {
        let fixture = try EngineFixture("nulls-collide")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text, phone text, CONSTRAINT users_email_key UNIQUE NULLS NOT DISTINCT (email));
            CREATE UNIQUE INDEX users_phone_ci_uq ON users (lower(coalesce(phone, '')));
            INSERT INTO users SELECT g, 'u' || g, 'p' || g FROM generate_series(1, 10) g;
            """)
        let id = "001_rename"
        try fixture.writePlan(id, """
            table: users
            changes:
              - alter: email
                rename_to: email_address
              - alter: phone
                rename_to: phone_number
            """)
        let before = try fixture.snapshot("users")
        let refusal = expectRefusal { try fixture.run(.expand, id) }
        #expect(Set(refusal?.gates ?? []) == ["plan"], "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("users_email_key") == true && refusal?.text.contains("NULLS NOT DISTINCT") == true, "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("users_phone_ci_uq") == true && refusal?.text.contains("COALESCE") == true, "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("plan-cannot-carry") == true, "\(refusal?.text ?? "")")
        let after = try fixture.snapshot("users")
        #expect(before == after, "\(before.difference(to: after))")
        let state = try fixture.state(id)
        #expect(state == nil || (state?.phase == .planned && state?.expanding == false))
        // Made partial over the column (NULLs left out), both are carried.
        try fixture.exec("""
            ALTER TABLE users DROP CONSTRAINT users_email_key;
            CREATE UNIQUE INDEX users_email_key ON users (email) NULLS NOT DISTINCT WHERE email IS NOT NULL;
            DROP INDEX users_phone_ci_uq;
            CREATE UNIQUE INDEX users_phone_ci_uq ON users (lower(coalesce(phone, ''))) WHERE phone IS NOT NULL;
            """)
        try fixture.forward(id, through: .contract)
        #expect(try fixture.int("SELECT count(*) FROM pg_index WHERE indrelid = 'users'::regclass AND indisunique") == 3)
    }
}
