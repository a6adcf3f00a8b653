import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// hostile-g 06: during a transition the new version's view reads a replaced column from its
/// `_bellows_` replacement, whose column grants expand copied. A column `REVOKE` on the old
/// column after expand did not hold through the new version's view (the replacement kept the
/// grant, and `down` wrote the old column too), and a column `GRANT` after expand did not reach
/// it. Now the old column's privileges govern both: the dual-write trigger refuses an UPDATE of
/// the replacement by a role that may not UPDATE the old column, at once, and backfill and
/// verify give the replacement the old column's grants again (contract did already).
/// A table owner and application roles that are not superusers.
@Suite(needsDatabase)
struct ColumnPrivilegeTransitionTests {
    static let plan = """
        table: t5
        versioned_schemas: true
        changes:
          - alter: secret
            type: bigint
            up: secret::bigint
            down: secret::integer
        """

    @Test func aColumnRevokeOrGrantAfterExpandHoldsThroughTheNewVersionsView() throws {
        let fixture = try EngineFixture("colpriv")
        defer { fixture.close() }
        let owner = try DataSafetyTests.role(fixture, "cp_owner")
        defer { owner.drop() }
        let rw = try DataSafetyTests.role(fixture, "cp_rw")
        defer { rw.drop() }
        let clerk = try DataSafetyTests.role(fixture, "cp_clerk")
        defer { clerk.drop() }
        let reader = try DataSafetyTests.role(fixture, "cp_reader")
        defer { reader.drop() }
        try fixture.exec("""
            GRANT CREATE ON SCHEMA public TO \(owner.name);
            SET ROLE \(owner.name);
            CREATE TABLE t5 (id bigint PRIMARY KEY, secret int, x int);
            INSERT INTO t5 SELECT g, g, g FROM generate_series(1, 100) g;
            GRANT SELECT, INSERT ON t5 TO \(rw.name);
            GRANT UPDATE (x, secret) ON t5 TO \(rw.name);
            GRANT SELECT ON t5 TO \(clerk.name);
            GRANT SELECT (id, secret, x) ON t5 TO \(reader.name);
            RESET ROLE;
            """)
        try fixture.writePlan("001_secret", Self.plan)
        let asOwner: (inout EngineOptions) -> Void = { $0.conninfo = fixture.db.conninfo + " user=\(owner.name)" }
        try fixture.run(.expand, "001_secret", asOwner)
        let path = try #require(try fixture.engine(asOwner).searchPath(plan: "001_secret", version: .new).searchPath)
        func session(_ role: String) throws -> Connection {
            let connection = try Connection(fixture.db.conninfo + " user=\(role)")
            try connection.execute("SET search_path TO \(path)")
            return connection
        }
        let asRW = try session(rw.name), asClerk = try session(clerk.name), asReader = try session(reader.name)
        defer { asRW.close(); asClerk.close(); asReader.close() }
        func refused(_ connection: Connection, _ statement: String) -> PostgresError? {
            do { try connection.execute(statement); return nil } catch { return error }
        }
        // A role with column SELECT on every column reads through the view (the view reads them all).
        #expect(try asReader.query("SELECT secret FROM t5 WHERE id = 2").count == 1)

        // 1. REVOKE UPDATE (secret) after expand: refused through the new version's view at
        // once, naming the column it sees; the old column is not written. Other columns still.
        try fixture.exec("REVOKE UPDATE (secret) ON t5 FROM \(rw.name)")
        #expect(refused(asRW, "UPDATE public.t5 SET secret = 1 WHERE id = 1")?.sqlState == SQLState("42501"), "on the table, as PostgreSQL refuses it")
        let revoked = refused(asRW, "UPDATE t5 SET secret = 999 WHERE id = 1")
        #expect(revoked?.sqlState == SQLState("42501") && revoked?.message.contains("\"secret\"") == true, "\(String(describing: revoked))")
        #expect(try fixture.rows("SELECT secret, _bellows_secret FROM t5 WHERE id = 1") == [["1", nil]])
        try asRW.execute("UPDATE t5 SET x = 5 WHERE id = 1")
        #expect(try fixture.rows("SELECT x FROM t5 WHERE id = 1") == [["5"]])

        // 2. GRANT UPDATE (secret) after expand; REVOKE SELECT (secret) from a role with column SELECT.
        try fixture.exec("GRANT UPDATE (secret) ON t5 TO \(clerk.name); REVOKE SELECT (secret) ON t5 FROM \(reader.name)")
        // status says the new version's view does not follow them yet, and what will.
        func drift() throws -> [String]? { try fixture.engine(asOwner).status().first { $0.id == "001_secret" }?.columnPrivilegesDiffer }
        #expect(try drift() == ["secret"])
        // The next phase gives the replacement the old column's grants (no _bellows_ name needed).
        let backfill = try fixture.run(.backfill, "001_secret", asOwner)
        #expect(try drift() == nil)
        #expect(backfill.details["column_privileges_followed"] == .array([.string("secret")]), "\(backfill.details)")
        try asClerk.execute("UPDATE t5 SET secret = 6 WHERE id = 2")
        #expect(try fixture.rows("SELECT secret, _bellows_secret FROM t5 WHERE id = 2") == [["6", "6"]])
        #expect(refused(asReader, "SELECT secret FROM t5 WHERE id = 2")?.sqlState == SQLState("42501"))
        #expect(refused(asReader, "SELECT secret FROM public.t5 WHERE id = 2")?.sqlState == SQLState("42501"))
        #expect(refused(asRW, "UPDATE t5 SET secret = 7 WHERE id = 3")?.sqlState == SQLState("42501"))

        // 3. Given back before verify: verify gives it to the replacement too.
        try fixture.exec("GRANT UPDATE (secret) ON t5 TO \(rw.name)")
        let verify = try fixture.run(.verify, "001_secret", asOwner)
        #expect(verify.details["column_privileges_followed"] == .array([.string("secret")]), "\(verify.details)")
        try asRW.execute("UPDATE t5 SET secret = 8 WHERE id = 3")
        #expect(try fixture.rows("SELECT secret, _bellows_secret FROM t5 WHERE id = 3") == [["8", "8"]])
        try fixture.run(.contract, "001_secret", asOwner)
        try asClerk.execute("UPDATE t5 SET secret = 9 WHERE id = 4")
        #expect(refused(asReader, "SELECT secret FROM t5 WHERE id = 4")?.sqlState == SQLState("42501"))
    }
}
