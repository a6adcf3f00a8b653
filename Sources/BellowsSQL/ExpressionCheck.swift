/// A problem in a SQL expression, positioned within the expression text (1-based).
public struct ExpressionProblem: Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var line: Int
    public var column: Int

    public init(message: String, line: Int, column: Int) {
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column): \(message)" }
}

/// Lexical well-formedness of a single SQL expression, as a plan's `up`, `down` and `check`
/// values must be. This is not a parser: it catches what breaks the SQL a plan is rendered
/// into (a stray `;`, an unclosed parenthesis or quote), and leaves the rest to PostgreSQL
/// during rehearsal.
public enum ExpressionCheck {
    public static func problems(in expression: String) -> [ExpressionProblem] {
        let tokens = Lexer.tokenize(expression)
        guard tokens.contains(where: \.isSignificant) else {
            return [ExpressionProblem(message: "the expression is empty", line: 1, column: 1)]
        }
        var problems: [ExpressionProblem] = []
        var open: [Token] = []
        // PostgreSQL's protocol ends every string at a NUL: the statement sent would be cut there.
        var line = 1, column = 1
        for scalar in expression.unicodeScalars {
            if scalar == "\u{0}" {
                problems.append(ExpressionProblem(message: "a NUL character (\\u0000) cannot be sent to PostgreSQL", line: line, column: column))
            }
            if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
        }

        func at(_ t: Token) -> String { "\(t.line):\(t.column)" }

        for token in tokens {
            if !token.isTerminated {
                let what: String
                switch token.kind {
                case .string: what = "string literal"
                case .quotedIdentifier: what = "quoted identifier"
                case .dollarString: what = "dollar-quoted string \(token.dollarTag ?? "$$")"
                case .comment: what = "block comment"
                default: what = "token"
                }
                problems.append(ExpressionProblem(
                    message: "unterminated \(what) starting at \(at(token))",
                    line: token.line, column: token.column))
                continue
            }
            guard token.kind == .punctuation else { continue }
            switch token.text {
            case ";":
                problems.append(ExpressionProblem(
                    message: "';' is not allowed in an expression: write a single expression",
                    line: token.line, column: token.column))
            case "(", "[":
                open.append(token)
            case ")", "]":
                let expected = token.text == ")" ? "(" : "["
                let noun = token.text == ")" ? "parenthesis" : "bracket"
                if let last = open.last {
                    open.removeLast()
                    if last.text != expected {
                        problems.append(ExpressionProblem(
                            message: "mismatched \(noun): '\(token.text)' at \(at(token)) closes '\(last.text)' at \(at(last))",
                            line: token.line, column: token.column))
                    }
                } else {
                    problems.append(ExpressionProblem(
                        message: "unbalanced \(noun): '\(token.text)' at \(at(token)) has no matching '\(expected)'",
                        line: token.line, column: token.column))
                }
            default:
                break
            }
        }
        for token in open {
            let noun = token.text == "(" ? "parenthesis" : "bracket"
            problems.append(ExpressionProblem(
                message: "unbalanced \(noun): '\(token.text)' at \(at(token)) is never closed",
                line: token.line, column: token.column))
        }
        return problems.sorted { ($0.line, $0.column) < ($1.line, $1.column) }
    }
}
