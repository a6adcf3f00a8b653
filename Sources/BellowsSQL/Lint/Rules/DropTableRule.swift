/// `DROP TABLE` of a table running code may use.
public struct DropTableRule: LintRule {
    public static let id = "drop-table"
    public static let defaultSeverity = Severity.warning
    public static let summary = "Dropping an existing table (running code that still uses it fails; the data is gone)"
    public static let remedy = "Drop only once no deployed code uses it; suppress with a reason."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for (i, s) in file.statements.enumerated() where s.matches("DROP", "TABLE") {
            for group in s.topLevelCommaSeparated(from: s.skippingModifiers(at: 2)) {
                let pseudo = SQLStatement(tokens: group, terminator: nil)
                guard let (table, _) = pseudo.qualifiedName(at: 0),
                      file.isExistingTable(table, before: i, context: context) else { continue }
                findings.append(finding(file, at: table.token,
                    "dropping table `\(table)` breaks any running code that still uses it, and its data cannot be rolled back. Drop it only after no deployed code uses it (rename it away first or revoke access to find stragglers), and silence this finding with `-- bellows:ignore drop-table` stating why it is safe"))
            }
        }
        return findings
    }
}
