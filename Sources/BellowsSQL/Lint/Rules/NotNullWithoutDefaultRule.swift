/// `ADD COLUMN … NOT NULL` without a default on a table that has rows: it fails.
public struct NotNullWithoutDefaultRule: LintRule {
    public static let id = "not-null-column-without-default"
    public static let defaultSeverity = Severity.error
    public static let summary = "ADD COLUMN … NOT NULL without a DEFAULT on an existing table (fails as soon as the table has rows)"
    public static let remedy = "Add nullable (or with a constant default), backfill, NOT NULL via a validated CHECK."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for (i, s) in file.statements.enumerated() {
            guard let alter = AlterTable(s), file.isExistingTable(alter.table, before: i, context: context) else { continue }
            for action in alter.actions {
                guard case .column(let column, let nameIndex)? = AddAction(action),
                      let notNull = action.indexOf("NOT", "NULL", from: nameIndex + 1), let token = action[significant: notNull],
                      action.indexOf("DEFAULT") == nil, action.indexOf("GENERATED") == nil else { continue }
                if let type = action[significant: nameIndex + 1], type.lower.hasPrefix("serial") || type.lower.hasSuffix("serial") { continue }
                findings.append(finding(file, at: token,
                    "adding NOT NULL column `\(column)` without a default to existing table `\(alter.table)` fails with \"column contains null values\" as soon as the table has a row. Add it nullable (or with a constant DEFAULT), backfill, then add the NOT NULL through a validated CHECK — a Bellows plan does these steps"))
            }
        }
        return findings
    }
}
