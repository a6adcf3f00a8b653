/// `ALTER COLUMN … SET NOT NULL` that makes PostgreSQL scan the table under an ACCESS
/// EXCLUSIVE lock, because no validated `CHECK (col IS NOT NULL)` exists yet.
public struct SetNotNullRule: LintRule {
    public static let id = "set-not-null-without-check"
    public static let defaultSeverity = Severity.error
    public static let summary = "SET NOT NULL on an existing table without a CHECK (col IS NOT NULL) validated in an earlier transaction"

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        var pending: [String: String] = [:]          // table.constraint → column (NOT VALID)
        var nonNullSince: [String: Int] = [:]        // table.column → transaction group
        for (i, s) in file.statements.enumerated() {
            guard let alter = AlterTable(s) else { continue }
            let table = alter.table.name
            let group = file.transactionGroup[i]
            for action in alter.actions {
                if case .constraint(let name, let kind)? = AddAction(action), action.matches(["CHECK"], at: kind),
                   let column = notNullCheckColumn(action, checkIndex: kind) {
                    if action.indexOf("NOT", "VALID") != nil {
                        if let name { pending["\(table).\(name)"] = column }
                    } else {
                        nonNullSince["\(table).\(column)"] = group
                    }
                } else if action.matches("VALIDATE", "CONSTRAINT"), let name = action[significant: 2]?.identifierValue,
                          let column = pending["\(table).\(name)"] {
                    nonNullSince["\(table).\(column)"] = group
                } else if action.matches("ALTER"), let set = action.indexOf("SET", "NOT", "NULL"),
                          let column = alterColumnName(action), let setToken = action[significant: set] {
                    let key = "\(table).\(column)"
                    defer { nonNullSince[key] = group }
                    guard file.isExistingTable(alter.table, before: i, context: context),
                          !context.notNullColumns.contains(key) else { continue }
                    if let since = nonNullSince[key], since != group { continue }
                    let sameTransaction = nonNullSince[key] != nil
                    let why = sameTransaction
                        ? "the CHECK (\(column) IS NOT NULL) is validated in the same transaction (\(file.transactionPhrase(i))), so the ACCESS EXCLUSIVE lock of SET NOT NULL is held together with the validation."
                        : "PostgreSQL scans the whole table `\(alter.table)` under an ACCESS EXCLUSIVE lock to prove no row is NULL, blocking reads and writes."
                    findings.append(finding(file, at: setToken,
                        "SET NOT NULL on `\(alter.table).\(column)`: \(why) Instead add `CHECK (\(column) IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT` it in a later migration, then SET NOT NULL in a later one (PostgreSQL 12+ then skips the scan) — or let a Bellows plan's contract phase do it"))
                }
            }
        }
        return findings
    }
}
