import BellowsSQL
import Testing
@testable import BellowsPlan

/// The versioned schemas' views (docs/versions.md), rendered without a database.
@Suite struct VersionSchemaTests {
    func table() -> TableInfo {
        TableInfo(schema: "app", name: "accounts", columns: [
            ColumnInfo(name: "id", type: "bigint", notNull: true),
            ColumnInfo(name: "n", type: "integer", notNull: false),
            ColumnInfo(name: "email", type: "text", notNull: false),
            ColumnInfo(name: "note", type: "text", notNull: false),
        ], primaryKey: ["id"])
    }

    func transition(_ changes: String, id: String = "007_versions") throws -> Transition {
        let plan = try #require(PlanLoader.load(file: "plans/\(id).yaml", source: "table: app.accounts\nversioned_schemas: true\nchanges:\n" + changes).plan)
        let compiled = TransitionCompiler.compile(plan, table: table())
        #expect(!compiled.findings.hasErrors, "\(compiled.findings)")
        return try #require(compiled.transition)
    }

    static let changes = """
          - alter: n
            type: bigint
            up: n::bigint
            down: n::integer
          - alter: email
            rename_to: email_address
          - add: score
            type: integer
          - drop: note
        """

    @Test func theOldVersionSeesTheTableAsItWasAndTheNewOneTheFinalShape() throws {
        let versions = VersionSchemas(try transition(Self.changes))
        #expect(versions.columns(.old).map(\.name) == ["id", "n", "email", "note"])
        #expect(versions.columns(.old).allSatisfy { $0.column == $0.name })
        let new = versions.columns(.new)
        // The shadow column of the same-name type change under its final name; the renamed
        // column under its new name; the added one; the dropped one and the old names hidden.
        #expect(Set(new.map(\.name)) == ["id", "n", "email_address", "score"], "\(new)")
        #expect(new.first { $0.name == "n" }?.column == TransitionNames.shadowColumn("n"))
        #expect(new.first { $0.name == "email_address" }?.column == "email_address")
        #expect(!new.contains { $0.column == "n" || $0.column == "email" || $0.column == "note" })
    }

    @Test func theViewsAreSimpleSecurityInvokerSelectsOfTheTable() throws {
        let versions = VersionSchemas(try transition(Self.changes))
        #expect(versions.schema(.old) == "_bellows_007_versions_old" && versions.schema(.new) == "_bellows_007_versions_new")
        #expect(versions.view(.old) == """
            CREATE VIEW "_bellows_007_versions_old"."accounts" WITH (security_invoker = true) AS
              SELECT "id", "n", "email", "note"
              FROM "app"."accounts"
            """)
        let new = versions.view(.new)
        #expect(new.hasPrefix("CREATE VIEW \"_bellows_007_versions_new\".\"accounts\" WITH (security_invoker = true) AS\n  SELECT "))
        #expect(new.contains("\"_bellows_n\" AS \"n\"") && new.hasSuffix("\n  FROM \"app\".\"accounts\""), "\(new)")
        #expect(versions.searchPath(.new) == "\"_bellows_007_versions_new\", \"app\"")
        let created = versions.create.map(\.sql)
        #expect(created.contains("CREATE SCHEMA \"_bellows_007_versions_old\"") && created.contains("CREATE SCHEMA \"_bellows_007_versions_new\""))
        #expect(created.contains("GRANT SELECT, INSERT, UPDATE, DELETE ON \"_bellows_007_versions_new\".\"accounts\" TO PUBLIC"))
        #expect(versions.create.allSatisfy { $0.mode == .transaction })
    }

    @Test func longPlanIDsGiveDistinctSchemasWithin63Bytes() {
        let id = String(repeating: "p", count: 70)
        let old = VersionSchemas.schema(planID: id, .old), new = VersionSchemas.schema(planID: id, .new)
        #expect(old.utf8.count <= 63 && new.utf8.count <= 63 && old != new && old.hasPrefix("_bellows_"))
        #expect(VersionSchemas.schema(planID: id + "x", .old) != old)
    }

    @Test func expandCreatesThemContractDropsTheOldOneBeforeTheColumnsRollbackBoth() throws {
        let t = try transition(Self.changes)
        let sql = PhaseSQL(t), versions = VersionSchemas(t)
        let expand = sql.expandTransaction.map(\.sql)
        let trigger = try #require(expand.firstIndex { $0.hasPrefix("CREATE TRIGGER") })
        let view = try #require(expand.firstIndex(of: versions.view(.new)))
        #expect(trigger < view)
        let contract = sql.contract.map(\.sql)
        let dropOld = try #require(contract.firstIndex(of: versions.drop(.old).sql))
        let dropColumns = try #require(contract.firstIndex { $0.contains("DROP COLUMN") })
        #expect(dropOld < dropColumns)
        #expect(!contract.contains(versions.drop(.new).sql), "the new version keeps its schema after contract")
        let rollback = sql.rollback.map(\.sql)
        let dropNew = try #require(rollback.firstIndex(of: versions.drop(.new).sql))
        let removeColumns = try #require(rollback.firstIndex { $0.contains("DROP COLUMN IF EXISTS") })
        #expect(dropNew < removeColumns && rollback.contains(versions.drop(.old).sql))
    }
}
