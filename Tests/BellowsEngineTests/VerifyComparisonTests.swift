import BellowsEngine
@testable import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Issue 22: verify's scan compared each row's old and new column with `record_image_ne`,
/// building two rows per compared row (1.9× a bare `count(*)` on a 1M-row rename). For types
/// whose `=` holds only for identical values it compares with `IS DISTINCT FROM`, text under
/// `COLLATE "C"`; the answer must stay identity, whatever the column's collation.
@Suite struct IdentityComparisonTests {
    @Test func onlyTypesWhoseEqualityIsIdentityAreComparedWithIt() {
        for type in ["bigint", "integer", "text", "varchar(200)", "character varying(20)", "uuid", "timestamp with time zone", "bytea", "boolean"] {
            #expect(PhaseSQL.identityEquality(type) != nil, "\(type)")
        }
        for type in ["numeric", "numeric(12,2)", "double precision", "real", "character(10)", "text[]", "varchar(20)[]", "jsonb", "interval", "citext", "moment"] {
            #expect(PhaseSQL.identityEquality(type) == nil, "\(type)")
        }
        #expect(PhaseSQL.differ(["a"], ["b"], types: ["text"]) == "(a COLLATE \"C\") IS DISTINCT FROM (b COLLATE \"C\")")
        #expect(PhaseSQL.differ(["a", "c"], ["b", "d"], types: ["bigint", "numeric"]) == PhaseSQL.differ(["a", "c"], ["b", "d"]))
    }
}

@Suite(needsDatabase)
struct VerifyComparisonTests {
    /// Under a nondeterministic (case-insensitive) collation `'A' = 'a'`: a new column written
    /// around the trigger with another case must still fail verify, and the rename's trigger
    /// must still copy a case-only change.
    @Test func aCaseOnlyDifferenceUnderANondeterministicCollationIsSeen() throws {
        let fixture = try EngineFixture("verifyci")
        defer { fixture.close() }
        // A nondeterministic collation needs ICU, which the PyPI builds of 16 may lack (0A000).
        guard try IdenticalValueTests.hasICU(fixture) else { return }
        try fixture.exec("""
            CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
            CREATE TABLE people (id bigint PRIMARY KEY, name text COLLATE ci);
            INSERT INTO people SELECT g, 'name ' || g FROM generate_series(1, 20) g;
            """)
        let id = try fixture.writePlan("001_rename", "table: people\nchanges:\n  - alter: name\n    rename_to: label\n")
        for command: PhaseCommand in [.expand, .backfill, .verify] { try fixture.run(command, id) }
        // Old code changes only the case: the trigger copies it.
        try fixture.exec("UPDATE people SET name = 'NAME 1' WHERE id = 1")
        #expect(try fixture.rows("SELECT label FROM people WHERE id = 1") == [["NAME 1"]])
        try fixture.exec("""
            ALTER TABLE people DISABLE TRIGGER "~bellows_sync_001_rename";
            UPDATE people SET label = 'NAME 2' WHERE id = 2;
            ALTER TABLE people ENABLE ALWAYS TRIGGER "~bellows_sync_001_rename";
            """)
        let mismatch = expectRefusal { try fixture.run(.verify, id) }
        #expect(mismatch?.gates == ["mismatch:change_1"], "\(mismatch?.text ?? "")")
        try fixture.exec("UPDATE people SET label = name WHERE id = 2")
        try fixture.run(.verify, id)
    }
}
