@testable import BellowsEngine
import BellowsPlan
import Testing

/// Which CHECKs a plan adds the rehearsal can test on the table before the plan, and over
/// which columns (no database: `PlannedCheck` is pure).
struct PlannedCheckTests {
    func checks(_ source: String, existing: Set<String>) throws -> [PlannedCheck] {
        let plan = try #require(PlanLoader.load(file: "plans/001_x.yaml", source: source).plan)
        return PlannedCheck.of(plan, existing: existing)
    }

    @Test func aCheckOverColumnsThePlanLeavesAloneIsTestedAsWritten() throws {
        let found = try checks("""
            table: accounts
            changes:
              - add_check: "closed_on IS NULL OR closed_on >= opened_on"
                name: closed_after_opened
            """, existing: ["id", "opened_on", "closed_on"])
        #expect(found.count == 1)
        #expect(found.first?.name == "closed_after_opened")
        #expect(found.first?.overExisting == "closed_on IS NULL OR closed_on >= opened_on")
        #expect(found.first?.columns == ["opened_on", "closed_on"])
        #expect(found.first?.label == "CHECK closed_after_opened (closed_on IS NULL OR closed_on >= opened_on) at plans/001_x.yaml:3:17")
    }

    @Test func aPlainRenameIsUndoneAColumnTheCheckReadsUnderItsOldName() throws {
        let found = try checks("""
            table: jobs
            changes:
              - alter: opened
                rename_to: started_on
              - add_check: "ended_on IS NULL OR ended_on >= started_on"
            """, existing: ["id", "opened", "ended_on"])
        #expect(found.first?.overExisting == "ended_on IS NULL OR ended_on >= \"opened\"")
        #expect(found.first?.columns == ["opened", "ended_on"])
        #expect(found.first?.name == found.first?.condition)
    }

    @Test(arguments: [
        // A column the plan adds: it exists from expand on only.
        "  - add: priority\n    type: integer\n  - add_check: \"priority IS NULL OR priority <= quota\"\n",
        // A column the plan retypes (its values change type).
        "  - alter: quota\n    type: bigint\n  - add_check: \"quota > 0\"\n",
        // A column renamed and retyped.
        "  - alter: quota\n    rename_to: limit_n\n    type: bigint\n    up: \"quota::bigint\"\n    down: \"limit_n::integer\"\n  - add_check: \"limit_n > 0\"\n",
    ])
    func aCheckOverAColumnThePlanCreatesOrRetypesIsLeftToPostgreSQL(changes: String) throws {
        let found = try checks("table: tasks\nchanges:\n" + changes, existing: ["id", "title", "quota"])
        #expect(found.count == 1)
        #expect(found.first?.overExisting == nil)
        #expect(found.first?.columns == [])
    }

    @Test func aColumnsOwnCheckAcrossColumnsIsTested() throws {
        let found = try checks("""
            table: prices
            changes:
              - alter: price
                check: "price <= max_price"
            """, existing: ["id", "price", "max_price"])
        #expect(found.first?.overExisting == "price <= max_price")
        #expect(found.first?.columns == ["price", "max_price"])
    }
}
