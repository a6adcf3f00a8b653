import BellowsEngine
import BellowsPlan
import BellowsSQL
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Phases refuse what `check` rejects, and what verify evaluates cannot write.
@Suite(needsDatabase)
struct PlanValidationGateTests {
    static func setUp(_ fixture: EngineFixture) throws {
        try fixture.exec("""
            CREATE TABLE t (id bigint PRIMARY KEY, name text);
            CREATE TABLE other (id int PRIMARY KEY);
            INSERT INTO t SELECT g, 'n' || g FROM generate_series(1, 50) AS g;
            INSERT INTO other SELECT generate_series(1, 10);
            """)
    }

    /// A crafted `up` that would make every INSERT into t delete other's rows: check rejects
    /// it, and so does expand, with the same findings, before changing anything.
    @Test func expandRefusesWhatCheckRejects() throws {
        let fixture = try EngineFixture("gate-check")
        defer { fixture.close() }
        try Self.setUp(fixture)
        let id = "001_crafted"
        try fixture.writePlan(id, """
            table: t
            changes:
              - alter: name
                rename_to: label
                up: "name) INTO bellows_up FROM (SELECT NEW.*) AS r; DELETE FROM other; SELECT (name"
                down: "label"
            """)
        let checked = ProjectCheck.check(project: fixture.project).filter { $0.severity == .error }
        #expect(!checked.isEmpty)
        let before = try fixture.snapshot("t")
        let refusal = expectRefusal { try fixture.run(.expand, id) }
        #expect(refusal?.gates == Array(repeating: "plan", count: checked.count), "\(refusal?.text ?? "")")
        #expect(refusal?.failures.map(\.message) == checked.map { "\($0.location): \($0.message) [\($0.rule)]" })
        #expect(try fixture.snapshot("t") == before)
        #expect(try fixture.int("SELECT count(*) FROM pg_trigger WHERE tgrelid = 't'::regclass") == 0)
        try fixture.exec("INSERT INTO t (id, name) VALUES (1001, 'x')")
        #expect(try fixture.int("SELECT count(*) FROM other") == 10)
        #expect(try fixture.state(id)?.phase == .planned)
    }

    /// A NUL in an expression: refused by check and by expand (it used to fail halfway).
    @Test func expandRefusesANulCharacter() throws {
        let fixture = try EngineFixture("gate-nul")
        defer { fixture.close() }
        try Self.setUp(fixture)
        let id = "001_nul"
        try fixture.writePlan(id, """
            table: t
            changes:
              - alter: name
                up: "name || \\"\\u0000\\""
            """)
        let refusal = expectRefusal { try fixture.run(.expand, id) }
        #expect(refusal?.gates.contains("plan") == true, "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("NUL") == true, "\(refusal?.text ?? "")")
    }

    /// A plan check that writes fails in its read-only transaction, at verify and at contract.
    @Test func planChecksCannotWrite() throws {
        let fixture = try EngineFixture("gate-ro")
        defer { fixture.close() }
        try Self.setUp(fixture)
        let id = "001_check_writes"
        try fixture.writePlan(id, """
            table: t
            changes:
              - alter: name
                rename_to: label
            checks:
              - name: sneaky
                sql: "WITH d AS (DELETE FROM other RETURNING 1) SELECT count(*) FROM d"
                expect: "0"
            """)
        try fixture.run(.expand, id)
        try fixture.run(.backfill, id)
        let refusal = expectRefusal { try fixture.run(.verify, id) }
        #expect(refusal?.gates == ["check:sneaky"], "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("read-only") == true, "\(refusal?.text ?? "")")
        #expect(try fixture.int("SELECT count(*) FROM other") == 10)
        #expect(try fixture.state(id)?.phase == .backfilled)
    }

    /// Verify evaluates `up` over every row in a read-only transaction: a function with side
    /// effects called by `up` cannot write during verify.
    @Test func verifyEvaluatesUpReadOnly() throws {
        let fixture = try EngineFixture("gate-ro-up")
        defer { fixture.close() }
        try Self.setUp(fixture)
        try fixture.exec("""
            CREATE TABLE calls (n int);
            CREATE FUNCTION noisy_upper(v text) RETURNS text LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO calls VALUES (1); RETURN upper(v); END $$;
            """)
        let id = "001_noisy"
        try fixture.writePlan(id, """
            table: t
            changes:
              - alter: name
                rename_to: label
                up: "noisy_upper(name)"
                down: "lower(label)"
            """)
        try fixture.run(.expand, id)
        try fixture.run(.backfill, id)
        let calls = try fixture.int("SELECT count(*) FROM calls")
        #expect(throws: BellowsError.self) { try fixture.run(.verify, id) }
        #expect(try fixture.int("SELECT count(*) FROM calls") == calls)
        #expect(try fixture.state(id)?.phase == .backfilled)
    }
}
