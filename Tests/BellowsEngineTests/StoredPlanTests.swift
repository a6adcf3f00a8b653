import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Expand stores the plan file's text; rollback and the later phases work from it whatever
/// the file says now (hostile finding 17, issue 18).
@Suite(needsDatabase)
struct StoredPlanTests {
    static let id = "001_s"
    static let plan = """
        # plans/001_s.yaml
        table: s
        description: rename v
        changes:
          - alter: v
            rename_to: v2
            not_null: true
        checks:
          - name: all_filled
            sql: SELECT count(*) FROM s WHERE v2 IS NULL
            expect: 0
        gates:
          - name: app-ready
            before: contract
            description: the application reads v2
        """

    static func setUp(_ fixture: EngineFixture) throws -> CatalogSnapshot {
        try fixture.exec("CREATE TABLE s (id bigint PRIMARY KEY, v text NOT NULL); INSERT INTO s SELECT g, 'v' || g FROM generate_series(1, 100) g;")
        try fixture.writePlan(id, plan)
        return try fixture.snapshot("s")
    }

    /// Notes the engine reported, for the assertions on what it said.
    final class Notes: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [String] = []
        var all: [String] { lock.lock(); defer { lock.unlock() }; return list }
        var reporter: Reporter {
            { note in
                if case .info(let text) = note { self.lock.lock(); self.list.append(text); self.lock.unlock() }
            }
        }
    }

    @Test func expandStoresTheFilesTextAndPath() throws {
        let fixture = try EngineFixture("stored")
        defer { fixture.close() }
        _ = try Self.setUp(fixture)
        try fixture.run(.expand, Self.id)
        let row = try fixture.rows("SELECT plan_text, plan_path FROM bellows.plans WHERE id = $1", [Self.id])
        #expect(row == [[Self.plan, fixture.planPath(Self.id)]])
    }

    /// Hostile finding 17: a comment appended after expand made rollback refuse.
    @Test func rollbackAfterACommentWasAppended() throws {
        let fixture = try EngineFixture("stored")
        defer { fixture.close() }
        let original = try Self.setUp(fixture)
        try fixture.forward(Self.id, through: .backfill)
        try fixture.writePlan(Self.id, Self.plan + "\n# comment\n")
        try fixture.run(.rollback, Self.id)
        #expect(try fixture.state(Self.id)?.phase == .rolledBack)
        let after = try fixture.snapshot("s")
        #expect(after == original, "\(original.difference(to: after))")
    }

    /// A file edited into another plan: rollback removes what the text as expanded added.
    @Test func rollbackAfterARealChangeUsesTheStoredText() throws {
        let fixture = try EngineFixture("stored")
        defer { fixture.close() }
        let original = try Self.setUp(fixture)
        try fixture.forward(Self.id, through: .verify)
        try fixture.writePlan(Self.id, Self.plan.replacingOccurrences(of: "v2", with: "v3"))
        let notes = Notes()
        try fixture.engine(reporter: notes.reporter).run(.rollback, plan: Self.id)
        #expect(notes.all.contains { $0.contains("changed since expand") && $0.contains("rollback removes what the plan as expanded added") }, "\(notes.all)")
        let after = try fixture.snapshot("s")
        #expect(after == original, "\(original.difference(to: after))")
    }

    /// Hostile finding 17: the file deleted after expand (another branch checked out).
    @Test func rollbackAndStatusWithTheFileDeleted() throws {
        let fixture = try EngineFixture("stored")
        defer { fixture.close() }
        let original = try Self.setUp(fixture)
        try fixture.forward(Self.id, through: .backfill)
        try FileManager.default.removeItem(atPath: fixture.planPath(Self.id))

        let board = try fixture.engine().status()
        let line = try #require(board.first { $0.id == Self.id })
        #expect(line.fileMissing && line.phase == .backfilled)
        #expect(line.next == "bellows rollback \(Self.id)")

        // Forward phases refuse: the file is gone.
        let refusal = expectRefusal { try fixture.run(.verify, Self.id) }
        #expect(refusal?.gates == ["plan-file"], "\(refusal?.text ?? "")")
        #expect(try fixture.state(Self.id)?.phase == .backfilled)

        try fixture.run(.rollback, "001")
        #expect(try fixture.state(Self.id)?.phase == .rolledBack)
        let after = try fixture.snapshot("s")
        #expect(after == original, "\(original.difference(to: after))")
    }

    /// Comments, formatting, the description and a gate's wording changed: every phase goes on,
    /// saying so, with the text as expanded.
    @Test func aCosmeticEditIsAcceptedWithANote() throws {
        let fixture = try EngineFixture("stored")
        defer { fixture.close() }
        _ = try Self.setUp(fixture)
        try fixture.run(.expand, Self.id)
        let edited = "# reviewed by ops\n" + Self.plan
            .replacingOccurrences(of: "description: rename v", with: "description: \"rename v to v2, see ticket 42\"")
            .replacingOccurrences(of: "the application reads v2", with: "every instance reads v2 (release 3.1)")
            .replacingOccurrences(of: "SELECT count(*) FROM s WHERE v2 IS NULL", with: "\"SELECT count(*)  FROM s\\n  WHERE v2 IS NULL /* none left */\"")
            .replacingOccurrences(of: "not_null: true", with: "not_null: true   # the point")
        try fixture.writePlan(Self.id, edited)
        let notes = Notes()
        let engine = fixture.engine(reporter: notes.reporter)
        try engine.run(.backfill, plan: Self.id)
        #expect(notes.all.contains { $0.contains("001_s.yaml changed since expand (comments/formatting only); using the text as expanded") }, "\(notes.all)")
        try engine.run(.verify, plan: Self.id)
        // An approval given for the edited file holds for the text as expanded.
        try engine.approve(plan: Self.id, gate: "app-ready")
        try engine.run(.contract, plan: Self.id)
        #expect(try fixture.state(Self.id)?.phase == .contracted)
        #expect(try fixture.int("SELECT count(*) FROM s WHERE v2 IS NOT NULL") == 100)
    }

    /// A changed check (what verify and contract enforce) is a real change: refused with a
    /// located diff, nothing changed; the restored file goes on.
    @Test func aRealChangeIsRefusedWithADiff() throws {
        let fixture = try EngineFixture("stored")
        defer { fixture.close() }
        _ = try Self.setUp(fixture)
        try fixture.forward(Self.id, through: .backfill)
        try fixture.writePlan(Self.id, Self.plan.replacingOccurrences(of: "expect: 0", with: "expect: 1"))
        let state = try fixture.state(Self.id)
        let snapshot = try fixture.snapshot("s")
        let refusal = try #require(expectRefusal { try fixture.run(.verify, Self.id) })
        #expect(refusal.gates == ["plan-changed"], "\(refusal.text)")
        let message = refusal.failures.first?.message ?? ""
        #expect(message.contains("- checks[all_filled]: expect: 0"), "\(message)")
        #expect(message.contains("+ checks[all_filled]: expect: 1 (\(fixture.planPath(Self.id)):11:13)"), "\(message)")
        #expect(refusal.failures.first?.remedy?.contains("bellows rollback \(Self.id)") == true)
        #expect(try fixture.state(Self.id) == state)
        #expect(try fixture.snapshot("s") == snapshot)

        // A changed rename target, too; and the board says so.
        try fixture.writePlan(Self.id, Self.plan.replacingOccurrences(of: "rename_to: v2", with: "rename_to: v9"))
        let renamed = try #require(expectRefusal { try fixture.run(.verify, Self.id) })
        #expect(renamed.text.contains("+ changes[1] alter v: rename_to: v9"), "\(renamed.text)")
        #expect(try fixture.engine().status().first { $0.id == Self.id }?.blockers.map(\.gate) == ["plan-changed"])

        try fixture.writePlan(Self.id, Self.plan)
        try fixture.run(.verify, Self.id)
        #expect(try fixture.state(Self.id)?.phase == .verified)
    }

    /// A database whose state table predates the stored text is upgraded in place: its rows
    /// stay, a plan expanded before keeps the old rule (the file as expanded), a new expand stores its text.
    @Test func anOldStateTableIsUpgradedInPlace() throws {
        let fixture = try EngineFixture("stored")
        defer { fixture.close() }
        _ = try Self.setUp(fixture)
        try fixture.exec("""
            CREATE SCHEMA bellows;
            CREATE TABLE bellows.plans (
                id text PRIMARY KEY, checksum text NOT NULL, table_name text NOT NULL,
                phase text NOT NULL DEFAULT 'planned'
                      CHECK (phase IN ('planned', 'expanded', 'backfilled', 'verified', 'contracted', 'rolled_back')),
                expand_checksum text, expanding boolean NOT NULL DEFAULT false, touched_columns text[] NOT NULL DEFAULT '{}',
                backfill_cursor text[], backfill_rows bigint NOT NULL DEFAULT 0, backfill_done boolean NOT NULL DEFAULT false,
                verified_at timestamptz, table_info text, created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(), verified_trigger text, search_path text[], referenced_columns text[]);
            CREATE TABLE bellows.events (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, plan_id text NOT NULL, actor text NOT NULL, command text NOT NULL,
                from_phase text, to_phase text,
                outcome text NOT NULL CHECK (outcome IN ('succeeded', 'refused', 'failed', 'interrupted', 'approved')),
                details jsonb NOT NULL DEFAULT '{}', at timestamptz NOT NULL DEFAULT clock_timestamp());
            CREATE TABLE bellows.approvals (plan_id text NOT NULL, gate text NOT NULL, checksum text NOT NULL, actor text NOT NULL,
                at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (plan_id, gate, checksum));
            CREATE TABLE bellows.migrations (name text PRIMARY KEY, checksum text NOT NULL, applied_by text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(), duration_ms bigint NOT NULL, transactional boolean NOT NULL DEFAULT true,
                description text);
            CREATE TABLE bellows.migration_progress (name text NOT NULL, checksum text NOT NULL, statement_index integer NOT NULL,
                statement_line integer NOT NULL, duration_ms bigint NOT NULL, applied_by text NOT NULL,
                completed_at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (name, statement_index));
            INSERT INTO bellows.plans (id, checksum, table_name, phase) VALUES ('000_old', 'abc', 'other', 'contracted');
            INSERT INTO bellows.events (plan_id, actor, command, outcome) VALUES ('000_old', 'someone', 'contract', 'succeeded');
            """)
        try fixture.run(.expand, Self.id)
        #expect(try fixture.rows("SELECT id, phase, plan_text IS NULL FROM bellows.plans ORDER BY id")
                == [["000_old", "contracted", "t"], [Self.id, "expanded", "f"]])
        #expect(try fixture.int("SELECT count(*) FROM bellows.events WHERE plan_id = '000_old'") == 1)
        // A plan expanded before the upgrade (no stored text) keeps the old rule: the file as expanded.
        try fixture.exec("UPDATE bellows.plans SET plan_text = NULL, plan_path = NULL WHERE id = '\(Self.id)'")
        try fixture.writePlan(Self.id, Self.plan + "# comment\n")
        #expect(expectRefusal { try fixture.run(.rollback, Self.id) }?.gates == ["checksum"])
        try fixture.writePlan(Self.id, Self.plan)
        try fixture.run(.rollback, Self.id)
    }
}
