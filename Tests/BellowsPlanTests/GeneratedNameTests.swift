import BellowsSQL
import Testing
@testable import BellowsPlan

/// Every identifier Bellows generates is unique within PostgreSQL's 63 bytes.
@Suite struct GeneratedNameTests {
    static let prefix = String(repeating: "p", count: 58) // two 62-byte names sharing 58 bytes
    let first = prefix + "_one"
    let second = prefix + "_two"

    func table(_ extra: [ColumnInfo] = []) -> TableInfo {
        TableInfo(schema: "public", name: "t", columns: [
            ColumnInfo(name: "id", type: "bigint", notNull: true),
            ColumnInfo(name: first, type: "integer", notNull: false),
            ColumnInfo(name: second, type: "integer", notNull: false),
        ] + extra, primaryKey: ["id"])
    }

    func plan(_ changes: String) throws -> Plan {
        try #require(PlanLoader.load(file: "plans/010_long.yaml", source: "table: t\nchanges:\n" + changes).plan)
    }

    @Test func fittedNamesKeepAPrefixAndAHash() {
        let long = String(repeating: "x", count: 80)
        let fitted = TransitionNames.fitted(long)
        #expect(fitted.utf8.count == 63)
        #expect(fitted.hasPrefix(String(repeating: "x", count: 54) + "_"))
        #expect(fitted == TransitionNames.fitted(long), "stable")
        #expect(TransitionNames.fitted(long + "y") != fitted)
        #expect(TransitionNames.fitted("short") == "short")
        // A multi-byte character is never split.
        let accented = String(repeating: "é", count: 40)
        #expect(TransitionNames.fitted(accented).utf8.count <= 63)
        #expect(TransitionNames.fitted(accented).hasSuffix("_" + SHA256.hex(accented).prefix(8)))
    }

    @Test func twoLongColumnsRetypedInOnePlanGetTwoShadowColumns() throws {
        let plan = try plan("""
              - alter: \(first)
                type: bigint
                up: \(first)::bigint
                down: \(first)::integer
                unique: true
                check: \(first) > 0
              - alter: \(second)
                type: bigint
                up: \(second)::bigint
                down: \(second)::integer
                unique: true
                check: \(second) > 0
            """)
        let compiled = TransitionCompiler.compile(plan, table: table())
        #expect(!compiled.findings.hasErrors, "\(compiled.findings)")
        let transition = try #require(compiled.transition)
        let physical = transition.newTargets.map(\.physical)
        #expect(Set(physical).count == 2, "\(physical)")
        #expect(physical.allSatisfy { $0.utf8.count <= 63 && $0.hasPrefix("_bellows_") })
        let sql = PhaseSQL(transition)
        let constraints = sql.addedConstraints, indexes = sql.addedIndexes.map(\.name)
        #expect(Set(constraints).count == constraints.count && Set(indexes).count == indexes.count, "\(constraints) \(indexes)")
        #expect((constraints + indexes).allSatisfy { $0.utf8.count <= 63 })
        // The down of each change is rewritten onto its own shadow column.
        #expect(transition.groups.map { $0.downs.first?.expression ?? "" } == physical.map { "\(SQLQuote.identifier($0))::integer" })
    }

    @Test func aShadowColumnTheTableAlreadyHasIsRefusedAtTheChange() throws {
        let plan = try plan("""
              - alter: \(first)
                type: bigint
                up: \(first)::bigint
                down: \(first)::integer
            """)
        let taken = TransitionNames.shadowColumn(first)
        let compiled = TransitionCompiler.compile(plan, table: table([ColumnInfo(name: taken, type: "bigint", notNull: false)]))
        #expect(compiled.transition == nil)
        let errors = compiled.findings.filter { $0.severity == .error }
        #expect(errors.map(\.rule) == ["plan-name-collision"])
        #expect(errors.first?.line == 3 && errors.first?.message.contains(taken) == true, "\(errors)")
    }

    @Test func aTransitionalConstraintNameTheTableHasIsRefused() throws {
        let plan = try plan("""
              - alter: \(first)
                check: \(first) > 0
            """)
        let clean = try #require(TransitionCompiler.compile(plan, table: table()).transition)
        let name = try #require(PhaseSQL(clean).addedConstraints.first)
        #expect(name.utf8.count <= 63)
        var existing = table()
        existing.constraints.append(ConstraintInfo(kind: "c", name: name, columns: [first], definition: "CHECK (true)"))
        let compiled = TransitionCompiler.compile(plan, table: existing)
        #expect(compiled.findings.filter { $0.severity == .error }.map(\.rule) == ["plan-name-collision"], "\(compiled.findings)")
    }

    /// A column's name is replaced in a carried index or constraint name only where it is a
    /// whole `_`-delimited token (hostile finding 21: `ix_s_desc` became `ix_s2_des2c`).
    @Test func aColumnIsRenamedOnlyAsAWholeToken() {
        func renamed(_ name: String, _ renames: [String: String]) -> String { TransitionNames.renamingColumns(in: name, renames) }
        #expect(renamed("ix_s_desc", ["s": "s2"]) == "ix_s2_desc")
        #expect(renamed("s_idx", ["s": "s2"]) == "s2_idx")
        #expect(renamed("ix_s", ["s": "s2"]) == "ix_s2")
        #expect(renamed("s", ["s": "s2"]) == "s2")
        #expect(renamed("ix_ss_s_s", ["s": "t"]) == "ix_ss_t_t")
        #expect(renamed("users_email_key", ["email": "email_address"]) == "users_email_address_key")
        #expect(renamed("users_emails_idx", ["email": "address"]) == "users_emails_idx")
        #expect(renamed("users_by_email_", ["email": "address"]) == "users_by_address_")
        // A column whose name holds `_`, beside one that is its first token: the longer wins.
        #expect(renamed("t_first_name_idx", ["first": "given", "first_name": "forename"]) == "t_forename_idx")
        #expect(renamed("t_first_last_idx", ["first": "given", "first_name": "forename"]) == "t_given_last_idx")
        // Every rename applies at once: a swap swaps.
        #expect(renamed("sw_first_last_key", ["first": "last", "last": "first"]) == "sw_last_first_key")
        #expect(renamed("ix_desc", ["s": "s2"]) == "ix_desc")
        #expect(renamed("", ["s": "s2"]) == "")
    }

    /// A plain index rebuilt on a renamed column keeps its name with only the column's token replaced,
    /// and a name without the token as it is (hostile-d 04: `by_text` became PostgreSQL's `ix_s2_idx`).
    @Test func aRebuiltIndexNameReplacesOnlyTheColumnsToken() throws {
        let plan = try #require(PlanLoader.load(file: "plans/011_s.yaml", source: """
            table: ix
            changes:
              - alter: s
                rename_to: s2
            """).plan)
        let table = TableInfo(schema: "public", name: "ix", columns: [
            ColumnInfo(name: "id", type: "bigint", notNull: true),
            ColumnInfo(name: "s", type: "text", notNull: true),
        ], primaryKey: ["id"], indexes: [
            IndexInfo(name: "ix_s_sorted", columns: ["s"], isUnique: false, isPrimary: false, isConstraint: false, isPlain: true),
            IndexInfo(name: "by_text", columns: ["s"], isUnique: false, isPrimary: false, isConstraint: false, isPlain: true),
        ])
        let transition = try #require(TransitionCompiler.compile(plan, table: table).transition)
        let target = try #require(transition.newTargets.first)
        let sql = PhaseSQL(transition)
        #expect(target.rebuiltIndexes.map { sql.rebuiltIndexName(target, $0).final } == ["ix_s2_sorted", "by_text"])
    }
}
