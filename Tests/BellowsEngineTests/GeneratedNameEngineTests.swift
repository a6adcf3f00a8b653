import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Generated identifiers and expression text against a real PostgreSQL.
@Suite(needsDatabase)
struct GeneratedNameEngineTests {
    /// Two 62-byte column names sharing a 58-byte prefix, both retyped in one plan: each keeps
    /// its own shadow column, so a write to one never lands in the other, and contract ends
    /// with both values intact.
    @Test func longColumnsSharingAPrefixKeepTheirOwnValues() throws {
        let fixture = try EngineFixture("longnames")
        defer { fixture.close() }
        let prefix = String(repeating: "p", count: 58)
        let (a, b) = (prefix + "_one", prefix + "_two")
        try fixture.exec("""
            CREATE TABLE t (id bigint PRIMARY KEY, "\(a)" integer, "\(b)" integer);
            INSERT INTO t SELECT g, g, -g FROM generate_series(1, 300) AS g;
            """)
        let id = "001_long"
        try fixture.writePlan(id, """
            table: t
            changes:
              - alter: \(a)
                type: bigint
                up: '"\(a)"::bigint'
                down: '"\(a)"::integer'
              - alter: \(b)
                type: bigint
                up: '"\(b)"::bigint'
                down: '"\(b)"::integer'
            """)
        try fixture.run(.expand, id)
        try fixture.exec("""
            INSERT INTO t (id, "\(a)", "\(b)") VALUES (1001, 7, 8);
            UPDATE t SET "\(a)" = 70, "\(b)" = 80 WHERE id = 5;
            """)
        try fixture.run(.backfill, id)
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        #expect(try fixture.rows("SELECT \"\(a)\", \"\(b)\" FROM t WHERE id IN (5, 1001) ORDER BY id") == [["70", "80"], ["7", "8"]])
        #expect(try fixture.int("SELECT count(*) FROM t WHERE \"\(a)\" = id AND \"\(b)\" = -id") == 299)
        #expect(try fixture.rows("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 1 AND NOT attisdropped ORDER BY attnum")
                == [["bigint"], ["bigint"]])
    }

    /// An expression holding the trigger function's former dollar-quote tag expands and syncs.
    @Test func anExpressionHoldingTheFunctionsDollarTagExpands() throws {
        let fixture = try EngineFixture("dollartag")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE t (id bigint PRIMARY KEY, name text);
            INSERT INTO t VALUES (1, 'a');
            """)
        let id = "001_tag"
        try fixture.writePlan(id, """
            table: t
            changes:
              - alter: name
                rename_to: label
                up: "name || '$bellows$'"
                down: "replace(label, '$bellows$', '')"
            """)
        try fixture.run(.expand, id)
        try fixture.exec("INSERT INTO t (id, name) VALUES (2, 'b')")
        #expect(try fixture.rows("SELECT label FROM t WHERE id = 2") == [["b$bellows$"]])
    }
}
