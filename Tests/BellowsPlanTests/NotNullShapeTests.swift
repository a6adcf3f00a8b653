import BellowsSQL
import Testing
@testable import BellowsPlan

/// NOT NULL through a validated CHECK (every version) or PostgreSQL 18's NOT VALID NOT NULL
/// constraint: which one a server gets, and the SQL of each phase in each shape.
@Suite struct NotNullShapeTests {
    @Test func theServersVersionPicksTheShape() {
        #expect(NotNullShape.preferred(serverVersion: 140_000) == .check)
        #expect(NotNullShape.preferred(serverVersion: 150_018) == .check)
        #expect(NotNullShape.preferred(serverVersion: 170_009) == .check)
        #expect(NotNullShape.preferred(serverVersion: 180_000) == .notNull)
        #expect(NotNullShape.preferred(serverVersion: 190_001) == .notNull)
        // A plan expanded before the shape was kept used a CHECK.
        #expect(NotNullShape(recorded: nil) == .check)
        #expect(NotNullShape(recorded: "check") == .check)
        #expect(NotNullShape(recorded: "not_null") == .notNull)
    }

    /// PostgreSQL's `makeObjectName`: the longer name is shortened first, never inside a character.
    @Test func notNullConstraintNamesAreThoseThePostgreSQLGives() {
        #expect(TransitionNames.notNullConstraint(table: "profiles", column: "created_by") == "profiles_created_by_not_null")
        let table = String(repeating: "t", count: 60), column = String(repeating: "c", count: 20)
        let long = TransitionNames.notNullConstraint(table: table, column: column)
        #expect(long == String(repeating: "t", count: 33) + "_" + String(repeating: "c", count: 20) + "_not_null")
        #expect(long.utf8.count == 63)
        let both = TransitionNames.notNullConstraint(table: String(repeating: "t", count: 40), column: String(repeating: "c", count: 40))
        #expect(both == String(repeating: "t", count: 27) + "_" + String(repeating: "c", count: 26) + "_not_null")
        let accented = TransitionNames.notNullConstraint(table: String(repeating: "é", count: 30), column: "c")
        #expect(accented == String(repeating: "é", count: 26) + "_c_not_null", "52 of the 53 bytes left: a character is not split")
    }

    func transition(_ shape: NotNullShape) throws -> Transition {
        let table = TableInfo(schema: "public", name: "accounts", columns: [
            ColumnInfo(name: "id", type: "bigint", notNull: true),
            ColumnInfo(name: "score", type: "integer", notNull: true),
            ColumnInfo(name: "nick", type: "text", notNull: false),
        ], primaryKey: ["id"])
        let plan = try #require(PlanLoader.load(file: "plans/010_nn.yaml", source: """
            table: accounts
            changes:
              - alter: score
                type: bigint
                up: "score::bigint"
                down: "score::int"
              - alter: nick
                not_null: true
                up: "coalesce(nick, '')"
            """).plan)
        var transition = try #require(TransitionCompiler.compile(plan, table: table).transition)
        transition.notNullShape = shape
        return transition
    }

    @Test func postgreSQL18AddsANotValidNotNullConstraintAndContractOnlyRenamesIt() throws {
        let sql = PhaseSQL(try transition(.notNull))
        let expand = sql.expand.map(\.sql).joined(separator: "\n")
        #expect(expand.contains(#"ADD CONSTRAINT "_bellows_accounts_score_not_null" NOT NULL "_bellows_score" NOT VALID"#), "\(expand)")
        #expect(expand.contains(#"ADD CONSTRAINT "_bellows_accounts_nick_not_null" NOT NULL "nick" NOT VALID"#), "\(expand)")
        // No CHECK (… IS NOT NULL) among the table's changes (the trigger's code may test NULLs).
        #expect(!sql.expand.filter { $0.sql.hasPrefix("ALTER TABLE") }.contains { $0.sql.contains("IS NOT NULL") })
        #expect(sql.verifyValidations.map(\.sql) == [
            #"ALTER TABLE "public"."accounts" VALIDATE CONSTRAINT "_bellows_accounts_score_not_null""#,
            #"ALTER TABLE "public"."accounts" VALIDATE CONSTRAINT "_bellows_accounts_nick_not_null""#,
        ])
        let contract = sql.contract.map(\.sql)
        #expect(!contract.contains { $0.contains("SET NOT NULL") || $0.contains("DROP CONSTRAINT") }, "\(contract)")
        let renames = contract.filter { $0.contains("RENAME CONSTRAINT") }
        #expect(renames == [
            #"ALTER TABLE "public"."accounts" RENAME CONSTRAINT "_bellows_accounts_score_not_null" TO "accounts_score_not_null""#,
            #"ALTER TABLE "public"."accounts" RENAME CONSTRAINT "_bellows_accounts_nick_not_null" TO "accounts_nick_not_null""#,
        ])
        // After the old score (and its own NOT NULL constraint, of that very name) is dropped.
        let dropOld = try #require(contract.firstIndex { $0.contains(#"DROP COLUMN "score""#) })
        #expect(contract.firstIndex(of: renames[0])! > dropOld)
        #expect(sql.finalNames.contains { $0.name == "accounts_score_not_null" && !$0.relation })
        #expect(sql.rollback.map(\.sql).joined().contains(#"DROP CONSTRAINT IF EXISTS "_bellows_accounts_score_not_null""#))
    }

    @Test func everyOtherVersionGoesThroughAValidatedCheck() throws {
        let sql = PhaseSQL(try transition(.check))
        let expand = sql.expand.map(\.sql).joined(separator: "\n")
        #expect(expand.contains(#"ADD CONSTRAINT "_bellows_accounts_score_not_null" CHECK ("_bellows_score" IS NOT NULL) NOT VALID"#), "\(expand)")
        let contract = sql.contract.map(\.sql)
        #expect(contract.contains { $0.contains(#"ALTER COLUMN "score" SET NOT NULL"#) && !$0.contains("DROP CONSTRAINT") }, "\(contract)")
        #expect(contract.contains { $0.contains(#"DROP CONSTRAINT "_bellows_accounts_score_not_null""#) })
        #expect(!contract.contains { $0.contains("RENAME CONSTRAINT") })
        #expect(!sql.finalNames.contains { $0.name.hasSuffix("_not_null") })
        // Verify and rollback are the same statements in both shapes.
        let native = PhaseSQL(try transition(.notNull))
        #expect(sql.verifyValidations == native.verifyValidations)
        #expect(sql.rollback == native.rollback)
    }
}
