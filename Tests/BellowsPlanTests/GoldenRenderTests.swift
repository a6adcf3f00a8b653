import BellowsSQL
import Foundation
import Testing
@testable import BellowsPlan

/// Every phase of every example plan, rendered offline against the schema `migrations/` builds
/// (as `bellows render` does), compared with `Golden/<plan>.sql`.
///
/// After an intended change to the rendered SQL, regenerate the golden files and review the diff:
///
///     BELLOWS_UPDATE_GOLDEN=1 swift test --filter GoldenRenderTests
///
/// With the variable set the test writes the files instead of comparing (and passes).
@Suite struct GoldenRenderTests {
    static let updating = ProcessInfo.processInfo.environment["BELLOWS_UPDATE_GOLDEN"] == "1"

    /// The plan's SQL, phase by phase, like `bellows render` but without the file's checksum
    /// (so a comment edit in a plan does not churn its golden file). `shape` is how NOT NULL is
    /// added: `.check` on every version (the goldens in `Golden/`), `.notNull` on PostgreSQL 18+
    /// (`Golden/pg18/`, for the plans whose SQL differs there).
    static func render(_ planName: String, shape: NotNullShape = .check) throws -> String {
        let path = Repository.plansDirectory.appendingPathComponent(planName + ".yaml").path
        let loaded = PlanLoader.load(path: path)
        let plan = try #require(loaded.plan, "\(planName) does not load: \(loaded.findings)")
        let table = Repository.catalog.table(plan.table.value)
        if plan.moveColumns != nil { return try renderMove(plan, table: table) }
        let compiled = TransitionCompiler.compile(plan, table: table)
        var transition = try #require(compiled.transition, "\(planName) does not compile: \(compiled.findings)")
        transition.notNullShape = shape
        let sql = PhaseSQL(transition)
        var out = "-- plan \(plan.id) on \(transition.tableName), rendered offline from migrations/"
            + (shape == .check ? "\n" : " for PostgreSQL 18+ (NOT NULL: NOT VALID NOT NULL constraints)\n")
        out += transition.carried.map { "-- depends on a replaced column: \($0.line)\n" }.joined()
        for phase in PhaseCommand.allCases {
            out += "\n-- ===== \(phase.rawValue) =====\n"
            // Contract's archive of what it drops (ArchiveSQL): before its transaction, completed in it.
            let archive = ArchiveSQL(transition)
            if phase == .contract, !archive.isEmpty {
                for statement in archive.prepare { out += "-- \(statement.purpose) [archive]\n\(statement.sql);\n" }
                out += "-- each archive batch [archive]\n\(archive.keyset.bound(first: false));\n\(archive.batch(first: false));\n"
                for statement in archive.complete { out += "-- \(statement.purpose) [archive, in contract's transaction]\n\(statement.sql);\n" }
            }
            let statements = sql.statements(for: phase)
            if statements.isEmpty { out += "-- (nothing to do)\n" }
            for statement in statements {
                out += "-- \(statement.purpose) [\(statement.mode.rawValue)]\n\(statement.sql);\n"
            }
            if phase == .backfill, sql.needsBackfill {
                let first = sql.backfillBatch(first: true)
                out += "-- the first batch (no cursor yet) [transaction]\n\(first.bound);\n\(first.update);\n"
            }
        }
        return out
    }

    /// A `move_columns` plan (no NOT NULL shape: it adds none).
    static func renderMove(_ plan: Plan, table: TableInfo?) throws -> String {
        let compiled = MoveCompiler.compile(plan, table: table)
        let move = try #require(compiled.move, "\(plan.id) does not compile: \(compiled.findings)")
        let sql = MoveSQL(move)
        var out = "-- plan \(plan.id) on \(move.sourceName), rendered offline from migrations/\n"
        for phase in PhaseCommand.allCases {
            out += "\n-- ===== \(phase.rawValue) =====\n"
            for statement in sql.statements(for: phase) {
                out += "-- \(statement.purpose) [\(statement.mode.rawValue)]\n\(statement.sql);\n"
            }
        }
        return out
    }

