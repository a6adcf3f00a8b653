import BellowsSQL
import Foundation
import Testing
@testable import BellowsPlan

/// Issue 17: `check` rejects, at the key, what would otherwise fail at contract or do nothing.
@Suite struct PlanKeyCheckTests {
    static let schema = MigrationSchema.catalog(fromMigrations: ["""
        CREATE TABLE reviews (id bigint PRIMARY KEY, rating text NOT NULL DEFAULT '0', stars text DEFAULT '1', body text,
                              author_id bigint REFERENCES reviews (id), flag boolean DEFAULT false);
        """])

    static func findings(_ changes: String) -> [String] {
        let source = "table: reviews\nchanges:\n" + changes
        let loaded = PlanLoader.load(file: "plans/010_p.yaml", source: source)
        var findings = loaded.findings
        if let plan = loaded.plan { findings += PlanValidator.validate(plan, catalog: schema) }
        return findings.filter { $0.severity != .info }.map { "\($0.line):\($0.column) \($0.severity) \($0.rule)" }
    }

    /// A default that is no value of the new type: before, check was clean and contract failed.
    @Test func aDefaultThatDoesNotFitTheTypeIsRejected() {
        #expect(Self.findings("""
              - alter: rating
                type: integer
                up: "CAST(rating AS integer)"
                down: "rating::text"
                default: "'abc'"
            """) == ["7:15 error plan-default-type"])
        #expect(Self.findings("""
              - alter: rating
                type: integer
                up: "CAST(rating AS integer)"
                down: "rating::text"
                default: "'0'::text"
            """) == ["7:15 error plan-default-type"])
        #expect(Self.findings("""
              - alter: flag
                default: "1"
            """) == ["4:15 error plan-default-type"])
        // Fits: a number, a quoted number, NULL.
        for value in ["\"0\"", "\"'12'\"", "\"NULL\"", "\"-3\""] {
            #expect(Self.findings("""
                  - alter: rating
                    type: integer
                    up: "CAST(rating AS integer)"
                    down: "rating::text"
                    default: \(value)
                """) == [], "\(value)")
        }
    }

    /// hostile-g 04: a replaced column with a default, copy strategy without versioned schemas:
    /// new code's explicit NULL becomes the default until contract, which check says (info) at
    /// the change; not with versioned schemas (the trigger knows the new version's writes),
    /// nor for a column without a default.
    @Test func aReplacedColumnWithADefaultSaysNewCodesNullBecomesIt() {
        func infos(_ source: String) -> [String] {
            let loaded = PlanLoader.load(file: "plans/010_p.yaml", source: source)
            guard let plan = loaded.plan else { return ["not loaded"] }
            return PlanValidator.validate(plan, catalog: Self.schema).filter { $0.rule == "plan-null-becomes-default" }
                .map { "\($0.line):\($0.column) \($0.severity)" }
        }
        #expect(infos("table: reviews\nchanges:\n  - alter: stars\n    rename_to: score\n") == ["3:12 info"])
        #expect(infos("table: reviews\nversioned_schemas: true\nchanges:\n  - alter: stars\n    rename_to: score\n") == [])
        #expect(infos("table: reviews\nchanges:\n  - alter: body\n    rename_to: text\n") == [])
    }

    /// The replaced column's default cannot be converted when `up` reads other columns: the
    /// plan must say what the new column's default is.
    @Test func anUnconvertibleCarriedDefaultMustBeStated() {
        #expect(Self.findings("""
              - alter: stars
                type: integer
                up: "CAST(coalesce(stars, body) AS integer)"
                down: "stars::text"
            """) == ["4:11 error plan-default-type"])
        #expect(Self.findings("""
              - alter: stars
                type: integer
                up: "CAST(coalesce(stars, body) AS integer)"
                down: "stars::text"
                drop_default: true
            """) == [])
    }

    /// Keys that did nothing: each is now refused at the key.
    @Test func keysThatWouldDoNothingAreRejected() {
        #expect(Self.findings("""
              - alter: rating
                default: "'1'"
                drop_default: true
            """) == ["5:19 error plan-no-effect"])
        #expect(Self.findings("""
              - add: score
                type: integer
                drop_default: true
            """) == ["5:19 error plan-no-effect"])
        #expect(Self.findings("""
              - alter: body
                up: "btrim(body)"
                down: "body"
            """) == ["5:12 error plan-unused-down"])
        // Another foreign key on a column that has one is not replaced in place.
        #expect(Self.findings("""
              - alter: author_id
                references: { table: users, column: id }
            """) == ["4:17 error plan-no-effect"])
        #expect(Self.findings("""
              - alter: author_id
                references: { table: reviews, column: id }
            """) == [])
        // unique: false on a column without a unique index of its own: a warning; on the key: an error.
        #expect(Self.findings("""
              - alter: body
                unique: false
            """) == ["4:13 warning plan-no-effect"])
        #expect(Self.findings("""
              - alter: id
                unique: false
            """) == ["4:13 error plan-no-effect"])
    }

    /// `comment: null` loads (it was a type error) and renders the comment's removal.
    @Test func commentNullLoadsAndRendersItsRemoval() throws {
        let source = "table: reviews\nchanges:\n  - alter: body\n    comment: null\n"
        let loaded = PlanLoader.load(file: "plans/010_p.yaml", source: source)
        #expect(loaded.findings.isEmpty, "\(loaded.findings)")
        let plan = try #require(loaded.plan)
        let transition = try #require(TransitionCompiler.compile(plan, table: Self.schema.table(plan.table.value)).transition)
        #expect(PhaseSQL(transition).contract.map(\.sql).contains("COMMENT ON COLUMN \"public\".\"reviews\".\"body\" IS NULL"))
    }

    /// The default each changed column has after contract, and check's findings.
    static func defaults(_ changes: String, schema: String) throws -> (defaults: [String: String], findings: [String]) {
        let catalog = MigrationSchema.catalog(fromMigrations: [schema])
        let loaded = PlanLoader.load(file: "plans/011_p.yaml", source: "table: prices\nchanges:\n" + changes)
        let plan = try #require(loaded.plan)
        let findings = PlanValidator.validate(plan, catalog: catalog).filter { $0.severity == .error }.map { "\($0.line):\($0.column) \($0.rule)" }
        var defaults: [String: String] = [:]
        for target in TransitionCompiler.compile(plan, table: catalog.table(plan.table.value)).transition?.allTargets ?? [] {
            if case .set(let value)? = target.defaultAtContract { defaults[target.final] = value }
        }
        return (defaults, findings)
    }

    static let prices = "CREATE TABLE prices (id bigint PRIMARY KEY, cents numeric(12,2) NOT NULL DEFAULT 500, fee numeric(12,2) DEFAULT 250, n bigint DEFAULT nextval('s'), code text DEFAULT 'ABC');"

    /// hostile-d 02: an `up` that changes values converts the default also without a type change
    /// (rename + up, in place); before, the old unit (500) stayed the default after contract.
    @Test func aDefaultGoesThroughAnUpThatChangesValuesWithoutATypeChange() throws {
        let renamed = try Self.defaults("  - alter: cents\n    rename_to: euros\n    up: \"cents / 100\"\n    down: \"euros * 100\"\n", schema: Self.prices)
        #expect(renamed.findings == [])
        #expect(renamed.defaults == ["euros": "(500)::numeric(12,2) / 100"])
        let inPlace = try Self.defaults("  - alter: fee\n    up: \"CASE WHEN fee >= 100 THEN fee / 100 ELSE fee END\"\n", schema: Self.prices)
        #expect(inPlace.defaults == ["fee": "CASE WHEN (250)::numeric(12,2) >= 100 THEN (250)::numeric(12,2) / 100 ELSE (250)::numeric(12,2) END"])
        // The identity (a plain rename, or `up` naming the column) keeps it as it is; in place nothing is set.
        #expect(try Self.defaults("  - alter: cents\n    rename_to: euros\n", schema: Self.prices).defaults == ["euros": "500"])
        let label = try Self.defaults("  - alter: code\n    rename_to: label\n    up: \"(code)\"\n", schema: Self.prices)
        #expect(label.defaults == ["label": "'ABC'::text"], "\(label)")
        #expect(try Self.defaults("  - alter: code\n    not_null: true\n    up: code\n", schema: Self.prices).defaults == [:])
        // A default stated by the plan wins.
        #expect(try Self.defaults("  - alter: code\n    up: lower(code)\n    default: \"'abc'\"\n", schema: Self.prices).defaults == ["code": "'abc'"])
        #expect(try Self.defaults("  - alter: code\n    up: lower(code)\n", schema: Self.prices).defaults == ["code": "lower(('ABC'::text))"])
    }

    /// hostile-d 23: a default that may vary (`nextval`) converted through an `up` reading the
    /// column twice ran twice per insert after contract (102, 104, …): refused, the plan states it.
    @Test func aVolatileDefaultIsNotRunTwicePerInsert() throws {
        let twice = try Self.defaults("  - alter: n\n    up: \"CASE WHEN n > 0 THEN n ELSE 0 END\"\n", schema: Self.prices)
        #expect(twice.findings == ["3:12 plan-default-type"])
        let once = try Self.defaults("  - alter: n\n    rename_to: m\n    up: \"n + 1\"\n    down: \"m - 1\"\n", schema: Self.prices)
        #expect(once.findings == [] && once.defaults == ["m": "(nextval('s'))::bigint + 1"])
        let stated = try Self.defaults("  - alter: n\n    up: \"CASE WHEN n > 0 THEN n ELSE 0 END\"\n    drop_default: true\n", schema: Self.prices)
        #expect(stated.findings == [])
        // A default reading nothing that varies may be run twice.
        let code = try Self.defaults("  - alter: code\n    up: \"CASE WHEN code = '' THEN NULL ELSE code END\"\n", schema: Self.prices)
        #expect(code.findings == [])
    }

    /// Without a type change, an `up` reading another column cannot convert the default either.
    @Test func aDefaultPastAnUpReadingOtherColumnsMustBeStated() throws {
        let other = try Self.defaults("  - alter: cents\n    rename_to: euros\n    up: \"cents / 100 + fee\"\n    down: \"euros * 100\"\n", schema: Self.prices)
        #expect(other.findings == ["3:12 plan-default-type"])
    }
}
