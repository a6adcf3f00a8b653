import BellowsSQL
import Testing
@testable import BellowsPlan

/// Expression text that is legal SQL but used to break what Bellows builds around it.
@Suite struct ExpressionInputTests {
    @Test func aNulCharacterIsRejectedWhereItIs() {
        let problems = ExpressionCheck.problems(in: "lower(email) || '\u{0}'")
        #expect(problems.map(\.message) == ["a NUL character (\\u0000) cannot be sent to PostgreSQL"])
        #expect(problems.first?.line == 1 && problems.first?.column == 18)
    }

    @Test func aColumnNamedLikeAKeywordKeepsTheKeyword() {
        let renames = ["at": "_bellows_at"]
        #expect(ExpressionRewriter.renameColumns(in: "at AT TIME ZONE 'UTC'", renames) == #""_bellows_at" AT TIME ZONE 'UTC'"#)
        #expect(ExpressionRewriter.renameColumns(in: "(at at time zone 'UTC')::timestamp", renames) == #"("_bellows_at" at time zone 'UTC')::timestamp"#)
        #expect(ExpressionRewriter.renameColumns(in: "at + interval '1' day", ["at": "x", "day": "y"]) == #""x" + interval '1' day"#)
        #expect(ExpressionRewriter.renameColumns(in: "extract(year FROM at)", ["at": "x", "year": "y"]) == #"extract(year FROM "x")"#)
        #expect(ExpressionRewriter.renameColumns(in: "time '10:00' + zone::interval", ["time": "t", "zone": "z"]) == #"time '10:00' + "z"::interval"#)
        #expect(ExpressionRewriter.renameColumns(in: "at::timestamp with time zone", ["at": "a", "time": "t", "zone": "z"])
                == #""a"::timestamp with time zone"#)
        #expect(ExpressionRewriter.referencedColumns(in: "ts AT TIME ZONE 'UTC'", among: ["at", "time", "zone", "ts"]) == ["ts"])
    }

    @Test func theTriggerBodyDelimiterNeverOccursInTheBody() {
        #expect(PhaseSQL.dollarTag(notIn: "x") == "$bellows$")
        #expect(PhaseSQL.dollarTag(notIn: "'$bellows$'") == "$bellows_2$")
        #expect(PhaseSQL.dollarTag(notIn: "'$bellows$' || $bellows_2$x$bellows_2$") == "$bellows_3$")
    }
}
