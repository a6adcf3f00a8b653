/// `VALIDATE CONSTRAINT` in the same transaction as the `ADD CONSTRAINT … NOT VALID`.
public struct ValidateInSameTransactionRule: LintRule {
    public static let id = "validate-in-same-transaction"
    public static let defaultSeverity = Severity.error
    public static let summary = "VALIDATE CONSTRAINT in the same transaction as the ADD CONSTRAINT … NOT VALID it validates (the scan runs under the ADD's strong lock)"
    public static let remedy = "Move `VALIDATE CONSTRAINT` to a later migration."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        var added: [String: (group: Int, line: Int)] = [:]  // table.constraint
        for (i, s) in file.statements.enumerated() {
            guard let alter = AlterTable(s) else { continue }
            let table = alter.table.name
            let group = file.transactionGroup[i]
            for action in alter.actions {
                if case .constraint(let name?, _)? = AddAction(action), action.indexOf("NOT", "VALID") != nil {
                    added["\(table).\(name)"] = (group, action.significantTokens.first?.line ?? s.line)
                } else if action.matches("VALIDATE", "CONSTRAINT"), let name = action[significant: 2]?.identifierValue,
                          let add = added["\(table).\(name)"], add.group == group, let token = action.significantTokens.first,
                          file.isExistingTable(alter.table, before: i, context: context) {
                    findings.append(finding(file, at: token,
                        "constraint `\(name)` is validated in the same transaction that added it NOT VALID (line \(add.line)); \(file.transactionPhrase(i)), so the validation scan runs while the strong lock taken by the ADD is still held and NOT VALID gains nothing. Move VALIDATE CONSTRAINT to a later migration"))
                }
            }
        }
        return findings
    }
}
