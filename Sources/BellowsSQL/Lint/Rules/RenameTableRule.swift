/// `ALTER TABLE … RENAME TO …` on a table running code uses.
public struct RenameTableRule: LintRule {
    public static let id = "rename-table"
    public static let defaultSeverity = Severity.error
    public static let summary = "Renaming an existing table (running code still uses the old name)"
    public static let remedy = "A Bellows plan with `rename_table_to:` (the new name is a view from expand, contract renames the table, its indexes, constraints and sequences)."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for (i, s) in file.statements.enumerated() {
            guard let alter = AlterTable(s), file.isExistingTable(alter.table, before: i, context: context) else { continue }
            for action in alter.actions where action.matches("RENAME", "TO") {
                guard let token = action.significantTokens.first else { continue }
                let new = action[significant: 2]?.identifierValue ?? "?"
                findings.append(finding(file, at: token,
                    "renaming table `\(alter.table)` to `\(new)` breaks every running instance of the application that still uses `\(alter.table.name)` the moment it commits. Rename in steps with a Bellows plan (`table: \(alter.table.name)`, `rename_table_to: \(new)`): expand makes the new name an updatable view over the table, the code moves over, contract renames the table with its indexes, constraints and sequences"))
            }
        }
        return findings
    }
}
