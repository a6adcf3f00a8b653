import BellowsSQL
import Foundation
import Testing
@testable import BellowsPlan

/// `strategy: views` (issue 23), without a database: what loads, what is refused where, and
/// the SQL of each phase.
@Suite struct ViewsStrategyTests {
    func table() -> TableInfo {
        TableInfo(schema: "app", name: "accounts", columns: [
            ColumnInfo(name: "id", type: "bigint", notNull: true),
            ColumnInfo(name: "email", type: "text", notNull: true, defaultExpression: "''::text"),
            ColumnInfo(name: "note", type: "text", notNull: true),
        ], primaryKey: ["id"], indexes: [
            IndexInfo(name: "accounts_pkey", columns: ["id"], isUnique: true, isPrimary: true, isConstraint: true, isPlain: true),
            IndexInfo(name: "accounts_email_idx", columns: ["email"], isUnique: false, isPrimary: false, isConstraint: false, isPlain: true),
        ], constraints: [
            ConstraintInfo(kind: "p", name: "accounts_pkey", columns: ["id"], definition: "PRIMARY KEY (id)"),
            ConstraintInfo(kind: "c", name: "accounts_email_check", columns: ["email"], definition: "CHECK ((email <> ''::text))"),
        ])
    }

    func load(_ top: String, _ changes: String) -> PlanLoadResult {
        PlanLoader.load(file: "plans/004_views.yaml", source: "table: app.accounts\n" + top + "changes:\n" + changes)
    }

    func transition(_ changes: String) throws -> Transition {
        let result = load("strategy: views\n", changes)
        #expect(!result.findings.hasErrors, "\(result.findings)")
        let plan = try #require(result.plan)
        let compiled = TransitionCompiler.compile(plan, table: table())
        #expect(!compiled.findings.hasErrors, "\(compiled.findings)")
        return try #require(compiled.transition)
    }

    static let rename = """
          - alter: email
            rename_to: email_address
          - alter: note
            not_null: false
            drop_default: true
            comment: free text
        """

    @Test func theStrategyIsCopyUnlessThePlanSaysViewsWhichTurnsOnTheVersionedSchemas() throws {
        let copy = try #require(load("", Self.rename).plan)
        #expect(copy.strategy == .copy && !copy.versionedSchemas)
        let views = try #require(load("strategy: views\n", Self.rename).plan)
        #expect(views.strategy == .views && views.versionedSchemas)
        let wrong = load("strategy: view\n", Self.rename)
        #expect(wrong.plan == nil && wrong.findings.contains { $0.rule == "plan-invalid-value" && $0.message.contains("did you mean 'views'") })
    }

    @Test func viewsWithVersionedSchemasOffIsALocatedError() {
        let result = load("strategy: views\nversioned_schemas: false\n", Self.rename)
        let finding = result.findings.first { $0.rule == ViewsStrategy.rule }
        #expect(result.plan == nil)
        #expect(finding?.line == 3 && finding?.message.contains("versioned_schemas: false") == true, "\(result.findings)")
    }

    @Test func aChangeThatNeedsACopyIsRefusedWhereItIsWritten() {
        let result = load("strategy: views\n", """
              - alter: email
                rename_to: email_address
                type: varchar(200)
                up: email::varchar(200)
                down: email_address::text
              - alter: note
                not_null: true
              - add: score
                type: integer
              - add_check: "score > 0"
            """)
        #expect(result.plan == nil)
        let refusals = result.findings.filter { $0.rule == ViewsStrategy.rule }
        #expect(refusals.contains { $0.line == 6 && $0.message.contains("change 1 (alter email): a type change") }, "\(refusals)")
        #expect(refusals.contains { $0.line == 7 && $0.message.contains("'up'") })
        #expect(refusals.contains { $0.line == 10 && $0.message.contains("adding NOT NULL") })
        #expect(refusals.contains { $0.line == 11 && $0.message.contains("change 3 (add score) adds a column") })
        #expect(refusals.contains { $0.message.hasPrefix("add_check changes the table's constraints") })
        #expect(refusals.allSatisfy { $0.message.contains("strategy: copy") })
    }

    @Test func aSwapOfNamesIsRefused() {
        let result = load("strategy: views\n", """
              - alter: email
                rename_to: note
              - alter: note
                rename_to: email
            """)
        #expect(result.findings.contains { $0.rule == ViewsStrategy.rule && $0.message.contains("cannot swap names") })
    }

