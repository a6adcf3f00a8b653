import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// An `up` that reads a column besides the one it replaces (`coalesce(display, username)`):
/// old code's UPDATE of that other column left the new column computed from the row before,
/// so new code read a stale value and verify refused for good (hostile finding 11).
@Suite(needsDatabase)
struct UpReadsOtherColumnTests {
    @Test func anOldCodeUpdateOfAColumnUpReadsRecomputesTheNewColumn() throws {
        let fixture = try EngineFixture("upreads")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE profiles (id bigint PRIMARY KEY, user_id bigint NOT NULL, created_by bigint, username text NOT NULL, display text);
            INSERT INTO profiles SELECT g, g, CASE WHEN g % 2 = 0 THEN g END, 'user' || g, NULL FROM generate_series(1, 10) g;
            """)
        let id = "001_profiles"
        try fixture.writePlan(id, """
            table: profiles
            changes:
              - alter: display
                rename_to: display_name
                up: "coalesce(display, username)"
                down: "display_name"
                not_null: true
              - alter: created_by
                rename_to: creator_id
                up: "coalesce(created_by, user_id)"
                down: "creator_id"
                not_null: true
            """)
        try fixture.forward(id, through: .backfill)
        // Old code: a user renames their login, an admin reassigns a profile.
        try fixture.exec("""
            UPDATE profiles SET username = 'renamed1' WHERE id = 1;
            UPDATE profiles SET user_id = 999 WHERE id = 3;
            UPDATE profiles SET user_id = 888 WHERE id = 4;
            """)
        #expect(try fixture.rows("SELECT display_name, creator_id FROM profiles WHERE id IN (1, 3, 4) ORDER BY id")
            == [["renamed1", "1"], ["user3", "999"], ["user4", "4"]])
        // New code writes the new column; old code then changes the other column: new code's value stays.
        try fixture.exec("""
            UPDATE profiles SET display_name = 'Chosen' WHERE id = 5;
            UPDATE profiles SET username = 'renamed5' WHERE id = 5;
            """)
        #expect(try fixture.rows("SELECT display, display_name FROM profiles WHERE id = 5") == [["Chosen", "Chosen"]])
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        #expect(try fixture.rows("SELECT display_name, creator_id FROM profiles WHERE id IN (1, 3, 5) ORDER BY id")
            == [["renamed1", "1"], ["user3", "999"], ["Chosen", "5"]])
    }
}
