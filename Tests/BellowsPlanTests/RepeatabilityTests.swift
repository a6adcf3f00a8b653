import BellowsSQL
import Testing
@testable import BellowsPlan

/// Issue 17: `up`/`backfill` expressions that give another value when evaluated again are
/// recognised without a database, `check` says what verify does with them, and verify's
/// conditions compare such columns by presence, never with a second evaluation.
@Suite struct RepeatabilityTests {
    @Test func nonRepeatableCallsAndClockKeywordsAreFound() {
        #expect(Repeatability.nonRepeatable(in: "coalesce(seen_on::timestamptz, now())").map(\.lower) == ["now"])
        #expect(Repeatability.nonRepeatable(in: "CURRENT_TIMESTAMP - interval '1 day'").map(\.lower) == ["current_timestamp"])
        #expect(Repeatability.nonRepeatable(in: "pg_catalog.gen_random_uuid()").map(\.lower) == ["gen_random_uuid"])
        #expect(Repeatability.nonRepeatable(in: "floor(random() * 10)::int").map(\.lower) == ["random"])
        // A column named like a clock keyword is read as the column only when quoted; words
        // in strings, and functions that repeat, are no calls.
        #expect(Repeatability.isRepeatable("lower(btrim(\"now\")) || 'random()'"))
        #expect(Repeatability.isRepeatable("t.current_date"))
        // A function the database marks volatile.
        #expect(!Repeatability.isRepeatable("coalesce(colour, pick_colour())", volatile: ["pick_colour"]))
        #expect(Repeatability.calledFunctions(in: "coalesce(colour, \"Pick\"(x), lower(y))") == ["coalesce", "Pick", "lower"])
    }

    @Test func checkSaysHowVerifyTreatsAVolatileUp() {
        let source = """
            table: users
            changes:
              - add: public_id
                type: uuid
                backfill: "gen_random_uuid()"
              - alter: last_login_at
                rename_to: last_seen_at
                up: "coalesce(last_login_at, now())"
                down: "last_seen_at"
            """
        let findings = check(source).filter { $0.rule == "plan-volatile-up" }
        #expect(summary(findings) == ["5:16 plan-volatile-up", "8:34 plan-volatile-up"])
        #expect(findings.allSatisfy { $0.severity == .info })
        #expect(findings.first?.message.contains("gen_random_uuid()") == true)
        #expect(findings.last?.message.contains("filled wherever up gives a value") == true)
    }

    /// The `plan-volatile-default` warning reads calls, not substrings: `my_random()` or
    /// `'random('` in a string are no volatile calls, `uuidv7()` is (it was missed before).
    @Test func aVolatileDefaultIsACallOfAKnownVolatileFunction() {
        func warned(_ expression: String) -> Bool {
            check("""
                table: users
                changes:
                  - add: token
                    type: text
                    default: "\(expression)"
                """).contains { $0.rule == "plan-volatile-default" }
        }
        #expect(warned("gen_random_uuid()::text"))
        #expect(warned("uuidv7()::text"))
        #expect(!warned("my_random()"))
        #expect(!warned("'random(' || 'x'"))
    }

    /// hostile-f 12: an `up` reading the session (`current_user`, a custom setting) was computed
    /// as each writer's value by the trigger and as the operator's by the backfill; verify then
    /// refused the application's rows and `--rescan` overwrote them. `check` refuses it, located.
    @Test func anExpressionReadingTheWritersSessionIsRefused() {
        let source = """
            table: users
            changes:
              - alter: full_name
                rename_to: author_name
                up: "coalesce(full_name, current_user)"
                down: "author_name"
              - add: tenant
                type: integer
                backfill: "current_setting('app.tenant')::integer"
              - alter: last_login_at
                rename_to: last_seen_at
                up: "last_login_at AT TIME ZONE current_setting('TimeZone')"
                down: "last_seen_at"
            """
        let findings = check(source).filter { $0.rule == "plan-session-up" }
        #expect(summary(findings) == ["5:30 plan-session-up", "9:16 plan-session-up"])
        #expect(findings.allSatisfy { $0.severity == .error })
        #expect(findings.first?.message.contains("current_user is the writing session's") == true)
        #expect(Repeatability.sessionDependent(in: "\"user\" || t.current_user", pinned: []).isEmpty)
    }

    @Test func verifyComparesAVolatileTargetByPresence() throws {
        let plan = try #require(PlanLoader.load(file: "plans/010_x.yaml", source: """
            table: users
            changes:
              - alter: last_login_at
                rename_to: last_seen_at
                up: "coalesce(last_login_at, now())"
                down: "last_seen_at"
              - alter: email
                rename_to: email_address
            """).plan)
        let transition = try #require(TransitionCompiler.compile(plan, table: Repository.catalog.table(plan.table.value)).transition)
        let conditions = PhaseSQL(transition).mismatchConditions.map(\.condition)
        #expect(conditions.count == 2)
        #expect(conditions[0] == "(\"last_seen_at\" IS NULL AND (coalesce(last_login_at, now()))::timestamp with time zone IS NOT NULL)")
        // compared by identity: a text column byte by byte (issue 22: no row built per row)
        #expect(conditions[1].hasPrefix("CASE WHEN (\"email_address\" COLLATE \"C\") IS DISTINCT FROM"), "\(conditions[1])")
    }
}
