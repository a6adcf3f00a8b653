/// `ALTER TYPE … ADD VALUE 'x'` and a use of `'x'` in the same transaction.
public struct EnumValueInTransactionRule: LintRule {
    public static let id = "enum-value-in-transaction"
    public static let defaultSeverity = Severity.error
    public static let summary = "An enum value added by ALTER TYPE … ADD VALUE used in the same transaction (\"unsafe use of new value\")"
    public static let remedy = "Add the value in one migration, use it in a later one."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        var added: [(value: String, type: String, group: Int, line: Int)] = []
        for (i, s) in file.statements.enumerated() {
            let group = file.transactionGroup[i]
            if s.matches("ALTER", "TYPE"), let addValue = s.indexOf("ADD", "VALUE") {
                guard file.runsInTransaction[i] else { continue }
                let k = s.skippingModifiers(at: addValue + 2)
                if let value = s[significant: k]?.stringValue {
                    added.append((value, s.qualifiedName(at: 2)?.name.qualified ?? "?", group, s.line))
                }
                continue
            }
            for token in s.significantTokens where token.kind == .string {
                guard let value = token.stringValue,
                      let add = added.first(where: { $0.value == value && $0.group == group }) else { continue }
                findings.append(finding(file, at: token,
                    "enum value '\(value)' is added to `\(add.type)` at line \(add.line) and used here in the same transaction (\(file.transactionPhrase(i))): PostgreSQL rejects this with \"unsafe use of new value\". Add the value in one migration and use it in a later one"))
            }
        }
        return findings
    }
}
