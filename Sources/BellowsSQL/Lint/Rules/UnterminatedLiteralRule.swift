/// A string, quoted identifier, dollar-quoted body or block comment that never ends.
public struct UnterminatedLiteralRule: LintRule {
    public static let id = "unterminated-literal"
    public static let defaultSeverity = Severity.error
    public static let summary = "An unterminated string, quoted identifier, dollar-quoted string or block comment (swallows the rest of the file)"
    public static let remedy = "Close the literal/comment."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        file.analysis.tokens.filter { !$0.isTerminated }.map { token in
            let what: String
            switch token.kind {
            case .string: what = "string literal"
            case .quotedIdentifier: what = "quoted identifier"
            case .dollarString: what = "dollar-quoted string \(token.dollarTag ?? "$$")"
            case .comment: what = "block comment"
            default: what = "token"
            }
            return finding(file, at: token,
                "unterminated \(what): it runs to the end of the file and swallows every statement after it. Close it")
        }
    }
}
