/// `ALTER TABLE … DROP COLUMN` on a table running code uses.
public struct DropColumnRule: LintRule {
    public static let id = "drop-column"
    public static let defaultSeverity = Severity.warning
    public static let summary = "Dropping a column of an existing table (running code that still selects or writes it fails; the data is gone)"
    public static let remedy = "Drop only once no deployed code uses it (contract phase); suppress with a reason."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for (i, s) in file.statements.enumerated() {
            guard let alter = AlterTable(s), file.isExistingTable(alter.table, before: i, context: context) else { continue }
            for action in alter.actions where action.matches("DROP") {
                guard !action.matches("DROP", "CONSTRAINT"), let token = action.significantTokens.first else { continue }
                let k = action.skippingModifiers(at: action.matches("DROP", "COLUMN") ? 2 : 1)
                let column = action[significant: k]?.identifierValue ?? "?"
                findings.append(finding(file, at: token,
                    "dropping `\(alter.table).\(column)` breaks any running code that still reads or writes it, and its data cannot be rolled back. Drop it only after no deployed code uses it (the contract phase of a Bellows plan), and silence this finding with `-- bellows:ignore drop-column` stating why it is safe"))
            }
        }
        return findings
    }
}
