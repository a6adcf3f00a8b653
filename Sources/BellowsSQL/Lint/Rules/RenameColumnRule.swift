/// `ALTER TABLE … RENAME COLUMN a TO b` on a table running code uses.
public struct RenameColumnRule: LintRule {
    public static let id = "rename-column"
    public static let defaultSeverity = Severity.error
    public static let summary = "Renaming a column of an existing table (running code still uses the old name)"
    public static let remedy = "A Bellows rename plan (expand, dual-write, backfill, contract)."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for (i, s) in file.statements.enumerated() {
            guard let alter = AlterTable(s), file.isExistingTable(alter.table, before: i, context: context) else { continue }
            for action in alter.actions where action.matches("RENAME") {
                guard !action.matches("RENAME", "TO"), !action.matches("RENAME", "CONSTRAINT"),
                      let token = action.significantTokens.first else { continue }
                let k = action.matches("RENAME", "COLUMN") ? 2 : 1
                let old = action[significant: k]?.identifierValue ?? "?"
                let new = action[significant: k + 2]?.identifierValue ?? "?"
                findings.append(finding(file, at: token,
                    "renaming `\(alter.table).\(old)` to `\(new)` breaks every running instance of the application that still reads or writes `\(old)` the moment it commits. Use a Bellows rename plan: add `\(new)`, dual-write and backfill, move the code over, then contract"))
            }
        }
        return findings
    }
}
