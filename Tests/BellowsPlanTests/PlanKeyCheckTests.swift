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
}
