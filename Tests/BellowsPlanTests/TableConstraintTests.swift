import BellowsSQL
import Testing
@testable import BellowsPlan

/// Table-level constraints in plans (issue 17, "constructs the language lacks"): multi-column
/// UNIQUE, FOREIGN KEY and CHECK added, constraints dropped by name, and the names a plan
/// gives them; loaded, validated with located errors and rendered without a database.
@Suite struct TableConstraintTests {
    static func transition(_ source: String, name: String = "010_test_plan.yaml") -> Transition? {
        guard let plan = PlanLoader.load(file: "plans/\(name)", source: source).plan,
              let table = Repository.catalog.table(plan.table.value) else { return nil }
        return TransitionCompiler.compile(plan, table: table).transition
    }

    static func sql(_ transition: Transition?, _ phase: PhaseCommand) -> [String] {
        transition.map { PhaseSQL($0).statements(for: phase).map(\.sql) } ?? []
    }

    static let plan = """
        table: skill_claims
        changes:
          - add_unique: [verifier_id, skill_id, user_id]
          - add_foreign_key: [verifier_id, user_id]
            references: { table: verifiers, columns: [id, user_id] }
            name: skill_claims_verifier_user_fkey
          - add_check: "decided_at IS NULL OR decided_at >= created_at"
            name: skill_claims_decided_after_created
          - drop_constraint: skill_claims_level_check
          - drop_constraint: skill_claims_created_at_not_null
        """

    @Test func aPlanOfTableConstraintsChecksClean() {
        let findings = check(Self.plan)
        #expect(findings.filter { $0.severity == .error }.isEmpty, "\(findings.map(\.description))")
    }

