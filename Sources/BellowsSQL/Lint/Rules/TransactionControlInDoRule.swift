/// `COMMIT`/`ROLLBACK` inside a `DO` body that runs inside a transaction block.
public struct TransactionControlInDoRule: LintRule {
    public static let id = "transaction-control-in-do"
    public static let defaultSeverity = Severity.error
    public static let summary = "COMMIT or ROLLBACK inside a DO block when the file runs in a transaction (\"invalid transaction termination\")"
    public static let remedy = "Own file with `-- bellows:no-transaction`, or no COMMIT."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for (i, s) in file.statements.enumerated() where s.matches("DO") && file.runsInTransaction[i] {
            guard let body = s.significantTokens.first(where: { $0.kind == .dollarString || $0.kind == .string }),
                  let code = body.stringValue else { continue }
            let inner = Lexer.tokenize(code).filter(\.isSignificant)
            for (k, t) in inner.enumerated() where t.isKeyword("COMMIT") || t.isKeyword("ROLLBACK") {
                // A statement keyword: at the start of the body or after `;`, BEGIN, THEN, ELSE, LOOP.
                let previous = k > 0 ? inner[k - 1] : nil
                guard previous == nil || previous?.isSymbol(";") == true
                        || ["BEGIN", "THEN", "ELSE", "LOOP"].contains(previous?.upper ?? "") else { continue }
                let position: (line: Int, column: Int) = body.kind == .dollarString ? body.sourcePosition(ofInner: t) : (line: body.line, column: body.column)
                let why = file.isTransactional
                    ? "Bellows runs this file in one transaction"
                    : "the DO runs inside an explicit BEGIN … COMMIT"
                findings.append(finding(file, line: position.line, column: position.column,
                    "\(t.upper) inside a DO block fails with \"invalid transaction termination\" when the block runs inside a transaction, and \(why). Put the DO in its own migration file marked `-- bellows:no-transaction` (without BEGIN/COMMIT), or drop the \(t.upper)"))
            }
        }
        return findings
    }
}
