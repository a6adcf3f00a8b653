import Testing
@testable import BellowsSQL

@Suite struct ExpressionCheckTests {
    @Test func wellFormedExpressionsHaveNoProblems() {
        for expression in ["lower(email)", "CASE WHEN a > 0 THEN 'x;y' ELSE NULL END", "(a)::numeric(10, 2)",
                           "arr[1]", "$$;$$ || 'a'", "x /* ; */ + 1", "coalesce(\"Name\", '')"] {
            #expect(ExpressionCheck.problems(in: expression).isEmpty, "\(expression)")
        }
    }

    @Test func emptyExpression() {
        #expect(ExpressionCheck.problems(in: "  -- nothing\n").map(\.message) == ["the expression is empty"])
    }

    @Test func semicolonIsRejected() {
        let problems = ExpressionCheck.problems(in: "lower(x); DROP TABLE t")
        #expect(problems.count == 1)
        #expect(problems[0].message == "';' is not allowed in an expression: write a single expression")
        #expect(problems[0].line == 1 && problems[0].column == 9)
    }

    @Test func unclosedParenthesis() {
        let problems = ExpressionCheck.problems(in: "upper(lower(x)")
        #expect(problems.map(\.message) == ["unbalanced parenthesis: '(' at 1:6 is never closed"])
        #expect(problems[0].column == 6)
    }

    @Test func strayClosingAndMismatchedBrackets() {
        #expect(ExpressionCheck.problems(in: "a)").map(\.message) == ["unbalanced parenthesis: ')' at 1:2 has no matching '('"])
        #expect(ExpressionCheck.problems(in: "f(a]").map(\.message) == ["mismatched bracket: ']' at 1:4 closes '(' at 1:2"])
    }

    @Test func unterminatedQuotesAndComments() {
        #expect(ExpressionCheck.problems(in: "x || 'abc").map(\.message) == ["unterminated string literal starting at 1:6"])
        #expect(ExpressionCheck.problems(in: "x ||\n $q$ abc").map(\.message) == ["unterminated dollar-quoted string $q$ starting at 2:2"])
        #expect(ExpressionCheck.problems(in: "x /* a").map(\.message) == ["unterminated block comment starting at 1:3"])
        #expect(ExpressionCheck.problems(in: "\"abc").map(\.message) == ["unterminated quoted identifier starting at 1:1"])
    }
}
