@testable import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// A plan id is the plan's identity in the database (`bellows.plans`), across every project
/// that shares it (hostile finding 13, 2026-12-02b).
@Suite(needsDatabase)
struct PlanIdentityTests {
    static let id = "001_rename_email"

    /// Two projects share a database, each with a plan `001_rename_email` on its own table.
    /// Before, project B's commands were refused as "the plan file changed since expand"
    /// (restore the file: B's file never changed), `status` showed project A's phase on B's
    /// table, and once A contracted B's expand was refused for good ("it is contracted"). Now
    /// every command of B is refused naming the plan that holds the id, its table and its
    /// file; `status` shows B's plan as it is (planned, on customers) with that blocker; A goes
    /// on undisturbed and customers is never touched.
    @Test func aPlanIdHeldByAnotherProjectsPlanIsRefusedNamingIt() throws {
        let fixture = try EngineFixture("identity")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
            CREATE TABLE customers (id bigint PRIMARY KEY, email text, name text);
            INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 10) g;
            INSERT INTO customers SELECT g, 'c' || g, 'n' || g FROM generate_series(1, 10) g;
            """)
        let (a, b) = (try fixture.otherProject("a"), try fixture.otherProject("b"))
        try fixture.writePlan(Self.id, "table: users\nchanges:\n  - alter: email\n    rename_to: email_address\n", in: a)
        try fixture.writePlan(Self.id, "table: customers\nchanges:\n  - alter: email\n    rename_to: contact_email\n", in: b)
        let customers = try fixture.snapshot("customers")

        func expectHeldByA(_ command: PhaseCommand, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
            let refusal = expectRefusal({ try fixture.run(command, "001", in: b) }, sourceLocation: sourceLocation)
            #expect(refusal?.gates == ["plan-id"], "\(refusal?.text ?? "")", sourceLocation: sourceLocation)
            let message = refusal?.failures.first?.message ?? ""
            #expect(message.contains("users") && message.contains(a.root + "/plans/\(Self.id).yaml") && message.contains("customers"),
                    "\(message)", sourceLocation: sourceLocation)
            #expect(refusal?.failures.first?.remedy?.contains("another id") == true, sourceLocation: sourceLocation)
        }

        try fixture.run(.expand, "001", in: a)
        for command in [PhaseCommand.expand, .backfill, .rollback] { expectHeldByA(command) }
        let line = try Engine(project: b, options: fixture.options()).status().first { $0.id == Self.id }
        #expect(line?.table == "customers" && line?.phase == .planned, "\(String(describing: line))")
        #expect(line?.blockers.map(\.gate).contains("plan-id") == true, "\(String(describing: line?.blockers))")
        let lineOfA = try Engine(project: a, options: fixture.options()).status().first { $0.id == Self.id }
        #expect(lineOfA?.table == "users" && lineOfA?.phase == .expanded && lineOfA?.blockers.isEmpty == true)

        for command in [PhaseCommand.backfill, .verify, .contract] { try fixture.run(command, "001", in: a) }
        expectHeldByA(.expand)
        #expect(try fixture.snapshot("customers") == customers)
        #expect(try fixture.state(Self.id)?.table == "users")
        #expect(try fixture.state(Self.id)?.phase == .contracted)
    }
}

/// Which stored table names the plan's table, for the plan-id gate (pure; the rule expand's conflict check uses).
struct PlanIdentityRuleTests {
    @Test func aStoredTableMatchesWithOrWithoutItsSchema() throws {
        let users = try #require(TableName(parsing: "users"))
        #expect(Engine.sameTable("users", users))
        #expect(Engine.sameTable("public.users", users))
        #expect(!Engine.sameTable("users", try #require(TableName(parsing: "app.users"))))
        #expect(!Engine.sameTable("app.users", try #require(TableName(parsing: "public.users"))))
        #expect(!Engine.sameTable("customers", users))
        #expect(!Engine.sameTable("\"Users\"", users))
    }
}