    @Test func eachPhaseDoesItsPart() throws {
        let t = try #require(Self.transition(Self.plan))
        let expand = Self.sql(t, .expand).joined(separator: "\n")
        #expect(expand.contains("""
            ADD CONSTRAINT "_bellows_skill_claims_verifier_user_fkey" FOREIGN KEY ("verifier_id", "user_id") REFERENCES "verifiers" ("id", "user_id") NOT VALID
            """))
        #expect(expand.contains("""
            ADD CONSTRAINT "_bellows_skill_claims_decided_after_created" CHECK (decided_at IS NULL OR decided_at >= created_at) NOT VALID
            """))
        #expect(expand.contains("""
            CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "_bellows_skill_claims_verifier_id_skill_id_user_id_key" ON "public"."skill_claims" ("verifier_id", "skill_id", "user_id")
            """))
        // Nothing about the drops before contract, and no trigger for constraints alone.
        #expect(!expand.contains("level_check") && !expand.contains("DROP") && !expand.contains("TRIGGER"))
        #expect(Self.sql(t, .backfill).isEmpty)
        #expect(Self.sql(t, .verify) == [
            #"ALTER TABLE "public"."skill_claims" VALIDATE CONSTRAINT "_bellows_skill_claims_verifier_user_fkey""#,
            #"ALTER TABLE "public"."skill_claims" VALIDATE CONSTRAINT "_bellows_skill_claims_decided_after_created""#,
        ])
        let contract = Self.sql(t, .contract).joined(separator: "\n")
        #expect(contract.contains("DROP CONSTRAINT \"skill_claims_level_check\",\n  ALTER COLUMN \"created_at\" DROP NOT NULL"))
        #expect(contract.contains(#"ADD CONSTRAINT "skill_claims_verifier_id_skill_id_user_id_key" UNIQUE USING INDEX "_bellows_skill_claims_verifier_id_skill_id_user_id_key""#))
        #expect(contract.contains(#"RENAME CONSTRAINT "_bellows_skill_claims_verifier_user_fkey" TO "skill_claims_verifier_user_fkey""#))
        #expect(contract.contains(#"RENAME CONSTRAINT "_bellows_skill_claims_decided_after_created" TO "skill_claims_decided_after_created""#))
        let rollback = Self.sql(t, .rollback).joined(separator: "\n")
        #expect(rollback.contains(#"DROP INDEX CONCURRENTLY IF EXISTS "public"."_bellows_skill_claims_verifier_id_skill_id_user_id_key""#))
        #expect(rollback.contains(#"DROP CONSTRAINT IF EXISTS "_bellows_skill_claims_verifier_user_fkey""#))
        #expect(rollback.contains(#"DROP CONSTRAINT IF EXISTS "_bellows_skill_claims_decided_after_created""#))
        #expect(!rollback.contains("level_check") && !rollback.contains("NOT NULL"))
        // The table a later plan starts from.
        let after = t.tableAfterContract
        #expect(!after.constraints.contains { $0.name == "skill_claims_level_check" })
        #expect(after.column("created_at")?.notNull == false)
        #expect(after.constraints.contains { $0.name == "skill_claims_verifier_id_skill_id_user_id_key" && $0.kind == "u" })
        #expect(after.indexes.contains { $0.name == "skill_claims_verifier_id_skill_id_user_id_key" && $0.columns == ["verifier_id", "skill_id", "user_id"] })
    }

    @Test func aCascadingForeignKeyTakesItsActionAtContract() throws {
        let t = try #require(Self.transition("""
            table: skill_claims
            changes:
              - add_foreign_key: [verifier_id, user_id]
                references: { table: verifiers, columns: [id, user_id], on_delete: cascade }
            """))
        let expand = Self.sql(t, .expand).joined(separator: "\n")
        #expect(expand.contains(#"FOREIGN KEY ("verifier_id", "user_id") REFERENCES "verifiers" ("id", "user_id") NOT VALID"#))
        #expect(!expand.contains("CASCADE"))
        let contract = Self.sql(t, .contract)
        #expect(contract.contains { $0.contains(#"ADD CONSTRAINT "skill_claims_verifier_id_user_id_fkey" FOREIGN KEY ("verifier_id", "user_id") REFERENCES "verifiers" ("id", "user_id") ON DELETE CASCADE NOT VALID"#) })
        #expect(contract.last == #"ALTER TABLE "public"."skill_claims" VALIDATE CONSTRAINT "skill_claims_verifier_id_user_id_fkey""#)
    }

    /// A constraint over a column another change of the plan rebuilds is built on the new
    /// column (under its transition name while the old one exists) and named after the final one.
    @Test func aConstraintOverARebuiltColumnFollowsTheNewColumn() throws {
        let t = try #require(Self.transition("""
            table: skill_claims
            changes:
              - alter: evidence_url
                rename_to: evidence
              - alter: level
                type: integer
                up: "level::integer"
                down: "level::smallint"
              - add_check: "evidence IS NULL OR level > 1"
              - add_unique: [user_id, evidence, level]
            """))
        let expand = Self.sql(t, .expand).joined(separator: "\n")
        #expect(expand.contains(#"ADD CONSTRAINT "_bellows_skill_claims_level_evidence_check" CHECK (evidence IS NULL OR "_bellows_level" > 1) NOT VALID"#), "\(expand)")
        #expect(expand.contains(#"ON "public"."skill_claims" ("user_id", "evidence", "_bellows_level")"#), "\(expand)")
        #expect(t.constraints.map(\.final) == ["skill_claims_level_evidence_check", "skill_claims_user_id_evidence_level_key"])
        let after = t.tableAfterContract
        #expect(after.constraints.first { $0.name == "skill_claims_level_evidence_check" }?.definition == "CHECK (evidence IS NULL OR \"level\" > 1)")
    }

    /// Every error is located at what is wrong.
    @Test(arguments: [
        ("unknown column", "  - add_unique: [user_id, skil_id]\n", "plan-unknown-column", "3:27", ["skil_id", "did you mean \"skill_id\""]),
        ("column the plan renames away", "  - alter: evidence_url\n    rename_to: evidence\n  - add_unique: [evidence_url]\n", "plan-unknown-column", "5:18", ["replaces or drops"]),
        ("column listed twice", "  - add_unique: [user_id, user_id]\n", "plan-invalid-value", "3:27", ["twice"]),
        ("empty list", "  - add_unique: []\n", "plan-invalid-value", "3:17", ["at least one column"]),
        ("name too long", "  - add_check: \"level > 0\"\n    name: \(String(repeating: "n", count: 64))\n", "plan-identifier-too-long", "4:11", ["64 bytes"]),
        ("reserved name", "  - add_check: \"level > 0\"\n    name: _bellows_x\n", "plan-reserved-name", "4:11", ["reserved"]),
        ("name taken", "  - add_unique: [user_id, level]\n    name: skill_claims_skill_id_idx\n", "plan-name-collision", "4:11", ["already a constraint or index"]),
        ("name given twice", "  - add_check: \"level > 0\"\n    name: c\n  - add_check: \"level < 9\"\n    name: c\n", "plan-name-collision", "6:11", ["two constraints"]),
        ("foreign key pairs", "  - add_foreign_key: [verifier_id, user_id]\n    references: { table: verifiers, columns: [id] }\n", "plan-invalid-value", "4:46", ["pair up"]),
        ("foreign key without references", "  - add_foreign_key: [verifier_id]\n", "plan-missing-key", "3:5", ["references"]),
        ("unknown key", "  - add_check: \"level > 0\"\n    nmae: x\n", "plan-unknown-key", "4:5", ["did you mean 'name'"]),
        ("drop an unknown constraint", "  - drop_constraint: skill_claims_levl_check\n", "plan-unknown-constraint", "3:22", ["did you mean \"skill_claims_level_check\""]),
        ("drop the primary key", "  - drop_constraint: skill_claims_pkey\n", "plan-changes-key", "3:22", ["primary key"]),
        ("drop a NOT NULL of the key", "  - drop_constraint: skill_claims_id_not_null\n", "plan-changes-key", "3:22", ["primary key"]),
        ("drop a constraint twice", "  - drop_constraint: skill_claims_level_check\n  - drop_constraint: skill_claims_level_check\n", "plan-duplicate-name", "4:22", ["twice"]),
        ("drop over a replaced column", "  - alter: level\n    type: integer\n    up: \"level::integer\"\n    down: \"level::smallint\"\n  - drop_constraint: skill_claims_level_check\n", "plan-column-conflict", "7:22", ["carry:"]),
    ] as [(String, String, String, String, [String])])
    func locatedErrors(name: String, changes: String, rule: String, at: String, words: [String]) {
        let findings = check("table: skill_claims\nchanges:\n" + changes).filter { $0.severity == .error }
        #expect(summary(findings) == ["\(at) \(rule)"], "\(name): \(findings.map(\.description))")
        for word in words { #expect(findings.first?.message.contains(word) == true, "\(name): \(findings.first?.message ?? "")") }
    }

    /// A constraint dropped and added again under the same name in one plan (a CHECK whose
    /// condition changes): the new one is built beside the old under its transition name, the
    /// old dropped at contract before the new one takes the name.
    @Test func aConstraintCanBeReplacedUnderItsName() throws {
        let source = """
            table: skill_claims
            changes:
              - drop_constraint: skill_claims_level_check
              - add_check: "level BETWEEN 1 AND 10"
                name: skill_claims_level_check
            """
        #expect(check(source).filter { $0.severity == .error }.isEmpty, "\(check(source).map(\.description))")
        let t = try #require(Self.transition(source))
        let contract = Self.sql(t, .contract)
        let drop = try #require(contract.firstIndex { $0.contains(#"DROP CONSTRAINT "skill_claims_level_check""#) })
        let rename = try #require(contract.firstIndex { $0.contains(#"RENAME CONSTRAINT "_bellows_skill_claims_level_check" TO "skill_claims_level_check""#) })
        #expect(drop < rename)
        #expect(!PhaseSQL(t).finalNames.contains { $0.name == "skill_claims_level_check" })
    }

    /// An edit of a constraint change after expand is another transition (`bellows diff`).
    @Test func anEditedConstraintIsAnotherTransition() throws {
        let old = PlanRevision.facts(try #require(PlanLoader.load(file: "plans/010_x.yaml", source: Self.plan).plan))
        let edited = Self.plan.replacingOccurrences(of: "decided_at >= created_at", with: "decided_at > created_at")
        let new = PlanRevision.facts(try #require(PlanLoader.load(file: "plans/010_x.yaml", source: edited).plan))
        #expect(PlanRevision.diff(old, new).map(\.key) == ["constraints[3] add_check"])
    }
}

/// `carry:` on a rebuilt column: the replacement does not inherit the old column's UNIQUE,
/// foreign key or CHECK when the plan says so (issue 17).
@Suite struct CarryOptionTests {
    @Test func aRebuiltColumnCanLeaveItsConstraintsBehind() throws {
        let t = try #require(TableConstraintTests.transition("""
            table: skill_claims
            changes:
              - alter: skill_id
                rename_to: skill
                carry: { unique: false, references: false }
              - alter: level
                type: integer
                up: "level::integer"
                down: "level::smallint"
                carry: { checks: false }
            """))
        let lines = t.carried.map(\.line)
        #expect(lines.contains("index skill_claims_user_id_skill_id_key: dropped — the plan says carry: {unique: false} for skill"), "\(lines)")
        #expect(lines.contains("foreign key skill_claims_skill_id_fkey: dropped — the plan says carry: {references: false} for skill"), "\(lines)")
        #expect(lines.contains("CHECK skill_claims_level_check: dropped — the plan says carry: {checks: false} for level"), "\(lines)")
        let expand = TableConstraintTests.sql(t, .expand).joined(separator: "\n")
        #expect(!expand.contains("FOREIGN KEY") && !expand.contains("UNIQUE") && !expand.contains("CHECK (("), "\(expand)")
        // The plain index on skill_id is not a constraint: still rebuilt.
        #expect(expand.contains("CREATE INDEX CONCURRENTLY"))
    }

    @Test func byDefaultEverythingIsCarried() throws {
        let t = try #require(TableConstraintTests.transition("""
            table: skill_claims
            changes:
              - alter: skill_id
                rename_to: skill
            """))
        let expand = TableConstraintTests.sql(t, .expand).joined(separator: "\n")
        #expect(expand.contains(#"FOREIGN KEY ("skill") REFERENCES skills(id) ON DELETE RESTRICT NOT VALID"#), "\(expand)")
        #expect(t.carried.map(\.line).contains { $0.hasPrefix("index skill_claims_user_id_skill_id_key: recreated") })
    }

    @Test(arguments: [
        ("carry on an in-place change", "  - alter: level\n    not_null: true\n    up: \"coalesce(level, 1)\"\n    carry: { checks: false }\n", "6:12"),
        ("unique and carry unique false", "  - alter: skill_id\n    rename_to: skill\n    unique: true\n    carry: { unique: false }\n", "5:13"),
        ("references and carry references false", "  - alter: skill_id\n    rename_to: skill\n    references: { table: skills, column: id }\n    carry: { references: false }\n", "5:17"),
        ("not a bool", "  - alter: skill_id\n    rename_to: skill\n    carry: { unique: no }\n", "5:22"),
    ] as [(String, String, String)])
    func contradictionsAreLocated(name: String, changes: String, at: String) {
        let findings = check("table: skill_claims\nchanges:\n" + changes).filter { $0.severity == .error }
        #expect(findings.map { "\($0.line):\($0.column)" } == [at], "\(name): \(findings.map(\.description))")
    }
}