    @Test func everyExamplePlanHasAGoldenFile() {
        let plans = Set(Repository.examplePlanNames)
        #expect(plans.count >= 6)
        if Self.updating { return }
        let goldens = Set(Repository.files(in: Repository.goldenDirectory, extension: "sql").map { $0.deletingPathExtension().lastPathComponent })
        #expect(goldens == plans, "golden files without a plan, or plans without a golden file")
    }

    /// The example plans whose SQL on PostgreSQL 18 differs from the default (they add NOT NULL).
    static let pg18Plans = ["001_rename_users_email", "003_profiles_created_by_not_null", "005_claim_status_check"]

    @Test func thePG18GoldensAreThePlansThatAddNotNull() throws {
        for name in Repository.examplePlanNames {
            let differs = try Self.render(name) != Self.render(name, shape: .notNull).replacingOccurrences(
                of: " for PostgreSQL 18+ (NOT NULL: NOT VALID NOT NULL constraints)", with: "")
            #expect(differs == Self.pg18Plans.contains(name), "\(name)")
        }
    }

    @Test(arguments: Repository.examplePlanNames.map { ($0, NotNullShape.check) } + pg18Plans.map { ($0, NotNullShape.notNull) })
    func renderMatchesGolden(_ planName: String, _ shape: NotNullShape) throws {
        let rendered = try Self.render(planName, shape: shape)
        let directory = shape == .check ? Repository.goldenDirectory : Repository.goldenDirectory.appendingPathComponent("pg18")
        let golden = directory.appendingPathComponent(planName + ".sql")
        if Self.updating {
            try rendered.write(to: golden, atomically: true, encoding: .utf8)
            return
        }
        let expected = try #require(try? String(contentsOf: golden, encoding: .utf8),
                                    "no golden file \(golden.path): run with BELLOWS_UPDATE_GOLDEN=1 to create it")
        if rendered != expected {
            let got = rendered.split(separator: "\n", omittingEmptySubsequences: false)
            let want = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let line = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, want.count)
            Issue.record("""
                \(planName): rendered SQL differs from \(golden.lastPathComponent) at line \(line + 1):
                  golden:   \(line < want.count ? String(want[line]) : "<end of file>")
                  rendered: \(line < got.count ? String(got[line]) : "<end of output>")
                (BELLOWS_UPDATE_GOLDEN=1 regenerates the golden files after an intended change)
                """)
        }
    }

    @Test(arguments: Repository.examplePlanNames)
    func renderingIsDeterministic(_ planName: String) throws {
        let first = try Self.render(planName)
        let second = try Self.render(planName)
        #expect(first == second)
        // A catalog built again from the same migrations renders the same SQL too.
        let path = Repository.plansDirectory.appendingPathComponent(planName + ".yaml").path
        let plan = try #require(PlanLoader.load(path: path).plan)
        let catalog = MigrationSchema.catalog(fromMigrations: Repository.migrationFiles.map(Repository.text))
        if plan.moveColumns != nil {
            #expect(try Self.renderMove(plan, table: catalog.table(plan.table.value)) == first)
            return
        }
        let again = try #require(TransitionCompiler.compile(plan, table: catalog.table(plan.table.value)).transition)
        let reference = try #require(TransitionCompiler.compile(plan, table: Repository.catalog.table(plan.table.value)).transition)
        for phase in PhaseCommand.allCases {
            #expect(PhaseSQL(again).statements(for: phase) == PhaseSQL(reference).statements(for: phase))
        }
    }

    @Test func examplePlansCheckCleanAgainstTheMigrations() {
        let files = Repository.examplePlans.map { (name: $0.lastPathComponent, source: Repository.text($0)) }
        let findings = check(files)
        #expect(!findings.hasErrors, "\(findings.filter { $0.severity == .error })")
    }
}