    @Test func expandMakesOnlyTheSchemasBackfillAndVerifyNothingContractRenamesInPlace() throws {
        let t = try transition(Self.rename)
        let sql = PhaseSQL(t), versions = VersionSchemas(t)
        #expect(t.newTargets.isEmpty && !t.needsTrigger && !sql.needsBackfill && sql.verifyScan == nil && sql.addedIndexes.isEmpty)
        #expect(t.renamedInPlace.map { "\($0.old)->\($0.new)" } == ["email->email_address"])
        #expect(sql.expandTransaction.map(\.sql) == versions.create.map(\.sql), "expand: the schemas and nothing else")
        #expect(sql.expand.map(\.sql) == versions.create.map(\.sql))
        #expect(versions.view(.old).contains("SELECT \"id\", \"email\", \"note\"\n"))
        #expect(versions.view(.new).contains("SELECT \"id\", \"email\" AS \"email_address\", \"note\"\n"), "\(versions.view(.new))")
        #expect(sql.statements(for: .backfill).isEmpty && sql.statements(for: .verify).isEmpty)
        let contract = sql.contract.map(\.sql)
        #expect(contract == [
            versions.drop(.old).sql,
            "ALTER TABLE \"app\".\"accounts\" RENAME COLUMN \"email\" TO \"email_address\"",
            "ALTER TABLE \"app\".\"accounts\"\n  ALTER COLUMN \"note\" DROP NOT NULL,\n  ALTER COLUMN \"note\" DROP DEFAULT",
            "COMMENT ON COLUMN \"app\".\"accounts\".\"note\" IS 'free text'",
        ], "\(contract)")
        #expect(sql.rollback.map(\.sql).filter { $0.contains("ALTER TABLE") || $0.contains("COLUMN") }.isEmpty)
        #expect(sql.rollback.map(\.sql).contains(versions.drop(.new).sql))
    }

    @Test func theTableAfterContractHasTheNewNameEverywhereTheOldOneWas() throws {
        let after = try transition(Self.rename).tableAfterContract
        #expect(after.columns.map(\.name) == ["id", "email_address", "note"])
        #expect(after.columns[1].type == "text" && after.columns[1].notNull && after.columns[1].defaultExpression == "''::text")
        #expect(after.indexes.first { $0.name == "accounts_email_idx" }?.columns == ["email_address"])
        let check = try #require(after.constraints.first { $0.name == "accounts_email_check" })
        #expect(check.columns == ["email_address"] && check.definition.contains("email_address"), "\(check)")
        #expect(after.columns[2].notNull == false && after.columns[2].defaultExpression == nil)
    }

    @Test func aProjectOnViewsWarnsAboutARenamePlanThatSaysNoStrategy() throws {
        let project = Located(PlanStrategy.views, at: SourceLocation(file: "/p/bellows.yaml", line: 3, column: 11))
        let silent = try #require(load("", Self.rename).plan)
        let warning = try #require(ViewsStrategy.projectFindings(silent, project: project).first)
        #expect(warning.rule == ViewsStrategy.projectRule && warning.severity == .warning && warning.line == 3)
        #expect(warning.message.hasPrefix("bellows.yaml:3 says strategy: views") && warning.message.contains("write 'strategy: views'"))
        // Not when the plan says its strategy, the project copies, or a change needs a copy.
        #expect(ViewsStrategy.projectFindings(try #require(load("strategy: copy\n", Self.rename).plan), project: project).isEmpty)
        #expect(ViewsStrategy.projectFindings(silent, project: Located(.copy, at: project.location)).isEmpty)
        #expect(ViewsStrategy.projectFindings(silent, project: nil).isEmpty)
        let retype = try #require(load("", "  - alter: email\n    rename_to: mail\n    type: varchar(9)\n    up: email::varchar(9)\n    down: mail::text\n").plan)
        #expect(ViewsStrategy.projectFindings(retype, project: project).isEmpty)
    }

    @Test func bellowsYamlReadsTheStrategy() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-strategy-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "lint:\n  disable: []\nstrategy: views\n".write(toFile: path, atomically: true, encoding: .utf8)
        let (configuration, findings) = ProjectConfig.load(path: path)
        #expect(findings.isEmpty && configuration.strategy?.value == .views && configuration.strategy?.location.line == 3)
        try "strategy: view\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(ProjectConfig.load(path: path).1.contains { $0.message.contains("did you mean 'views'") })
    }
}
